"""talk eval: measure lip sync, A/V offset, fidelity and speed of a rendered video."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded, out


def _check_json_target(target: str) -> None:
    from talkcli.errors import OutputError

    if target == "-":
        return
    path = Path(target)
    if path.is_dir():
        raise OutputError(f"--json {path} is a directory", hint="give a file name such as eval.json")
    if not path.parent.is_dir():
        raise OutputError(f"folder {path.parent} does not exist", hint=f"create it first: mkdir -p {path.parent}")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"folder {path.parent} is not writable", hint="choose another --json path")


def _prepare_report_dir(directory: Path) -> None:
    from talkcli.errors import OutputError

    if directory.exists() and not directory.is_dir():
        raise OutputError(f"--report {directory} exists and is not a folder", hint="give a folder path")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {directory}: {exc.strerror}", hint="choose another --report folder") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"folder {directory} is not writable", hint="choose another --report folder")


def _summary_rows(figures: dict) -> list[tuple[str, str]]:
    def f(value, fmt="{:.3g}", unit=""):
        if value is None:
            return "n/a"
        if isinstance(value, bool):
            return "pass" if value else "FAIL"
        return fmt.format(value) + unit

    sync, mouth, sil, fid = figures["sync"], figures["mouth"], figures["silence"], figures["fidelity"]
    rows = [
        ("av_offset_ms (> 0: audio late)", f(sync["av_offset_ms"], "{:+.1f}", " ms")),
        ("av_offset_confidence", f(sync["av_offset_confidence"], "{:.2f}")),
        ("ebu_r37 (-40..+60 ms)", f(sync["ebu_r37_pass"])),
        ("face_detection_rate", f(mouth["face_detection_rate"], "{:.3f}")),
        ("mouth_open_speech_median_iod", f(mouth["mouth_open_speech_median_iod"])),
        ("silence_closed_fraction", f(sil["silence_closed_fraction"], "{:.3f}") + f" of {sil['silent_frames']} frames"),
        ("silence_closed_or_rest_fraction", f(sil["silence_closed_or_rest_fraction"], "{:.3f}")),
        ("background_changed_fraction", f(fid["background_changed_fraction"], "{:.4f}")),
        ("face_psnr_db", f(fid["face_psnr_db"], "{:.2f}", " dB")),
    ]
    if figures.get("closure"):
        c = figures["closure"]
        rows.append(("closure_met_fraction", f(c["closure_met_fraction"], "{:.3f}") + f" of {c['closure_events']} closures"))
        rows.append(("spurious_closures_per_min", f(c["spurious_closures_per_min"], "{:.1f}") + f" ({c['spurious_closures']} runs)"))
    if figures.get("real"):
        r = figures["real"]
        rows += [
            ("real.mouth_r", f(r["mouth_r"], "{:.3f}")),
            ("real.mouth_lag_ms (> 0: ours later)", f(r["mouth_lag_ms"], "{:+.1f}", " ms")),
            ("real.lmd_iod (still baseline)", f(r["lmd_iod"], "{:.4f}") + f" ({f(r['lmd_still_baseline_iod'], '{:.4f}')})"),
            ("real.real_av_offset_ms", f(r["real_av_offset_ms"], "{:+.1f}", " ms")),
        ]
    speed = figures.get("speed") or {}
    if speed.get("available"):
        rows.append(("speed.end_to_end_fps", f(speed["end_to_end_fps"], "{:.1f}") + f" (frame loop {f(speed['frame_loop_fps'], '{:.1f}')})"))
    return rows


@app.command(name="eval")
def eval_(
    video: Optional[Path] = typer.Argument(None, help="Rendered talking-head video (with its soundtrack).", show_default=False),
    ref: Optional[Path] = typer.Option(None, "--ref", help="The photo the video was rendered from (face PSNR, rest mouth)."),
    real: Optional[Path] = typer.Option(None, "--real", help="A real talking video: render our avatar from its first frame and audio, compare mouths."),
    truth: Optional[Path] = typer.Option(None, "--truth", help="Timed phonemes of the soundtrack (JSON, bench/visemes format): p/b/m closure check."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the JSON report here ('-' for standard output)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Folder for report.md, report.json and PNG plots (and the avatar with --real)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset for the avatar rendered with --real. [default: balanced]"),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda, for the avatar rendered with --real."),
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to use (or set TALK_FFMPEG)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, only warnings and errors."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Measure a video: talk eval out.mp4 --ref face.jpg --report eval/ ; or talk eval --real speaker.mp4"""
    with guarded(traceback):
        from rich.table import Table

        from talkcli.cli.console import ProgressDisplay
        from talkcli.errors import UsageError
        from talkcli.eval import evaluate
        from talkcli.eval.report import write_json, write_report

        if video is None and real is None:
            raise UsageError("give a VIDEO to measure, or --real VIDEO", hint="talk eval out.mp4 --ref face.jpg, or talk eval --real speaker.mp4")
        if json_out is not None:
            _check_json_target(json_out)
        if report is not None:
            _prepare_report_dir(report)
        settings = None
        if real is not None and video is None:
            from talkcli.config.settings import load_settings

            settings = load_settings(preset, {"render.device": device, "mux.ffmpeg": ffmpeg})
        with ProgressDisplay(err, quiet=quiet) as display:
            result = evaluate(video, ref, real, truth, settings=settings, work_dir=report, on_event=display, ffmpeg=ffmpeg)
            written = write_report(result, report, display) if report is not None else []
        if json_out == "-":
            out.file.write(result.to_json() + "\n")
            out.file.flush()
        elif json_out is not None:
            write_json(result, Path(json_out))
        # The figures are the result: on stdout, unless stdout carries the JSON.
        console = err if json_out == "-" else out
        if json_out != "-" or not quiet:
            inputs = result.figures["inputs"]
            name = f"our avatar of {Path(inputs['real']).name}" if inputs["avatar_rendered_from_real"] else Path(inputs["video"]).name
            table = Table(title=f"talk eval: {name}", show_header=False)
            for key, value in _summary_rows(result.figures):
                table.add_row(key, value)
            console.print(table)
        if not quiet:
            for path in written + ([Path(json_out)] if json_out not in (None, "-") else []):
                err.print(f"[green]wrote[/] {path}")
