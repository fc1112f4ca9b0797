"""talk inspect: an overlay picture and warnings measured from the photo."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli.app import app
from talkcli.errors import ExitCode

runner = CliRunner()


def test_overlay_written_and_small_face_warned(tmp_path, example_face):
    out = tmp_path / "overlay.png"
    result = runner.invoke(app, ["inspect", "--ref", str(example_face), "-o", str(out)])
    assert result.exit_code == 0, result.output
    picture = np.asarray(Image.open(out))
    photo = np.asarray(Image.open(example_face))
    assert picture.shape[0] >= photo.shape[0] and picture.shape[1] > photo.shape[1] + 512
    assert "warning" not in result.output
    small = tmp_path / "small.png"
    Image.open(example_face).resize((128, 150)).save(small)
    result = runner.invoke(app, ["inspect", "--ref", str(small), "-o", str(tmp_path / "small_overlay.png")])
    assert result.exit_code == 0, result.output
    assert "face too small" in result.output


def test_refuses_existing_output_and_non_image_names(tmp_path, example_face):
    out = tmp_path / "overlay.png"
    out.write_bytes(b"keep")
    assert runner.invoke(app, ["inspect", "--ref", str(example_face), "-o", str(out)]).exit_code == ExitCode.OUTPUT
    assert out.read_bytes() == b"keep"
    result = runner.invoke(app, ["inspect", "--ref", str(example_face), "-o", str(tmp_path / "overlay.txt")])
    assert result.exit_code == ExitCode.OUTPUT
