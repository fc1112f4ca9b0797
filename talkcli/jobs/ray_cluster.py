"""Connecting to a Ray cluster, for ``talk batch --ray`` and ``talk render --ray``.

``ray`` is an optional extra (``talkcli[ray]``); without it, ``--ray`` fails
with exit 6 and the install command.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from talkcli.errors import EnvironmentProblem, UsageError

RAY_INSTALL = "pip install 'talkcli[ray]'"


def absolute(path):
    """``path`` as an absolute ``Path`` (symlinks kept), None as None: workers on other nodes
    see only paths, never the driver's working folder."""
    from pathlib import Path

    return None if path is None else Path(os.path.abspath(path))


def import_ray():
    """The ``ray`` module, or EnvironmentProblem (exit 6) naming the install command."""
    try:
        import ray
    except ImportError:
        raise EnvironmentProblem("--ray needs Ray, which is not installed", hint=f"install it: {RAY_INSTALL}") from None
    return ray


def check_address(address: str) -> str:
    """``local``, ``auto`` or ``ray://host:port``; UsageError otherwise."""
    if address in ("local", "auto") or (address.startswith("ray://") and len(address) > len("ray://")):
        return address
    raise UsageError(f"--ray {address!r}: not a cluster address", hint="use --ray local (start one here), --ray auto (the cluster this machine belongs to) or --ray ray://HOST:10001")


@contextlib.contextmanager
def connected(address: str):
    """Ray connected to ``address`` for the ``with`` block.

    ``local`` starts a cluster on this machine for the run (stopped after it),
    with token authentication off unless RAY_AUTH_MODE says otherwise: it is
    this run's own, short-lived cluster, and its workers run at normal priority
    (Ray's default niceness for workers is 15). ``auto`` joins the cluster this
    machine belongs to (``ray start``), ``ray://host:port`` a remote one
    through Ray Client. A process already connected to Ray (a program using
    the library, a test) keeps its connection, whatever ``address`` says.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    import logging

    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    saved = os.environ.get("RAY_AUTH_MODE")
    if address == "local":
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        # Ray runs its workers at niceness 15 under everything else on the machine, its own agents
        # included; on this run's own cluster the workers are the point (6 clips: 13 s -> 10 s).
        kwargs |= {"include_dashboard": False, "_system_config": {"worker_niceness": 0}}
    else:
        kwargs["address"] = address
    try:
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EnvironmentProblem(f"cannot connect to the Ray cluster at {address}: {exc}".splitlines()[0],
                                     hint="start one with `ray start --head`, or use --ray local") from None  # fmt: skip
        yield ray
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
