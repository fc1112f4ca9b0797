"""Where talk's data files are: ``presets/*.toml`` and ``models/registry.toml``.

In a source checkout (and an editable install) they sit beside the package, in
the repository's ``presets/`` and ``models/`` folders. A wheel installs copies
under ``<prefix>/share/talkcli/`` (``[tool.setuptools] data-files`` in
pyproject.toml). The checkout wins when both exist, so an edited preset takes
effect without reinstalling.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def data_path(*parts: str) -> Path:
    """The path of a data file or folder, e.g. ``data_path("presets")``.

    The checkout's copy when it exists, else the installed one (which may not exist either:
    callers report a missing file with their own hint)."""
    local = _CHECKOUT.joinpath(*parts)
    if local.exists():
        return local
    return Path(sysconfig.get_path("data")).joinpath("share", "talkcli", *parts)
