"""talk doctor."""

from __future__ import annotations

from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded, out
from talkcli.errors import ExitCode, TalkError


@app.command()
def doctor(
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to check (or set TALK_FFMPEG)."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Check ffmpeg, the bundled models, the compiled render kernels, torch, the compute device and the optional extras."""
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
            import time

            import numba

            from talkcli.render.kernels import warm_up

            t0 = time.perf_counter()
            warm_up()
            table.add_row("render kernels", "[green]ok",
                          f"numba {numba.__version__}; compiled or loaded from cache in {time.perf_counter() - t0:.1f} s")
        except Exception as exc:  # noqa: BLE001 - any failure to build the kernels is what this row reports
            table.add_row("render kernels", "[red]problem", f"{type(exc).__name__}: {exc}")
            problems += 1
        try:
            import torch

            cuda = torch.cuda.is_available()
            device = f"cuda ({torch.cuda.get_device_name(0)})" if cuda else "cpu (no CUDA GPU visible)"
            table.add_row("torch", "[green]ok", f"torch {torch.__version__}; render device for --device auto: {device}")
        except ImportError:
            table.add_row("torch", "[yellow]absent", "CPU rendering works; --device cuda needs torch")
        from rich.markup import escape

        for name, status, details in optional_extras():
            table.add_row(name, status, escape(details))  # "talkcli[languages]" is no style tag
        out.print(table)
        if problems:
            err.print(f"[red]error:[/] {problems} problem(s) found (hint: see the table above)")
            raise typer.Exit(int(ExitCode.ENVIRONMENT))


def optional_extras() -> list[tuple[str, str, str]]:
    """Rows for the optional extras: (check, status, details); an absent extra is not a problem."""
    from importlib.metadata import PackageNotFoundError, version

    from talkcli.audio import espeak

    rows = []
    try:
        found = espeak.version()
    except TalkError as exc:
        rows.append(("extra: languages", "[red]problem", f"{exc.message} ({exc.hint})"))
    else:
        rows.append(("extra: languages", "[green]ok" if found else "[yellow]absent",
                     f"eSpeak NG {found} (GPL-3.0): transcripts in {espeak.count_languages()} languages" if found
                     else f"transcripts in English only; {espeak.INSTALL_HINT}"))  # fmt: skip
    try:
        rows.append(("extra: ray", "[green]ok", f"ray {version('ray')}: talk batch/render --ray"))
    except PackageNotFoundError:
        rows.append(("extra: ray", "[yellow]absent", "talk batch/render --ray need pip install 'talkcli[ray]'"))
    return rows
