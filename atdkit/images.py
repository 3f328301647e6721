"""Image files as atdkit reads and writes them: uint8 RGB arrays (H, W, 3), one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from atdkit.store import atomic_path

JPEG_QUALITY = 95  # what the ATD-12K release's JPEG frames were saved with
# zlib level 1, each row stored as its difference from the row above, run-length matching: lossless like any
# other setting; on animation frames 1.6 times faster to write than level 1 with adaptive filters, and no larger
PNG_SETTINGS = (
    cv2.IMWRITE_PNG_COMPRESSION, 1,
    cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
    cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
)  # fmt: skip


class ImageError(ValueError):
    """An image file that is missing, unreadable or cannot be written; the message names the file."""


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file (PNG, JPEG, ...) as uint8 RGB (H, W, 3)."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    image = cv2.imdecode(
        np.fromfile(path, np.uint8), cv2.IMREAD_COLOR
    )  # np.fromfile: any file name OpenCV's imread would refuse
    if image is None:
        raise ImageError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def resize_lanczos(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The official ATD-12K resize: Pillow's Lanczos (antialiased) to ``size`` (W, H); a no-op at that size."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize(tuple(size), Image.Resampling.LANCZOS))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """To ``size`` (W, H) with OpenCV: area averaging when shrinking, bicubic when enlarging; a no-op at that size."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    shrinking = size[0] < image.shape[1]
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def encode(rgb: np.ndarray, suffix: str, jpeg_quality: int = JPEG_QUALITY) -> bytes:
    """``rgb`` encoded as ``suffix`` says (".png" lossless, ".jpg" at ``jpeg_quality``)."""
    jpeg = suffix.lower() in (".jpg", ".jpeg")
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if jpeg else list(PNG_SETTINGS)
    try:
        ok, data = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    except cv2.error:
        ok = False
    if not ok:
        raise ImageError(f"cannot encode an image as {suffix!r} (unknown extension?)")
    return data.tobytes()


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """``rgb`` written to ``path`` in the format its suffix names, through a temporary file and a rename."""
    path = Path(path)
    try:
        data = encode(rgb, path.suffix)
    except ImageError:
        raise ImageError(f"{path}: cannot write an image with this extension") from None
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
