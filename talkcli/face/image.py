"""Read the reference photo: by content, EXIF orientation honoured, always RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkcli.errors import ImageError

# Pillow identifies these by their bytes, whatever the file is called.
SUPPORTED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "MPO"}


def load_image(path: str | Path) -> np.ndarray:
    """Load a photo as ``(H, W, 3) uint8`` RGB.

    The format is detected from the content, not the extension. EXIF
    orientation is applied. RGBA and palette images are composited over white;
    grayscale and CMYK are converted to RGB.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageError(f"reference photo not found: {path}", hint="check the --ref path")
    if path.is_dir():
        raise ImageError(f"reference photo is a directory: {path}", hint="pass an image file to --ref")
    try:
        with Image.open(path) as im:
            if im.format not in SUPPORTED_FORMATS:
                raise ImageError(
                    f"unsupported image format {im.format} in {path}",
                    hint="use a JPEG, PNG, WebP or BMP photo",
                )
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError as exc:
        raise ImageError(f"not an image file: {path}", hint="use a JPEG, PNG, WebP or BMP photo") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}", hint="the file may be truncated or corrupt") from exc
    if rgb.shape[0] < 16 or rgb.shape[1] < 16:
        raise ImageError(f"image too small ({rgb.shape[1]}x{rgb.shape[0]}): {path}", hint="use a photo at least 64 pixels across")
    return np.ascontiguousarray(rgb)
