"""load_image: format by content, EXIF orientation, alpha/grey/CMYK -> RGB, typed errors."""

import numpy as np
import pytest
from PIL import Image

from talkcli.errors import ExitCode, ImageError
from talkcli.face.image import load_image


@pytest.fixture(scope="module")
def original(photo):
    """The example photo as Pillow RGB image and as array (600 x 512)."""
    return Image.fromarray(photo), photo


def _mean_abs(a, b) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def test_example_photo_is_rgb_uint8(photo):
    assert photo.dtype == np.uint8
    assert photo.shape == (600, 512, 3)
    assert photo.flags["C_CONTIGUOUS"]


def test_png_content_under_jpg_name_is_read_losslessly(tmp_path, original):
    im, arr = original
    path = tmp_path / "face.jpg"
    im.save(path, format="PNG")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # really a PNG
    out = load_image(path)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("fmt,suffix,kwargs,tol", [
    ("WEBP", ".webp", {"quality": 95}, 4.0),
    ("BMP", ".bmp", {}, 0.0),
    ("JPEG", ".jpeg", {"quality": 95}, 3.0),
])
def test_common_formats_give_the_same_pixels(tmp_path, original, fmt, suffix, kwargs, tol):
    im, arr = original
    path = tmp_path / f"face{suffix}"
    im.save(path, format=fmt, **kwargs)
    out = load_image(path)
    assert out.shape == arr.shape and out.dtype == np.uint8
    assert _mean_abs(out, arr) <= tol


def test_rgba_is_composited_over_white(tmp_path, original):
    im, arr = original
    h, w = arr.shape[:2]
    alpha = np.zeros((h, w), dtype=np.uint8)
    alpha[:, w // 2 :] = 255  # right half opaque
    alpha[: h // 4, w // 2 :] = 128  # top-right quarter half transparent
    rgba = np.dstack([arr, alpha])
    path = tmp_path / "face.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = load_image(path).astype(np.int16)
    assert out.shape == (h, w, 3)
    assert np.all(out[:, : w // 2] == 255)  # transparent -> white
    np.testing.assert_array_equal(out[h // 4 :, w // 2 :], arr[h // 4 :, w // 2 :])
    half = arr[: h // 4, w // 2 :].astype(np.float64)
    expected = half * (128 / 255) + 255 * (1 - 128 / 255)
    assert np.max(np.abs(out[: h // 4, w // 2 :] - expected)) <= 1.0


def test_grayscale_becomes_three_equal_channels(tmp_path, original):
    im, _ = original
    grey = im.convert("L")
    path = tmp_path / "grey.png"
    grey.save(path)
    out = load_image(path)
    assert out.shape == (600, 512, 3)
    g = np.asarray(grey)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)


def test_cmyk_jpeg_becomes_rgb(tmp_path, original):
    im, arr = original
    path = tmp_path / "cmyk.jpg"
    im.convert("CMYK").save(path, format="JPEG", quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    out = load_image(path)
    assert out.shape == arr.shape
    assert _mean_abs(out, arr) <= 4.0  # colours preserved, not inverted
    assert np.corrcoef(out.reshape(-1).astype(float), arr.reshape(-1).astype(float))[0, 1] > 0.99


def test_exif_orientation_6_is_applied(tmp_path, original):
    im, arr = original
    # Store the pixels rotated 90 degrees counter-clockwise, tagged "rotate 90 CW to display".
    stored = im.transpose(Image.Transpose.ROTATE_90)
    assert stored.size == (600, 512)  # (width, height): sideways
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    stored.save(path, format="JPEG", quality=95, exif=exif)
    out = load_image(path)
    assert out.shape == (600, 512, 3)  # upright again: height 600, width 512
    assert _mean_abs(out, arr) <= 3.0
    # Without honouring the tag the pixels would be the sideways ones.
    sideways = np.asarray(stored)
    assert sideways.shape != out.shape


def test_exif_orientation_3_is_applied(tmp_path, original):
    im, arr = original
    stored = im.transpose(Image.Transpose.ROTATE_180)
    exif = Image.Exif()
    exif[0x0112] = 3
    path = tmp_path / "upside_down.jpg"
    stored.save(path, format="JPEG", quality=95, exif=exif)
    out = load_image(path)
    assert _mean_abs(out, arr) <= 3.0
    assert _mean_abs(out, np.asarray(stored)) > 20.0


def test_palette_png_with_transparency_goes_over_white(tmp_path):
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([10, 20, 30] + [200, 0, 0] * 255)
    px = pal.load()
    for x in range(16, 32):
        for y in range(32):
            px[x, y] = 1
    path = tmp_path / "pal.png"
    pal.save(path, transparency=0)
    out = load_image(path)
    assert np.all(out[:, :16] == 255)
    assert np.all(out[:, 16:] == (200, 0, 0))


def _assert_input_error(path, match):
    with pytest.raises(ImageError, match=match) as info:
        load_image(path)
    assert info.value.exit_code == ExitCode.INPUT
    assert info.value.hint


def test_text_file_named_jpg_is_an_input_error(tmp_path):
    path = tmp_path / "face.jpg"
    path.write_text("this is not a photo\n")
    _assert_input_error(path, "not an image")


def test_missing_file_is_an_input_error(tmp_path):
    _assert_input_error(tmp_path / "nope.jpg", "not found")


def test_directory_is_an_input_error(tmp_path):
    _assert_input_error(tmp_path, "directory")


def test_truncated_jpeg_is_an_input_error(tmp_path, original):
    im, _ = original
    path = tmp_path / "cut.jpg"
    im.save(path, format="JPEG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    _assert_input_error(path, "cannot read")


def test_unsupported_format_is_an_input_error(tmp_path, original):
    im, _ = original
    path = tmp_path / "face.jpg"
    im.save(path, format="GIF")
    _assert_input_error(path, "unsupported image format GIF")


def test_tiny_image_is_an_input_error(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (10, 40), (90, 90, 90)).save(path)
    _assert_input_error(path, "too small")
