"""The job manifest: what a render is made of, how far it got, and what it needs to go on.

``manifest.json`` in the job directory records the sha256 of every input, the
effective settings with where each value came from, tool versions, the seed,
and the segments of the video with their status and the motion state at each
finished segment's end. It is written atomically after every segment, and it
carries a checksum of its own content so an edited or damaged manifest is
refused instead of silently producing a different video.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkcli.errors import TalkError, ExitCode
from talkcli.files import write_json_atomic

MANIFEST = "manifest.json"
LOCK = "lock"
FORMAT_VERSION = 1


class JobError(TalkError):
    """The job directory cannot be used as it is (corrupt manifest, changed inputs)."""

    exit_code = ExitCode.USAGE


class JobLocked(TalkError):
    """Another process is rendering this job."""

    exit_code = ExitCode.BUSY


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Segment:
    """One segment of the video: frames ``first_frame`` .. ``first_frame + n_frames - 1``.

    A finished segment (``status`` "done") names its video ``file`` in the job directory,
    that file's ``sha256`` and the motion state at its end (``state_end``, the driver's
    ``state_dict``), from which the next segment starts.
    """

    index: int
    first_frame: int
    n_frames: int
    status: str = "pending"  # pending | done
    file: str | None = None
    state_end: dict[str, Any] | None = None
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"index": self.index, "first_frame": self.first_frame, "n_frames": self.n_frames, "status": self.status}
        if self.status == "done":
            out |= {"file": self.file, "state_end": self.state_end, "sha256": self.sha256}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Segment":
        return cls(int(data["index"]), int(data["first_frame"]), int(data["n_frames"]), str(data["status"]),
                   data.get("file"), data.get("state_end"), data.get("sha256"))  # fmt: skip


@dataclass(frozen=True)
class JobIdentity:
    """What makes two renders the same job: inputs (role -> path and sha256), every setting
    with its source, tool versions, the seed and the frame plan. A job resumes only when its
    identity is unchanged."""

    inputs: dict[str, dict[str, str]]
    config: dict[str, dict[str, Any]]
    versions: dict[str, str]
    seed: int
    plan: dict[str, Any]
    format: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "inputs": self.inputs, "config": self.config, "versions": self.versions,
                "seed": self.seed, "plan": self.plan}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "JobIdentity":
        return cls(data["inputs"], data["config"], data["versions"], data["seed"], data["plan"], data["format"])

    def changes_from(self, old: "JobIdentity") -> list[str]:
        """What differs from ``old`` (the recorded identity of a job), readable."""
        changes = []
        for name, entry in self.inputs.items():
            before = old.inputs.get(name)
            if before is None:
                changes.append(f"{name} added")
            elif before["sha256"] != entry["sha256"]:
                changes.append(f"{name} {entry['path']} changed (sha256 {before['sha256'][:12]} -> {entry['sha256'][:12]})")
        changes += [f"{name} removed" for name in old.inputs if name not in self.inputs]
        for key, entry in self.config.items():
            before = old.config.get(key)
            if before is None or before["value"] != entry["value"]:
                changes.append(f"{key} {before['value'] if before else 'unset'!r} -> {entry['value']!r}")
        for key in ("plan", "versions"):
            mine, theirs = getattr(self, key), getattr(old, key)
            if mine != theirs:
                diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
                changes.append(f"{key} changed: " + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diff.items()))
        return changes


@dataclass
class Manifest:
    """The job's record, as typed values; ``save`` writes it atomically with its checksum."""

    path: Path
    identity: JobIdentity
    segments: list[Segment]
    output: str
    status: str = "rendering"  # rendering | complete
    output_sha256: str | None = None

    @classmethod
    def load(cls, job_dir: Path) -> "Manifest | None":
        """The manifest in ``job_dir``, None if there is none; JobError if it is damaged or edited."""
        path = job_dir / MANIFEST
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            checksum = raw.pop("checksum")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, AttributeError, TypeError) as exc:
            raise JobError(f"job manifest {path} is damaged ({type(exc).__name__})", hint="start over with --fresh") from exc
        if checksum != _checksum(raw):
            raise JobError(f"job manifest {path} was modified outside talk (checksum mismatch)", hint="start over with --fresh")
        if raw.get("format") != FORMAT_VERSION:
            raise JobError(f"job manifest {path} has format {raw.get('format')}, this talk writes {FORMAT_VERSION}", hint="start over with --fresh")
        try:
            return cls(path, JobIdentity.from_json(raw), [Segment.from_json(s) for s in raw["segments"]],
                       str(raw["output"]), str(raw["status"]), raw.get("output_sha256"))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise JobError(f"job manifest {path} is damaged ({type(exc).__name__}: {exc})", hint="start over with --fresh") from exc

    def to_json(self) -> dict[str, Any]:
        body = self.identity.to_json() | {
            "segments": [s.to_json() for s in self.segments], "status": self.status, "output": self.output,
        }  # fmt: skip
        if self.output_sha256 is not None:
            body["output_sha256"] = self.output_sha256
        return body

    def save(self) -> None:
        """Write the manifest atomically; OutputError (exit 5) when the disk refuses it."""
        body = self.to_json()
        body["checksum"] = _checksum(self.to_json())
        try:
            write_json_atomic(self.path, body)
        except OSError as exc:
            from talkcli.errors import OutputError

            raise OutputError(f"cannot write the job manifest {self.path}: {exc.strerror or exc}",
                              hint="free some space (or fix the folder's permissions); the job resumes from its last saved segment") from None

    # -- segments ---------------------------------------------------------------

    def first_pending(self) -> int:
        for seg in self.segments:
            if seg.status != "done":
                return seg.index
        return len(self.segments)

    def first_frame_of(self, index: int) -> int:
        """First frame of segment ``index``; the frame count past the last segment."""
        if index < len(self.segments):
            return self.segments[index].first_frame
        last = self.segments[-1]
        return last.first_frame + last.n_frames

    def blocks_of(self, index: int) -> range:
        """The motion blocks of segment ``index``: runs of ``blocks_per_segment`` whole blocks."""
        plan = self.identity.plan
        per_segment = plan["blocks_per_segment"]
        n_blocks = -(-plan["n_frames"] // plan["frames_per_block"])
        return range(index * per_segment, min(n_blocks, (index + 1) * per_segment))

    @staticmethod
    def segment_file(index: int) -> str:
        """The name of segment ``index``'s video in the job directory."""
        return f"segment_{index:05d}.mp4"

    def state_before(self, index: int) -> dict[str, Any] | None:
        """Motion state at the start of segment ``index`` (None for the first)."""
        return None if index == 0 else self.segments[index - 1].state_end

    def mark_done(self, index: int, file: str, state_end: dict[str, Any], sha256: str) -> None:
        seg = self.segments[index]
        seg.status, seg.file, seg.state_end, seg.sha256 = "done", file, state_end, sha256
        self.save()


class JobLock:
    """An exclusive, non-blocking lock on the job directory (released when the process dies)."""

    def __init__(self, job_dir: Path) -> None:
        self.path = job_dir / LOCK
        self._fd: int | None = None

    def __enter__(self) -> "JobLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise JobLocked(
                f"job {self.path.parent} is being rendered by another process (pid {holder})",
                hint="wait for it to finish, or stop it; the job resumes afterwards",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
