"""talk render."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded


@app.command()
def render(
    ref: Path = typer.Option(..., "--ref", help="Portrait photo (jpg, png, webp, bmp).", show_default=False),
    audio: Path = typer.Option(..., "--audio", help="Speech recording (anything ffmpeg reads, or a video's audio).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Output MP4 path.", show_default=False),
    fps: Optional[str] = typer.Option(None, "--fps", help="Frames per second, e.g. 25, 29.97 or 30000/1001. [default: 25]"),
    size: Optional[int] = typer.Option(None, "--size", help="Side of the face crop in pixels. [default: 512]"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for head motion and blinks. [default: 0]"),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset name from presets/ or a .toml path. [default: balanced]"),
    transcript: Optional[Path] = typer.Option(None, "--transcript", help="Text of the speech; improves mouth timing."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda. [default: auto]"),
    face_index: Optional[int] = typer.Option(None, "--face-index", help="Which face to animate, 0 = largest."),
    head_motion: Optional[float] = typer.Option(None, "--head-motion", help="Head motion amplitude 0..2 (0 = still). [default: 1]"),
    crop_only: Optional[bool] = typer.Option(None, "--crop-only/--full-frame", help="Write the square face crop instead of the whole photo."),
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to use (or set TALK_FFMPEG)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, only warnings and errors."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Render a talking-head video: talk render --ref face.jpg --audio speech.wav -o out.mp4"""
    with guarded(traceback):
        from talkcli.api import RenderJob
        from talkcli.api import render as run_render
        from talkcli.cli.console import ProgressDisplay
        from talkcli.config.settings import load_settings

        settings = load_settings(
            preset,
            {
                "audio.fps": fps,
                "face.size": size,
                "face.face_index": face_index,
                "motion.seed": seed,
                "motion.head_motion": head_motion,
                "render.device": device,
                "render.crop_only": crop_only,
                "mux.ffmpeg": ffmpeg,
            },
        )
        job = RenderJob(ref=ref, audio=audio, out=output, transcript=transcript, overwrite=overwrite)
        with ProgressDisplay(err, quiet=quiet) as display:
            result = run_render(job, settings, display)
        if not quiet:
            ms = result.stage_ms_per_frame
            err.print(
                f"[green]wrote[/] {result.output} ({result.width}x{result.height}, {result.n_frames} frames at "
                f"{result.fps:g} fps, {result.audio_duration_s:.2f} s) in {result.seconds:.1f} s; "
                f"frame loop {result.render_fps:.0f} fps ("
                + ", ".join(f"{k} {v:.1f}" for k, v in ms.items())
                + " ms/frame) on "
                + result.device
            )
