"""Job directories: where a render keeps its manifest, segments and timings."""

from __future__ import annotations

import hashlib
from pathlib import Path

from talkcli.files import sha256_file

COMMENT_PREFIX = "talkcli job="  # MP4 comment tag that points a rendered file at its job directory
RENDER_RECORD = "render.json"  # timings and facts of the finished render, in the job directory


def input_paths(ref: Path, audio: Path, transcript: Path | None = None, extra_refs=()) -> dict[str, Path]:
    """The inputs of a render by role: ref, audio, transcript, ref2, ref3."""
    paths = {"ref": Path(ref), "audio": Path(audio)}
    if transcript is not None:
        paths["transcript"] = Path(transcript)
    for i, extra in enumerate(extra_refs, start=2):
        paths[f"ref{i}"] = Path(extra)
    return paths


def input_hashes(ref: Path, audio: Path, transcript: Path | None = None, extra_refs=()) -> dict[str, str]:
    """sha256 of each input of a render, by role."""
    return {name: sha256_file(p) for name, p in input_paths(ref, audio, transcript, extra_refs).items()}


def default_job_dir(out: Path, hashes: dict[str, str]) -> Path:
    """A hidden folder beside the output, named from the output's name and the inputs' hashes."""
    digest = hashlib.sha256("\n".join(f"{k}={hashes[k]}" for k in sorted(hashes)).encode()).hexdigest()[:12]
    name = out.name if str(out) != "-" else "stdout"
    parent = out.parent if str(out) != "-" else Path.cwd()
    room = 255 - len(f".talk--{digest}".encode())  # a file name holds at most 255 bytes
    name = name.encode()[:room].decode("utf-8", "ignore")  # a long output name is cut, the digest kept
    return parent / f".talk-{name}-{digest}"
