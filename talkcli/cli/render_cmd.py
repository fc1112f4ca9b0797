"""talk render and talk resume."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded
from talkcli.errors import OutputError, UsageError


def progress_display(mode: str, quiet: bool, item: str | None = None):
    """The event callback for ``--progress bar|json|none`` (``--quiet`` = none)."""
    from talkcli.cli.console import JsonProgress, ProgressDisplay

    if mode == "json":
        return JsonProgress(sys.stderr, item=item)
    if mode not in ("bar", "none"):
        raise UsageError(f"--progress must be bar, json or none, got {mode!r}")
    return ProgressDisplay(err, quiet=quiet or mode == "none")


def summary_line(result) -> str:
    ms = result.stage_ms_per_frame
    resumed = f"; resumed after {result.resumed_segments} finished segment(s)" if result.resumed_segments else ""
    return (
        f"[green]wrote[/] {result.output} ({result.width}x{result.height}, {result.n_frames} frames at "
        f"{result.fps:g} fps, {result.audio_duration_s:.2f} s) in {result.seconds:.1f} s; "
        f"frame loop {result.render_fps:.0f} fps (" + ", ".join(f"{k} {v:.1f}" for k, v in ms.items())
        + f" ms/frame) on {result.device}{resumed}"
    )


def _spool_stdin(tmpdir: Path) -> Path:
    """``--audio -``: copy standard input to a file (ffmpeg probes and the job hashes it)."""
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("--audio - reads audio from standard input, but it is a terminal", hint="pipe audio in: ... | talk render --audio - ...")
    path = tmpdir / "stdin-audio"
    with open(path, "wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
    return path


@app.command()
def render(
    ref: list[Path] = typer.Option(..., "--ref", help="Portrait photo (jpg, png, webp, bmp); up to 3 times: the first is animated, more photos of the same person lend their teeth.", show_default=False),
    audio: str = typer.Option(..., "--audio", help="Speech recording (anything ffmpeg reads, or a video's audio); - reads standard input.", show_default=False),
    output: str = typer.Option(..., "-o", "--output", help="Output MP4 path; - writes a fragmented MP4 to standard output.", show_default=False),
    fps: Optional[str] = typer.Option(None, "--fps", help="Frames per second, e.g. 25, 29.97 or 30000/1001. [default: 25]"),
    size: Optional[int] = typer.Option(None, "--size", help="Side of the face crop in pixels. [default: 512]"),
    max_size: Optional[int] = typer.Option(None, "--max-size", help="Full frame: downscale a larger photo to this long side, once; 0 keeps its size. [default: 1920]"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for head motion and blinks. [default: 0]"),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset name from presets/ or a .toml path. [default: balanced]"),
    config: Optional[Path] = typer.Option(None, "--config", help="Job file: TOML with the presets' sections, layered over the preset."),
    set_: list[str] = typer.Option([], "--set", help="Any setting, e.g. --set mux.crf=23 (repeatable; wins over preset and job file)."),
    transcript: Optional[Path] = typer.Option(None, "--transcript", help="Text of the speech (UTF-8), in its --lang: times the mouth by forced alignment. Other languages than English need the languages extra."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the speech (ISO 639: en, es, fr, de, ja, cmn ...). en: English phone models; others: eSpeak NG pronunciations with --transcript, else a language-agnostic acoustic driver. [default: en]"),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda. [default: auto]"),
    face_index: Optional[int] = typer.Option(None, "--face-index", help="Which face to animate, 0 = largest."),
    head_motion: Optional[float] = typer.Option(None, "--head-motion", help="Head motion amplitude 0..2 (0 = still). [default: 1]"),
    crop_only: Optional[bool] = typer.Option(None, "--crop-only/--full-frame", help="Write the square face crop instead of the whole photo."),
    expression: Optional[float] = typer.Option(None, "--expression", help="1 keeps the photo's expression (smile) at rest, 0 relaxes it. [default: 1]"),
    rest_lips: Optional[str] = typer.Option(None, "--rest-lips", help="closed: a photo's parted lips close in silence; photo: they stay as photographed. [default: closed]"),
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to use (or set TALK_FFMPEG)."),
    enhance: Optional[str] = typer.Option(None, "--enhance", help="Face restoration: none or gfpgan (needs GFPGANv1.4.pth; slow on CPU). [default: none]"),
    enhance_strength: Optional[float] = typer.Option(None, "--enhance-strength", help="Blend of restored and original face, 0..1. [default: 0.8]"),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Where to look first for model files (then TALK_MODELS, the package, ~/.cache/talkcli)."),
    job_dir: Optional[Path] = typer.Option(None, "--job-dir", help="Job directory (manifest, segments). [default: hidden folder beside the output]"),
    fresh: bool = typer.Option(False, "--fresh", help="Start over instead of resuming an unfinished job."),
    allow_long: bool = typer.Option(False, "--allow-long", help="Render audio longer than 10 hours."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Render the segments on a Ray cluster: local (start one here), auto or ray://HOST:PORT; inputs, output and job folder on storage every node sees. Needs talkcli[ray]."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
    progress: str = typer.Option("bar", "--progress", help="bar, json (JSON lines on stderr) or none."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, only warnings and errors."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Render a talking-head video: talk render --ref face.jpg --audio speech.wav -o out.mp4

    Rerunning the same command after a crash or Ctrl-C resumes the job."""
    with guarded(traceback, json_errors=progress == "json"):
        from talkcli.api import RenderJob
        from talkcli.api import render as run_render
        from talkcli.config.settings import load_settings, parse_assignment

        flags = {
            "audio.fps": fps,
            "audio.lang": lang,
            "face.size": size,
            "render.max_size": max_size,
            "face.face_index": face_index,
            "motion.seed": seed,
            "motion.head_motion": head_motion,
            "render.device": device,
            "render.crop_only": crop_only,
            "render.expression": expression,
            "render.rest_lips": rest_lips,
            "mux.ffmpeg": ffmpeg,
            "enhance.method": enhance,
            "enhance.strength": enhance_strength,
            "models.models_dir": str(models_dir) if models_dir is not None else None,
        }
        for text in set_:
            key, value = parse_assignment(text)
            flags[key] = value
        settings = load_settings(preset, flags, job_file=config)
        if output == "-" and sys.stdout.isatty():
            raise OutputError("refusing to write video to a terminal", hint="redirect standard output: -o - > out.mp4, or give a file name")
        with tempfile.TemporaryDirectory(prefix="talk-") as tmp:
            audio_path = _spool_stdin(Path(tmp)) if audio == "-" else Path(audio)
            if len(ref) > 3:
                raise UsageError(f"--ref given {len(ref)} times; at most 3 photos", hint="the first is animated, two more may help")
            job = RenderJob(
                ref=ref[0], extra_refs=tuple(ref[1:]), audio=audio_path, out=Path(output), transcript=transcript, overwrite=overwrite,
                job_dir=job_dir, fresh=fresh, allow_long=allow_long, ray_address=ray,
            )  # fmt: skip
            with progress_display(progress, quiet) as display:
                result = run_render(job, settings, display)
        if not quiet and progress == "bar":
            err.print(summary_line(result))


@app.command()
def resume(
    job_dir: Path = typer.Argument(..., help="A job directory (the hidden .talk-* folder beside an output)."),
    progress: str = typer.Option("bar", "--progress", help="bar, json (JSON lines on stderr) or none."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, only warnings and errors."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Finish an interrupted render from its job directory, with its recorded inputs and settings."""
    with guarded(traceback, json_errors=progress == "json"):
        from talkcli.api import render as run_render
        from talkcli.jobs.resume import job_from_manifest

        job, settings = job_from_manifest(job_dir)
        with progress_display(progress, quiet) as display:
            result = run_render(job, settings, display)
        if not quiet and progress == "bar":
            err.print(summary_line(result))
