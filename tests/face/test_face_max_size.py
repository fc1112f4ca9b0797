"""--max-size: a large photo is downscaled once, before any per-frame work, for full-frame video."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from talkcli.face.image import fit_long_side


def test_fit_long_side_downscales_only_what_is_larger():
    photo = np.zeros((3000, 4000, 3), np.uint8)
    assert fit_long_side(photo, 1920).shape == (1440, 1920, 3)
    small = np.zeros((600, 512, 3), np.uint8)
    assert fit_long_side(small, 1920) is small
    assert fit_long_side(photo, 0) is photo  # 0 keeps the photo's size


def test_area_filter_keeps_the_mean_and_does_not_alias():
    stripes = np.zeros((2000, 2000, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: point sampling would give all black or all white
    out = fit_long_side(stripes, 1000)
    assert abs(float(out.mean()) - 127.5) < 1.0 and out.std() < 2.0


@pytest.mark.slow
def test_full_frame_render_of_a_large_photo_is_downscaled_and_inspect_says_so(tmp_path, example_face):
    from typer.testing import CliRunner

    from talkcli.cli.app import app
    from talkcli.mux.ffmpeg import probe

    big = tmp_path / "big.png"
    Image.open(example_face).resize((1707, 2000), Image.LANCZOS).save(big)
    speech, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    audio = tmp_path / "s.wav"
    sf.write(audio, speech[: int(0.8 * sr)], sr)
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", "--ref", str(big), "-o", str(tmp_path / "i.png"), "--set", "render.max_size=1000"])
    assert result.exit_code == 0, result.output
    assert "render output: 854x1000" in result.output and "downscaled" in result.output
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["render", "--ref", str(big), "--audio", str(audio), "-o", str(out), "--preset", "smoke",
                                 "--full-frame", "--max-size", "1000", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    video = probe(out).video
    assert (video.width, video.height) == (854, 1000)
