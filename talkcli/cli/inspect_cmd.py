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
    size: int = typer.Option(512, "--size", help="Crop size, as for render."),
    face_index: Optional[int] = typer.Option(None, "--face-index", help="Which face, 0 = largest."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing picture."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Show what talk sees in a photo: faces, crop, landmarks, mesh and warnings, as a picture."""
    with guarded(traceback):
        import cv2

        from talkcli.errors import OutputError
        from talkcli.face.crop import face_crop
        from talkcli.face.detect import FaceLandmarker, choose_face
        from talkcli.face.image import load_image
        from talkcli.face.inspect import assess, overlay
        from talkcli.files import write_bytes_atomic
        from talkcli.mux.writer import check_output_path

        check_output_path(output, [ref], overwrite)
        if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise OutputError(f"cannot write {output.name}: use a .png or .jpg name")
        photo = load_image(ref)
        with FaceLandmarker() as landmarker:
            faces = landmarker.faces(photo)
        face = choose_face(faces, face_index, str(ref))
        index = face_index or 0
        geometry = face_crop(face.landmarks, photo.shape, size)
        report = assess(face, len(faces), index)
        picture = overlay(photo, faces, index, geometry, report)
        ok, data = cv2.imencode(output.suffix.lower(), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OutputError(f"could not encode {output.name}")
        write_bytes_atomic(output, data.tobytes())
        out.print(f"{len(faces)} face(s); face {index}: {report.face_px:.0f} px, tilt {report.roll_deg:+.1f} deg, "
                  f"turn {report.yaw:+.2f}, eyes {report.eye_openness:.2f}, mouth {report.mouth_openness:.2f}")
        for w in report.warnings:
            err.print(f"[yellow]warning:[/] {w}")
        out.print(f"wrote {output}")
