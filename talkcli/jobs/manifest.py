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
class Manifest:
    """In-memory manifest; ``data`` is the JSON body without its checksum."""

    path: Path
    data: dict[str, Any]

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
        return cls(path, raw)

    def save(self) -> None:
        body = dict(self.data)
        body["checksum"] = _checksum(self.data)
        write_json_atomic(self.path, body)

    # -- segments ---------------------------------------------------------------

    @property
    def segments(self) -> list[dict[str, Any]]:
        return self.data["segments"]

    def first_pending(self) -> int:
        for seg in self.segments:
            if seg["status"] != "done":
                return seg["index"]
        return len(self.segments)

    def state_before(self, index: int) -> dict[str, Any] | None:
        """Motion state at the start of segment ``index`` (None for the first)."""
        return None if index == 0 else self.segments[index - 1]["state_end"]

    def mark_done(self, index: int, file: str, state_end: dict[str, Any], sha256: str) -> None:
        seg = self.segments[index]
        seg.update(status="done", file=file, state_end=state_end, sha256=sha256)
        self.save()


def describe_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between the recorded identity of a job and the current one, readable."""
    changes = []
    for name, entry in new["inputs"].items():
        before = old["inputs"].get(name)
        if before is None:
            changes.append(f"{name} added")
        elif before["sha256"] != entry["sha256"]:
            changes.append(f"{name} {entry['path']} changed (sha256 {before['sha256'][:12]} -> {entry['sha256'][:12]})")
    for name in old["inputs"]:
        if name not in new["inputs"]:
            changes.append(f"{name} removed")
    for key, entry in new["config"].items():
        before = old["config"].get(key)
        if before is None or before["value"] != entry["value"]:
            changes.append(f"{key} {before['value'] if before else 'unset'!r} -> {entry['value']!r}")
    for key in ("plan", "versions"):
        if old.get(key) != new.get(key):
            diff = {k: (old.get(key, {}).get(k), v) for k, v in new.get(key, {}).items() if old.get(key, {}).get(k) != v}
            changes.append(f"{key} changed: " + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diff.items()))
    return changes


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
