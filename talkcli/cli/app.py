"""The ``talk`` command. Commands parse flags, build settings, call the library, show events."""

from __future__ import annotations

import logging
import sys
import traceback as tb
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from talkcli import __version__
from talkcli.errors import ExitCode, TalkError

app = typer.Typer(
    name="talk",
    help="Lip-synced talking-head videos from a portrait photo and a speech recording.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect settings and presets.", no_args_is_help=True)
app.add_typer(config_app, name="config")

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


@contextmanager
def guarded(show_traceback: bool = False):
    """The one place exceptions become exit codes and one-line messages."""
    try:
        yield
    except TalkError as exc:
        if show_traceback:
            err.print(tb.format_exc(), markup=False)
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        err.print(f"[red]error:[/] {exc.message}{hint}", soft_wrap=True)
        raise typer.Exit(int(exc.exit_code))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: nothing was written at the output path")
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug: say so, keep it to one line unless asked
        if show_traceback:
            err.print(tb.format_exc(), markup=False)
        err.print(
            f"[red]error:[/] unexpected {type(exc).__name__}: {exc} (hint: rerun with --traceback and report it)",
            soft_wrap=True,
        )
        raise typer.Exit(int(ExitCode.FAILURE))


def _version(value: bool) -> None:
    if value:
        out.print(f"talk {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages (ffmpeg commands) to stderr."),
) -> None:
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


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


@app.command()
def doctor(
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to check (or set TALK_FFMPEG)."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Check ffmpeg, the bundled models, torch and the compute device."""
    from rich.table import Table

    with guarded(traceback):
        from talkcli.models.registry import check_models
        from talkcli.mux.ffmpeg import ffmpeg_encoders, ffmpeg_version, find_ffmpeg

        problems = 0
        table = Table(show_header=True, header_style="bold")
        table.add_column("check")
        table.add_column("status")
        table.add_column("details", overflow="fold")
        try:
            exe = find_ffmpeg(ffmpeg)
            encoders = ffmpeg_encoders(exe)
            needed = [e for e in ("libx264", "aac") if e not in encoders]
            table.add_row("ffmpeg", "[green]ok" if not needed else "[red]missing encoders", f"{exe}\n{ffmpeg_version(exe)}")
            table.add_row("encoders", "[green]ok" if not needed else "[red]missing", "libx264, aac" + (f" (missing: {', '.join(needed)})" if needed else ""))
            problems += bool(needed)
        except TalkError as exc:
            table.add_row("ffmpeg", "[red]missing", f"{exc.message} ({exc.hint})")
            problems += 1
        for status in check_models():
            table.add_row(
                f"model {status.name}",
                "[green]ok" if status.ok else "[red]problem",
                f"{status.package} ({status.stage}): {status.path or ''} {status.problem}".strip(),
            )
            problems += not status.ok
        try:
            import torch

            cuda = torch.cuda.is_available()
            device = f"cuda ({torch.cuda.get_device_name(0)})" if cuda else "cpu (no CUDA GPU visible)"
            table.add_row("torch", "[green]ok", f"torch {torch.__version__}; render device for --device auto: {device}")
        except ImportError:
            table.add_row("torch", "[yellow]absent", "CPU rendering works; --device cuda needs torch")
        out.print(table)
        if problems:
            err.print(f"[red]error:[/] {problems} problem(s) found (hint: see the table above)")
            raise typer.Exit(int(ExitCode.ENVIRONMENT))


@config_app.command("show")
def config_show(
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset to layer over the defaults."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Print every setting with the layer it came from (default < preset < flag)."""
    from rich.table import Table

    with guarded(traceback):
        from talkcli.config.settings import available_presets, load_settings

        settings = load_settings(preset)
        table = Table(title=f"preset: {settings.preset}  (available: {', '.join(available_presets())})")
        table.add_column("setting")
        table.add_column("value")
        table.add_column("source")
        for key, value, source in settings.items():
            table.add_row(key, repr(value), source)
        out.print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # outside a command (while parsing, importing)
        err.print("[yellow]interrupted[/]")
        sys.exit(int(ExitCode.INTERRUPTED))
