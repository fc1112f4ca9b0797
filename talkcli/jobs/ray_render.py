"""One long render across a Ray cluster (``talk render ... --ray ADDRESS``).

The driver (the machine running ``talk render``) runs the cheap passes: it
decodes the audio, finds the phones and runs the motion over the whole video,
recording the motion state at the start of every pending segment. The
segments are then rendered as parallel tasks on the cluster's workers, each
starting from its recorded state, exactly as a resumed job would start there;
the driver records each finished segment in the manifest as it comes back and
joins them as usual. So the result is frame for frame the local render (a test
compares the H.264 streams), and a job interrupted anywhere resumes, locally
or on Ray.

Inputs, the job folder and the output must be on storage every node sees
under the same absolute path: workers read the photo and audio themselves and
write their segment files straight into the job folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from talkcli.config.settings import Settings
from talkcli.errors import UsageError
from talkcli.events import EventCallback, Notice, StageProgress, StageStarted
from talkcli.job import Models, RenderJob
from talkcli.jobs.manifest import Manifest

RETRIES = 2  # a segment whose worker died is tried again this many times


def check_ray_job(job: RenderJob, settings: Settings) -> None:
    """What ``--ray`` cannot do, refused before any work."""
    if str(job.out) == "-":
        raise UsageError("--ray renders segments on other machines; it cannot write to standard output", hint="give an output file on shared storage")
    if settings.enhance.method != "none":
        raise UsageError("--ray does not run --enhance yet", hint="render without --enhance, or without --ray")


def boundary_states(motion, manifest: Manifest) -> dict[int, dict[str, Any]]:
    """The motion state at the start of every pending segment, from running the driver's
    ``motion`` stream (started at the first pending segment) over all the pending blocks."""
    first = manifest.first_pending()
    states = {first: manifest.state_before(first)}
    for k in range(first, len(manifest.segments)):
        if k > first:
            states[k] = motion.state_dict()
        for index in manifest.blocks_of(k):
            motion.next_block(index)
    return states


class SegmentRenderer:
    """A worker: loads the models once, prepares a job's face and speech once, renders segments."""

    def __init__(self) -> None:
        self.models = Models()
        self._key = None
        self._prepared = None
        self._scratch = None

    def _prepare(self, job: RenderJob, settings: Settings):
        import tempfile

        from talkcli.events import ignore_events
        from talkcli.pipeline import prepare

        key = (str(job.ref), str(job.audio), tuple(map(str, job.extra_refs)), repr(settings.as_dict()))
        if key != self._key:
            self._scratch = tempfile.TemporaryDirectory(prefix="talk-ray-")
            self._prepared = prepare(job, settings, self.models, Path(self._scratch.name), ignore_events)
            self._key = key
        return self._prepared

    def render(self, job: RenderJob, settings: Settings, transcript: str | None, device: str, threads: int,
               blocks: range, state: dict | None, path: str) -> tuple[str, dict]:
        """Render ``blocks`` from motion ``state`` into the H.264 file ``path``: (sha256, state at
        the end)."""
        from talkcli.events import ignore_events
        from talkcli.files import sha256_file
        from talkcli.pipeline import build_chain, encode_segment
        from talkcli.timing import Clock

        prepared = self._prepare(job, settings)
        chain, _ = build_chain(prepared, settings, self.models, device, state, transcript, None, Clock(), ignore_events)
        encode_segment(chain, blocks, Path(path), settings, threads, lambda n: None)
        return sha256_file(Path(path)), chain.motion.state_dict()


def render_segments_ray(address: str, job: RenderJob, settings: Settings, transcript: str | None, device: str,
                        threads: int, motion, manifest: Manifest, job_dir: Path, on_event: EventCallback,
                        workers: int | None = None) -> float | None:
    """Render every pending segment on the cluster at ``address``; returns when the first
    segment came back (``time.perf_counter``), None if none was pending."""
    from talkcli.jobs.ray_cluster import connected

    total = manifest.identity.plan["n_frames"]
    states = boundary_states(motion, manifest)
    pending = list(range(manifest.first_pending(), len(manifest.segments)))
    done = manifest.first_frame_of(manifest.first_pending())
    on_event(StageStarted("render", total=total, unit="frames"))
    on_event(StageProgress("render", done, total))
    if not pending:
        return None
    job = _absolute(job)
    first_back = None
    with connected(address) as ray:
        import secrets

        n = max(1, min(len(pending), workers or int(ray.cluster_resources().get("CPU", 1))))
        prefix = f"talk-segments-{secrets.token_hex(4)}"  # the workers' names, for `ray list actors`
        on_event(Notice("info", f"rendering {len(pending)} segments on {n} Ray worker(s) ({prefix}-N)"))
        # One task at a time: a threaded actor made every render about 50% slower (see ray_batch.Board).
        actor = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=1)(SegmentRenderer)
        spawned = iter(range(1 << 30))
        new_worker = lambda: actor.options(name=f"{prefix}-{next(spawned)}").remote()  # noqa: E731
        pool = [new_worker() for _ in range(n)]
        queue = list(pending)
        tries: dict[int, int] = {}
        running: dict[Any, tuple[int, Any]] = {}

        def submit(worker) -> None:
            k = queue.pop(0)
            path = str(job_dir.resolve() / manifest.segment_file(k))
            ref = worker.render.remote(job, settings, transcript, device, threads, manifest.blocks_of(k), states[k], path)
            running[ref] = (k, worker)

        for worker in pool:
            if queue:
                submit(worker)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            k, worker = running.pop(ready[0])
            try:
                sha, state_end = ray.get(ready[0])
            except ray.exceptions.RayActorError as exc:  # the worker died: a fresh one takes the segment again
                tries[k] = tries.get(k, 0) + 1
                if tries[k] > RETRIES:
                    from talkcli.errors import TalkError

                    raise TalkError(f"segment {k}: its Ray worker died {tries[k]} time(s)",
                                    hint="the job resumes from its finished segments: run the same command again") from exc  # fmt: skip
                on_event(Notice("warning", f"segment {k}: Ray worker died; rendering it again on a fresh one"))
                queue.insert(0, k)
                worker = new_worker()
            else:
                expected = states.get(k + 1)
                if expected is not None and expected != state_end:
                    raise RuntimeError(f"segment {k} ended in another motion state than the driver's motion pass")
                manifest.mark_done(k, manifest.segment_file(k), state_end, sha)
                first_back = first_back or time.perf_counter()
                done += manifest.segments[k].n_frames
                on_event(StageProgress("render", done, total))
            if queue:
                submit(worker)
    return first_back


def _absolute(job: RenderJob) -> RenderJob:
    import dataclasses

    from talkcli.jobs.ray_cluster import absolute

    return dataclasses.replace(job, ref=absolute(job.ref), audio=absolute(job.audio), transcript=absolute(job.transcript),
                               extra_refs=tuple(absolute(p) for p in job.extra_refs))  # fmt: skip
