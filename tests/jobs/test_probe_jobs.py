"""Hostile-input probe, the job runner's cases: nothing the user did not name as output is ever
deleted, replaced or truncated, and each case ends in its documented exit code.

| probe case                                                   | before        | after |
| ------------------------------------------------------------ | ------------- | ----- |
| ``--job-dir . --fresh`` in a folder of the user's files      | 0, all gone   | 2     |
| ``--fresh`` on an existing folder that is not a job          | 0, all gone   | 2     |
| ``--fresh`` while another process renders the job            | 0, folder rm  | 8     |
| ``-o /dev/null --overwrite`` as root                         | 0, node gone  | 5     |
| output written by another render while this one ran          | 0, replaced   | 5     |
| a 245-character output name (job folder name > 255 bytes)    | 1 after render| 5 up front; 231 renders |
| ``--job-dir`` equal to ``-o``, to a file, to the audio       | 1             | 2     |
| ``--job-dir`` on a read-only mount                           | 1             | 5     |
| disk too full for the manifest                               | 1             | 5     |
| ``--device cuda`` without CUDA: job folder with only ``lock``| 6, folder     | 6, no folder |
| ``.out.mp4.*.part.mp4`` left by a killed join                | never removed | removed by the next run |
| ``--audio`` a named pipe / ``/dev/fd/N``                     | 4 not found   | 0     |
"""

from __future__ import annotations

import os
import stat
import threading

import numpy as np
import pytest
import soundfile as sf

from cli_render import one_error as _one_error, render_cli as _render
from talkcli.errors import ExitCode

pytestmark = pytest.mark.slow


@pytest.fixture()
def speech(tmp_path, example_face):
    x, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    path = tmp_path / "speech.wav"
    sf.write(path, x[: int(1.2 * sr)], sr, subtype="PCM_16")
    return path


def test_probe_fresh_on_a_folder_of_user_files_deletes_nothing(tmp_path, example_face, speech, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.txt").write_text("years of work")
    monkeypatch.chdir(work)
    result, out = _render(tmp_path, example_face, speech, "--job-dir", ".", "--fresh")
    assert result.exit_code == ExitCode.USAGE
    assert "refusing --fresh" in _one_error(result)
    assert (work / "thesis.txt").read_text() == "years of work" and not out.exists()


def test_probe_fresh_on_an_existing_non_job_folder_is_refused(tmp_path, example_face, speech):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"x")
    result, _ = _render(tmp_path, example_face, speech, "--job-dir", str(folder), "--fresh")
    assert result.exit_code == ExitCode.USAGE and (folder / "a.jpg").exists()


def test_probe_fresh_discards_a_real_job_but_not_a_busy_one(tmp_path, example_face, speech):
    from talkcli.jobs.manifest import JobLock

    job = tmp_path / "job"
    result, out = _render(tmp_path, example_face, speech, "--job-dir", str(job))
    assert result.exit_code == 0 and (job / "manifest.json").exists()
    out.unlink()
    with JobLock(job):  # another process renders it
        result, _ = _render(tmp_path, example_face, speech, "--job-dir", str(job), "--fresh")
        assert result.exit_code == ExitCode.BUSY
        assert (job / "manifest.json").exists()
    result, out = _render(tmp_path, example_face, speech, "--job-dir", str(job), "--fresh")
    assert result.exit_code == 0 and out.exists(), result.output


def test_probe_output_on_a_device_node_is_refused(tmp_path, example_face, speech):
    result, _ = _render(tmp_path, example_face, speech, "--overwrite", out="/dev/null")
    assert result.exit_code == ExitCode.OUTPUT
    assert "not a file" in _one_error(result)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_probe_output_written_by_another_render_meanwhile_is_not_replaced(tmp_path, example_face, speech):
    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings
    from talkcli.errors import OutputError
    from talkcli.events import StageStarted

    out = tmp_path / "out.mp4"

    def other_render_delivers(event):
        if isinstance(event, StageStarted) and event.stage == "mux":
            out.write_bytes(b"the other render's video")

    with pytest.raises(OutputError, match="written by something else"):
        render(RenderJob(example_face, speech, out), load_settings("smoke"), other_render_delivers)
    assert out.read_bytes() == b"the other render's video"
    # The job is intact: with --overwrite the same job resumes at the join and replaces it.
    result = render(RenderJob(example_face, speech, out, overwrite=True), load_settings("smoke"))
    assert result.resumed_segments == 1 and out.stat().st_size > 1000


def test_probe_long_output_name_is_refused_up_front_and_the_longest_that_fits_renders(tmp_path, example_face, speech):
    too_long = tmp_path / ("x" * 241 + ".mp4")
    result, _ = _render(tmp_path, example_face, speech, out=too_long)
    assert result.exit_code == ExitCode.OUTPUT
    assert "shorter output name" in _one_error(result) and "Render" not in result.output
    longest = tmp_path / ("y" * 227 + ".mp4")  # 231 bytes
    result, _ = _render(tmp_path, example_face, speech, out=longest)
    assert result.exit_code == 0, result.output
    assert longest.exists() and not list(tmp_path.glob(".y*.part*"))


@pytest.mark.parametrize("what", ["output", "file", "audio"])
def test_probe_job_dir_that_is_the_output_a_file_or_an_input(tmp_path, example_face, speech, what):
    out = tmp_path / "out.mp4"
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    job_dir = {"output": out, "file": other, "audio": speech}[what]
    before = job_dir.read_bytes() if job_dir.exists() else None
    result, _ = _render(tmp_path, example_face, speech, "--job-dir", str(job_dir), out=out)
    assert result.exit_code == ExitCode.USAGE, result.output
    _one_error(result)
    assert (job_dir.read_bytes() if job_dir.exists() else None) == before


def test_probe_disk_full_for_the_manifest_is_an_output_error(tmp_path, example_face, speech, monkeypatch):
    import errno

    import talkcli.jobs.manifest as manifest

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manifest, "write_json_atomic", full)
    result, out = _render(tmp_path, example_face, speech)
    assert result.exit_code == ExitCode.OUTPUT
    assert "No space left" in _one_error(result) and not out.exists()


def test_probe_cuda_without_cuda_leaves_no_job_folder(tmp_path, example_face, speech, monkeypatch):
    import talkcli.render.device as device
    from talkcli.errors import EnvironmentProblem

    def no_cuda(requested):
        raise EnvironmentProblem("--device cuda but no CUDA GPU is visible", hint="use --device cpu")

    monkeypatch.setattr(device, "resolve_device", no_cuda)
    job = tmp_path / "job"
    result, _ = _render(tmp_path, example_face, speech, "--job-dir", str(job))
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert not job.exists()


def test_probe_part_files_of_a_killed_join_are_removed_by_the_next_run(tmp_path, example_face, speech):
    out = tmp_path / "out.mp4"
    stale = tmp_path / ".out.mp4.0123456789ab.part.mp4"
    stale.write_bytes(b"half a video")
    unrelated = tmp_path / ".other.mp4.0123456789ab.part.mp4"
    unrelated.write_bytes(b"someone else's")
    result, _ = _render(tmp_path, example_face, speech, out=out)
    assert result.exit_code == 0 and out.exists()
    assert not stale.exists() and unrelated.exists()


def test_probe_audio_from_a_named_pipe(tmp_path, example_face, speech):
    fifo = tmp_path / "speech.pipe"
    os.mkfifo(fifo)
    data = speech.read_bytes()

    def feed():
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result, out = _render(tmp_path, example_face, fifo)
    writer.join(5)
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.fixture()
def read_only_folder(tmp_path):
    """A read-only tmpfs mount (needs root and mount rights; skipped elsewhere)."""
    import subprocess

    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only tmpfs here")
    yield folder
    subprocess.run(["umount", str(folder)], capture_output=True)


def test_probe_job_dir_on_a_read_only_mount(tmp_path, example_face, speech, read_only_folder):
    result, out = _render(tmp_path, example_face, speech, "--job-dir", str(read_only_folder / "job"))
    assert result.exit_code == ExitCode.OUTPUT, result.output
    assert "not writable" in _one_error(result) and not out.exists()
