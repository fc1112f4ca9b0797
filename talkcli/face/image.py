"""Read the reference photo: by content, EXIF orientation honoured, always RGB."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from talkcli.errors import ImageError

# Pillow identifies these by their bytes, whatever the file is called.
SUPPORTED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "MPO"}

# Hard ceiling on the photo's declared size, checked from the header before any
# pixel is decoded: a PNG of 30000x30000 zeros is 900 kB on disk and 2.7 GB as
# RGB. 100 MP (a 12000x8000 camera frame is 96 MP) still loads, for --crop-only,
# whose output is only the face crop.
MAX_PHOTO_PIXELS = 100_000_000

# Full-frame output is the photo's own size, so it must fit an H.264 stream:
# level 6.2 carries at most 139,264 macroblocks of 16x16 pixels a frame
# (35,651,584 pixels, about 8K UHD), and sides above 8192 pixels are refused by
# common hardware decoders and players whatever the level. A photo over either
# limit renders at many seconds a frame into a video few players can open.
H264_MAX_FRAME_MACROBLOCKS = 139_264  # H.264 level 6.2, Table A-1 MaxFS
MAX_FULL_FRAME_PIXELS = H264_MAX_FRAME_MACROBLOCKS * 16 * 16  # 35,651,584
MAX_FULL_FRAME_SIDE = 8192  # pixels, either side

# 16-bit greyscale ("I;16*") and 32-bit integer ("I") modes: Pillow's convert("RGB")
# clips them at 255 instead of scaling, so a 16-bit PNG would read as all white.
_WIDE_GREY_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def load_image(path: str | Path) -> np.ndarray:
    """Load a photo as ``(H, W, 3) uint8`` RGB.

    The format is detected from the content, not the extension. EXIF
    orientation is applied. RGBA and palette images are composited over white;
    grayscale and CMYK are converted to RGB; 16-bit greyscale is scaled to 8 bits.
    Raises ``ImageError`` (exit 4) for a missing, unreadable or unsupported file
    and for one declaring more than ``MAX_PHOTO_PIXELS`` pixels (a decompression
    bomb is refused from its header, before decoding). Full-frame output has a
    lower limit: see ``check_full_frame_size``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageError(f"reference photo not found: {path}", hint="check the --ref path")
    if path.is_dir():
        raise ImageError(f"reference photo is a directory: {path}", hint="pass an image file to --ref")
    try:
        with warnings.catch_warnings():
            # Pillow warns above 89 MP at open; MAX_PHOTO_PIXELS is the ceiling here, checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            if im.format not in SUPPORTED_FORMATS:
                raise ImageError(
                    f"unsupported image format {im.format} in {path}",
                    hint="use a JPEG, PNG, WebP or BMP photo",
                )
            _check_declared_size(im.size, path)
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in _WIDE_GREY_MODES:
                im = _grey_to_8bit(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError as exc:
        raise ImageError(f"not an image file: {path}", hint="use a JPEG, PNG, WebP or BMP photo") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling (179 MP), met at Image.open
        raise ImageError(
            f"image too large to decode safely: {path} declares over {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels",
            hint=f"downscale the photo below {MAX_PHOTO_PIXELS // 1_000_000} megapixels",
        ) from exc
    except MemoryError as exc:
        raise ImageError(f"not enough memory to decode {path}", hint="downscale the photo") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}", hint="the file may be truncated or corrupt") from exc
    if rgb.shape[0] < 16 or rgb.shape[1] < 16:
        raise ImageError(f"image too small ({rgb.shape[1]}x{rgb.shape[0]}): {path}", hint="use a photo at least 64 pixels across")
    return np.ascontiguousarray(rgb)


def _check_declared_size(size: tuple[int, int], path: Path) -> None:
    """Refuse a photo whose header declares more than ``MAX_PHOTO_PIXELS`` (``size`` is (width, height))."""
    width, height = size
    if width * height > MAX_PHOTO_PIXELS:
        raise ImageError(
            f"image too large ({width}x{height}, {width * height / 1e6:.0f} megapixels): {path}",
            hint=f"downscale the photo below {MAX_PHOTO_PIXELS // 1_000_000} megapixels",
        )


def _grey_to_8bit(im):
    """A 16-bit (``I;16*``) or 32-bit (``I``) greyscale image as 8-bit ``L``, full range kept.

    16-bit values are scaled by 255/65535 and rounded; an ``I`` image is read as
    16-bit when its values exceed 255 (PNG's 16-bit greyscale opens as ``I`` in
    some Pillow versions), as 8-bit otherwise.
    """
    from PIL import Image

    values = np.asarray(im, dtype=np.int64)
    wide = im.mode != "I" or values.max(initial=0) > 255
    if wide:
        values = (np.clip(values, 0, 65535) * 255 + 32767) // 65535
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")


def check_full_frame_size(shape: tuple[int, ...], source: str | Path | None = None) -> None:
    """Refuse a photo too large to be the frame of a full-frame video.

    ``shape`` is the photo's ``(H, W[, 3])``. Full-frame output keeps the
    photo's size, which must fit H.264 level 6.2 (at most
    ``H264_MAX_FRAME_MACROBLOCKS`` 16x16 macroblocks, 35,651,584 pixels) with
    neither side above ``MAX_FULL_FRAME_SIDE`` (8192) pixels. ``--crop-only``
    output is the face crop, so the pipeline calls this only for full-frame
    output. Raises ``ImageError`` (exit 4) with a hint to downscale or crop.
    """
    height, width = int(shape[0]), int(shape[1])
    macroblocks = -(-width // 16) * -(-height // 16)
    if width <= MAX_FULL_FRAME_SIDE and height <= MAX_FULL_FRAME_SIDE and macroblocks <= H264_MAX_FRAME_MACROBLOCKS:
        return
    name = f" {source}" if source is not None else ""
    raise ImageError(
        f"photo{name} is too large for full-frame video ({width}x{height}, {width * height / 1e6:.1f} megapixels; "
        f"H.264 carries at most {MAX_FULL_FRAME_PIXELS / 1e6:.1f} megapixels, {MAX_FULL_FRAME_SIDE} pixels a side)",
        hint=f"downscale the photo to at most {MAX_FULL_FRAME_SIDE} pixels a side and "
        f"{MAX_FULL_FRAME_PIXELS // 1_000_000} megapixels (e.g. 7680x4320), let --max-size do it (e.g. --max-size 1920), "
        "or pass --crop-only",
    )


def fit_long_side(photo: np.ndarray, max_size: int) -> np.ndarray:
    """``photo`` downscaled (area filter: no aliasing) so that its long side is at most
    ``max_size`` pixels; as it is when it already fits or ``max_size`` is 0."""
    import cv2

    h, w = photo.shape[:2]
    if max_size <= 0 or max(h, w) <= max_size:
        return photo
    k = max_size / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return np.ascontiguousarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA))
