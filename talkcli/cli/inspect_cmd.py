"""talk inspect."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded, out


@app.command()
def inspect(
    ref: Path = typer.Option(..., "--ref", help="Portrait photo to check.", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Overlay picture to write (.png or .jpg).", show_default=False),
    size: Optional[int] = typer.Option(None, "--size", help="Crop size, as for render. [default: 512]"),
    face_index: Optional[int] = typer.Option(None, "--face-index", help="Which face, 0 = largest."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset, as for render (its face settings apply)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Job file (TOML), as for render."),
    set_: list[str] = typer.Option([], "--set", help="Any setting, as for render, e.g. --set face.face_fraction=0.5."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing picture."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Show what talk sees in a photo: faces, crop, landmarks, mesh and warnings, as a picture.

    The crop is the one talk render makes with the same settings."""
    with guarded(traceback):
        import cv2

        from talkcli.api import inspect as inspect_photo
        from talkcli.config.settings import load_settings, parse_assignment
        from talkcli.errors import OutputError
        from talkcli.files import write_bytes_atomic
        from talkcli.mux.writer import check_output_path

        flags = {"face.size": size, "face.face_index": face_index} | dict(parse_assignment(t) for t in set_)
        settings = load_settings(preset, flags, job_file=config)
        check_output_path(output, [ref], overwrite)
        if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise OutputError(f"cannot write {output.name}: use a .png or .jpg name")
        found = inspect_photo(ref, settings)
        report = found.report
        ok, data = cv2.imencode(output.suffix.lower(), cv2.cvtColor(found.picture, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OutputError(f"could not encode {output.name}")
        write_bytes_atomic(output, data.tobytes())
        out.print(f"{found.n_faces} face(s); face {found.index}: {report.face_px:.0f} px, tilt {report.roll_deg:+.1f} deg, "
                  f"turn {report.yaw:+.2f}, eyes {report.eye_openness:.2f}, mouth {report.mouth_openness:.2f}")
        (w, h), (pw, ph) = found.output_size, found.photo_size
        how = "face crop" if settings.render.crop_only else "full frame" + (
            f", the {pw}x{ph} photo downscaled by --max-size {settings.render.max_size}" if (w, h) != (pw - pw % 2, ph - ph % 2) else "")
        out.print(f"render output: {w}x{h} ({how}); face crop {found.crop_side} px")
        for w in report.warnings:
            err.print(f"[yellow]warning:[/] {w}")
        out.print(f"wrote {output}")
