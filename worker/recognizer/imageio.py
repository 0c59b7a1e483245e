"""Turn uploaded bytes into an upright, bounded RGB array, refusing what the API refuses.

Order matters for safety: the format is sniffed from magic bytes, then the header's pixel count is checked
*before* any pixel is decoded, so a 20000x20000 PNG (a decompression bomb of a few kilobytes) is refused in
microseconds. Animated images are refused as the API does. EXIF orientation is applied because phones store
a sideways photo plus a rotation flag. Large photos are downscaled; the factor is kept so that every box the
recognizer reports is in the original image's pixels.

>>> from io import BytesIO
>>> from PIL import Image
>>> buf = BytesIO(); Image.new("RGB", (2000, 1000), "white").save(buf, "PNG")
>>> page = decode_image(buf.getvalue(), max_side=1000)
>>> page.pixels.shape, page.scale, page.original_size
((500, 1000, 3), 2.0, (2000, 1000))
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from worker.api.legacy import codes
from worker.recognizer.errors import EMPTY_IMAGE, ImageRejected, PreprocessFailed

#: Smallest image (short side, long side) that can still hold a readable card number.
MIN_SHORT_SIDE = 48
MIN_LONG_SIDE = 96

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
)


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image ready for the detector.

    Attributes:
        pixels: uint8 array (height, width, 3) in RGB order, upright per EXIF, long side <= max_side.
        scale: original pixels per working pixel (>= 1.0); multiply a working coordinate to report it.
        original_size: (width, height) of the image as the client sees it (after EXIF rotation).
        format: the sniffed container format, e.g. "JPEG".
    """

    pixels: np.ndarray
    scale: float
    original_size: tuple[int, int]
    format: str


def sniff_format(data: bytes) -> str | None:
    """The image container named by the leading magic bytes, or None when they name no image format."""
    for magic, offset, name in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, *, max_side: int = 1280, max_pixels: int = 60_000_000) -> DecodedImage:
    """Decode, validate and normalise an uploaded image.

    Parameters:
        data: the uploaded bytes, as received.
        max_side: the long side of the returned working image is at most this many pixels.
        max_pixels: refuse images whose header announces more pixels than this.

    Raises:
        ImageRejected: -1300 for empty input; -1102 for bytes that are no image, a truncated or corrupt image,
            an animated (multi-frame) image, or too many pixels.
        PreprocessFailed: -9010 for an image too small to hold a card.
    """
    if not data:
        raise ImageRejected(codes.IMAGE_EMPTY, EMPTY_IMAGE)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED,
                            "not an image: the bytes start with no JPEG, PNG, BMP, GIF, WebP or TIFF signature")
    image = _open_checked(data, fmt, max_pixels)
    try:
        rgb = _to_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED, f"corrupt or truncated {fmt} image: {exc}") from exc
    width, height = rgb.size
    if min(width, height) < MIN_SHORT_SIDE or max(width, height) < MIN_LONG_SIDE:
        raise PreprocessFailed(f"image of {width}x{height} pixels is too small to hold a card "
                               f"(needs at least {MIN_LONG_SIDE}x{MIN_SHORT_SIDE})")
    pixels = np.asarray(rgb, dtype=np.uint8)
    scale = 1.0
    long_side = max(width, height)
    if long_side > max_side:
        scale = long_side / max_side
        new_size = (max(1, round(width / scale)), max(1, round(height / scale)))
        pixels = cv2.resize(pixels, new_size, interpolation=cv2.INTER_AREA)
        scale = width / new_size[0]
    return DecodedImage(pixels=np.ascontiguousarray(pixels), scale=scale, original_size=(width, height), format=fmt)


def _open_checked(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse bombs and animations before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED, f"{fmt} image has too many pixels: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED, f"undecodable {fmt} image: {exc}") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED, f"{fmt} header announces an empty image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED,
                            f"image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels")
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise ImageRejected(codes.IMAGE_DECODE_FAILED,
                            f"animated or multi-frame {fmt} ({frames} frames) is not supported")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Decode pixels, apply EXIF orientation and flatten any mode (alpha onto white, 16-bit, CMYK) to RGB."""
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = float(array.max()) or 1.0
        return Image.fromarray((array * (255.0 / peak)).astype(np.uint8)).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image
