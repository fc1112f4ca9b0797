"""Nothing lost: the checks that keep a job from deleting, replacing or truncating what is not its own.

- A job directory is deleted (``--fresh``) only when its manifest verifies and
  we hold its lock; anything else given as ``--job-dir`` is never deleted.
- The output is only ever a regular file or a new path: never a device node
  (``/dev/null`` as root), a directory or a link to one.
- Delivery holds a lock on the output's folder and checks that the output did
  not appear or change since the render started: two renders to the same
  path cannot silently replace each other.
- Inputs that are readable but not regular files (``<(cmd)``, ``/dev/fd/N``,
  a named pipe) are copied once into a scratch folder, since a job reads its
  inputs more than once (hash, decode).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from talkcli.errors import OutputError, UsageError
from talkcli.files import same_file
from talkcli.jobs.manifest import LOCK, MANIFEST, JobLock

NAME_MAX = 255  # bytes in one file name on Linux filesystems


def discard_job(job_dir: Path) -> None:
    """``--fresh``: delete ``job_dir`` when it is provably a job (a manifest, nothing but talk's own
    files) and no one renders it; UsageError for any other folder, JobLocked when it is busy.

    A damaged manifest still counts: ``--fresh`` is what the damaged-manifest error suggests."""
    if not job_dir.exists() and not job_dir.is_symlink():
        return
    if job_dir.is_symlink() or not job_dir.is_dir():
        raise UsageError(f"--job-dir {job_dir} is not a job folder; --fresh deletes only job folders", hint="give a new folder name, or leave --job-dir out")
    foreign = [p.name for p in job_dir.iterdir() if not _job_file(p.name)]
    if not (job_dir / MANIFEST).is_file() or foreign:
        what = f"it holds files talk did not write ({', '.join(sorted(foreign)[:3])})" if foreign else "it has no job manifest"
        raise UsageError(f"refusing --fresh on {job_dir}: {what}", hint="give a new folder as --job-dir, or delete it yourself")
    with JobLock(job_dir):  # JobLocked (exit 8) while another process renders it
        for p in job_dir.iterdir():
            if p.name != LOCK:
                p.unlink()
    shutil.rmtree(job_dir, ignore_errors=True)


def _job_file(name: str) -> bool:
    return name in (MANIFEST, LOCK, "render.json", "segments.ffconcat") or name.startswith(("segment_", ".segment_", f".{MANIFEST}.", ".render.json."))


def check_job_dir(job_dir: Path, paths: list[Path]) -> None:
    """Refuse a ``--job-dir`` that is a file, one of ``paths`` (inputs, output), too long a name,
    or in a folder that cannot be written."""
    if len(job_dir.name.encode()) > NAME_MAX:
        raise UsageError(f"job folder name is {len(job_dir.name.encode())} bytes; the limit is {NAME_MAX}", hint="use a shorter --job-dir or output name")
    for p in paths:
        if p is not None and str(p) != "-" and same_file(job_dir, Path(p)):
            raise UsageError(f"--job-dir {job_dir} is also an input or the output ({p})", hint="give the job its own folder")
    if job_dir.exists() and not job_dir.is_dir():
        raise UsageError(f"--job-dir {job_dir} exists and is not a folder", hint="give a folder path")
    parent = job_dir if job_dir.is_dir() else _existing_parent(job_dir)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot create the job folder in {parent}: not writable", hint="give --job-dir on a writable disk")


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_output_name(out: Path) -> None:
    """Refuse an output name too long for its hidden temp name (``.NAME.<12 hex>.partSUFFIX``,
    written beside it and renamed) to fit in a file name."""
    room = NAME_MAX - len(f"..0123456789ab.part{out.suffix or '.mp4'}")
    if len(out.name.encode()) > room:
        raise OutputError(f"output name is {len(out.name.encode())} bytes long; at most {room} fit beside its temp file",
                          hint="choose a shorter output name (-o)")


def check_output_kind(out: Path) -> None:
    """Refuse an output that exists as anything but a regular file (device node, folder, socket)."""
    try:
        mode = os.stat(out).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot check output {out}: {exc.strerror}", hint="choose another output path (-o)") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a device or special file"
        raise OutputError(f"output {out} is {kind}, not a file; talk writes only regular files", hint="give a file name such as out.mp4")


@dataclass(frozen=True)
class OutputState:
    """What was at the output path when the render started (None: nothing)."""

    identity: tuple[int, int, int, int] | None  # device, inode, size, mtime in ns

    @classmethod
    def of(cls, out: Path) -> "OutputState":
        try:
            st = os.stat(out)
        except FileNotFoundError:
            return cls(None)
        return cls((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))


@contextlib.contextmanager
def delivering(out: Path, at_start: OutputState, overwrite: bool) -> Iterator[None]:
    """Hold the output folder's lock while the output is written; unless ``overwrite``, refuse
    when the output appeared or changed since the render started (another render wrote it).
    Removes the temp files of earlier, killed deliveries to the same name."""
    fd = None
    try:
        fd = os.open(out.parent, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for the join: seconds
    except OSError:  # a filesystem without locks: the state check alone
        if fd is not None:
            os.close(fd)
        fd = None
    try:
        check_output_kind(out)
        if not overwrite and OutputState.of(out) != at_start:
            raise OutputError(
                f"{out} was written by something else while this render ran; not replacing it",
                hint="rerun with --overwrite to replace it, or choose another output path (the job resumes at the join)",
            )
        for stale in out.parent.glob(f".{out.name}.*.part*"):  # killed joins; no one else joins here while we hold the lock
            stale.unlink(missing_ok=True)
        yield
    finally:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def spool_special_inputs(paths: dict[str, Path], scratch: Path) -> dict[str, Path]:
    """Inputs that exist but are not regular files (a pipe, ``/dev/fd/N``) copied into ``scratch``;
    regular files and missing paths are returned as they are."""
    out = {}
    for role, path in paths.items():
        try:
            mode = os.stat(path).st_mode
        except OSError:
            out[role] = path
            continue
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            out[role] = path
            continue
        copy = scratch / f"{role}-{Path(path).name or 'input'}"
        with open(path, "rb") as src, open(copy, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        out[role] = copy
    return out
