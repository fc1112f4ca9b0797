"""Batches on a Ray cluster (``talk batch --ray``): the same items, renders and statuses as ``run_batch``.

The driver (the machine running ``talk batch``) plans the items, checks their
paths, skips delivered ones and shows the table; the cluster's workers render.
Each worker is an actor that loads the models once and renders items one at a
time with ``_attempt``, the very function the local batch calls, so a render
on Ray is the same code as a render in the driver's process.

Inputs, outputs and job folders must be on storage every node sees under the
same absolute path (a shared file system): only paths travel to the workers,
never file contents. A worker that dies mid-item (killed, out of memory, its
node lost) leaves nothing at the item's output (delivery is atomic); the item
goes back to the queue on a fresh worker, where the render resumes from its
job folder, at most ``retries`` times, then it is reported failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from talkcli.events import Event, StageProgress
from talkcli.job import Models
from talkcli.jobs.batch import BatchItem, _attempt, skip_delivered
from talkcli.jobs.ray_cluster import absolute, check_address, connected, import_ray

RETRIES = 2  # a dead worker's item is tried again this many times, each on a fresh worker
POLL_S = 0.25  # how often workers post frame progress, and the driver reads it


def check_shared(items: list[BatchItem], on_item: Callable[[int, BatchItem], None]) -> None:
    """Make every pending item's paths absolute; fail those whose inputs or output folder the driver cannot reach.

    Workers see only paths, so an item must name files on storage every node
    sees; what the driver cannot read or write, no worker will either.
    """
    for i, item in enumerate(items):
        if item.status != "pending":
            continue
        item.ref, item.audio, item.out = absolute(item.ref), absolute(item.audio), absolute(item.out)
        item.transcript = absolute(item.transcript)
        problem = None
        for kind, path in (("photo", item.ref), ("audio", item.audio), ("transcript", item.transcript)):
            if path is not None and not path.is_file():
                problem = f"{kind} not found: {path}"
                break
        if problem is None and not item.out.parent.is_dir():
            problem = f"output folder does not exist: {item.out.parent}"
        elif problem is None and not os.access(item.out.parent, os.W_OK | os.X_OK):
            problem = f"output folder is not writable: {item.out.parent}"
        if problem:
            item.status, item.message = "failed", problem + " (--ray: inputs and outputs must be on storage every node sees)"
            on_item(i, item)


class Board:
    """Where one run's workers post what the driver shows (a tiny actor, no CPU of its own): each
    item's latest render progress and the worker (host:pid) rendering it.

    The workers render with one task at a time (``max_concurrency=1``): a threaded actor, which
    answering progress calls during a render needs, made every render about 50% slower (10 items
    of 10 s on 2 CPUs: 15.0-15.6 s against 9.4-9.8 s; plain Python threads cost nothing, so it
    is Ray's). Posting costs the render one non-blocking call a quarter second.
    """

    def __init__(self) -> None:
        self._posts: dict[int, tuple[str, Event]] = {}

    def post(self, index: int, where: str, event: Event) -> None:
        self._posts[index] = (where, event)

    def take(self) -> dict[int, tuple[str, Event]]:
        posts, self._posts = self._posts, {}
        return posts


class Renderer:
    """A worker: models loaded once; renders one item at a time, posting its progress to the board."""

    def __init__(self, board) -> None:
        self.models = Models()
        self.board = board
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def render(self, index: int, item: BatchItem, preset, flags, job_file, overwrite: bool) -> tuple[int, str, str]:
        last = [0.0]

        def on_event(event: Event) -> None:
            now = time.monotonic()
            if isinstance(event, StageProgress) and event.stage == "render" and now - last[0] >= POLL_S:
                last[0] = now
                self.board.post.remote(index, self.where, event)

        self.board.post.remote(index, self.where, StageProgress("render", 0, 0))
        return _attempt(index, item, preset, flags, job_file, overwrite, on_event, self.models)


@dataclasses.dataclass
class _Slot:
    actor: Any
    index: int | None = None  # the item it renders
    job: Any = None  # the render's ObjectRef


def run_batch_ray(
    items: list[BatchItem],
    *,
    address: str,
    preset: str | None,
    flags: dict[str, Any],
    job_file: Path | None,
    overwrite: bool,
    workers: int | None,
    on_item: Callable[[int, BatchItem], None],
    on_event: Callable[[int, Event], None],
    retries: int = RETRIES,
) -> list[BatchItem]:
    """Render every pending item on Ray workers; same callbacks and statuses as ``run_batch``.

    ``workers`` caps how many actors render at once (default: the cluster's CPUs).
    """
    import_ray()
    check_address(address)
    skip_delivered(items, overwrite, on_item)
    check_shared(items, on_item)
    job_file = absolute(job_file)
    todo = deque(i for i, item in enumerate(items) if item.status == "pending")
    if not todo:
        return items
    for i in todo:
        items[i].status = "queued"
        on_item(i, items[i])
    with connected(address) as ray:
        board = ray.remote(num_cpus=0)(Board).remote()
        remote = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=1)(Renderer)
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        slots = [_Slot(remote.remote(board)) for _ in range(min(n, len(todo)))]
        polls = [None, 0.0]  # the outstanding board.take(), and when it was asked
        tries = dict.fromkeys(todo, 0)
        args = (preset, flags, job_file, overwrite)
        try:
            while todo or any(s.job is not None for s in slots):
                for slot in slots:
                    if slot.job is None and todo:
                        i = todo.popleft()
                        tries[i] += 1
                        slot.index, slot.job = i, slot.actor.render.remote(i, items[i], *args)
                        items[i].status = "running"
                        on_item(i, items[i])
                _wait(ray, slots, items, on_item, on_event, todo, tries, retries, lambda: remote.remote(board), board, polls)
        finally:
            for slot in slots:
                ray.kill(slot.actor)
            ray.kill(board)
    return items


def _wait(ray, slots, items, on_item, on_event, todo, tries, retries, new_actor, board, polls) -> None:
    """Wait up to POLL_S for a render to end or the board to answer, and act on what came."""
    if polls[0] is None and time.monotonic() - polls[1] >= POLL_S:  # the board answers at once: ask it 4 times a second
        polls[0], polls[1] = board.take.remote(), time.monotonic()
    refs = [r for r in (polls[0], *(s.job for s in slots)) if r is not None]
    if not refs:
        return
    ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, polls[1] + POLL_S - time.monotonic()) if polls[0] is None else POLL_S)
    ready = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0]) | set(ready)
    if polls[0] in ready:
        running = {s.index for s in slots if s.job is not None}
        for index, (where, event) in ray.get(polls[0]).items():
            if index in running:
                items[index].worker = where
                if event.total:
                    on_event(index, event)
        polls[0] = None
    for slot in slots:
        if slot.job in ready:
            _finished(ray, slot, items, on_item, todo, tries, retries, new_actor)


def _finished(ray, slot, items, on_item, todo, tries, retries, new_actor) -> None:
    """A render's ObjectRef came back: the item is done or failed, or its worker died (retry)."""
    job, i = slot.job, slot.index
    slot.job = slot.index = None
    try:
        _, status, message = ray.get(job)
    except ray.exceptions.RayActorError as exc:
        ray.kill(slot.actor)  # a dead actor, or one its node lost: never used again
        slot.actor = new_actor()
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if tries[i] <= retries:
            todo.appendleft(i)
            status, message = "queued", f"worker died (try {tries[i]} of {retries + 1}); trying again on a fresh worker"
        else:
            status, message = "failed", f"worker died {tries[i]} time(s) rendering this item: {reason}"
    except ray.exceptions.RayError as exc:  # e.g. the item could not be sent or received
        status, message = "failed", f"Ray error: {type(exc).__name__}: {exc}"
    items[i].status, items[i].message = status, message
    on_item(i, items[i])
