"""Decoding and normalising uploads: formats, refusals with their codes, EXIF, downscaling."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from tests.images import png_header_only
from worker.api.legacy import codes
from worker.recognizer.errors import ImageRejected, PreprocessFailed
from worker.recognizer.imageio import decode_image, sniff_format


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()




def card_like(size: tuple[int, int] = (856, 540)) -> Image.Image:
    return Image.new("RGB", size, (40, 80, 160))


@pytest.mark.parametrize(("fmt", "magic"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("BMP", "BMP"), ("GIF", "GIF"),
                                            ("WEBP", "WEBP"), ("TIFF", "TIFF")])
def test_every_supported_format_decodes(fmt: str, magic: str) -> None:
    data = encode(card_like((320, 200)), fmt)
    assert sniff_format(data) == magic
    image = decode_image(data)
    assert image.pixels.shape == (200, 320, 3)
    assert image.pixels.dtype == np.uint8
    assert image.format == magic


def test_empty_bytes_are_minus_1300() -> None:
    with pytest.raises(ImageRejected) as caught:
        decode_image(b"")
    assert caught.value.code == codes.IMAGE_EMPTY
    assert "empty" in caught.value.message


def test_a_text_file_is_minus_1102() -> None:
    with pytest.raises(ImageRejected) as caught:
        decode_image(b"card number 6225 7600 0000 0005\n")
    assert caught.value.code == codes.IMAGE_DECODE_FAILED
    assert "not an image" in caught.value.message


def test_corrupt_bytes_behind_a_jpeg_signature_are_minus_1102() -> None:
    data = encode(card_like(), "JPEG")
    corrupt = data[:200] + bytes(range(256)) * 4
    with pytest.raises(ImageRejected) as caught:
        decode_image(corrupt)
    assert caught.value.code == codes.IMAGE_DECODE_FAILED


def test_a_truncated_png_is_minus_1102() -> None:
    data = encode(card_like(), "PNG")
    with pytest.raises(ImageRejected) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.code == codes.IMAGE_DECODE_FAILED


def test_an_animated_gif_is_minus_1102() -> None:
    frames = [card_like((200, 120)), Image.new("RGB", (200, 120), (200, 30, 30))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.raises(ImageRejected) as caught:
        decode_image(data)
    assert caught.value.code == codes.IMAGE_DECODE_FAILED
    assert "frame" in caught.value.message


def test_an_animated_png_is_minus_1102() -> None:
    frames = [card_like((200, 120)), Image.new("RGB", (200, 120), (200, 30, 30))]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageRejected) as caught:
        decode_image(data)
    assert caught.value.code == codes.IMAGE_DECODE_FAILED


def test_a_single_frame_gif_is_accepted() -> None:
    assert decode_image(encode(card_like((200, 120)), "GIF")).pixels.shape == (120, 200, 3)


def test_a_one_pixel_image_is_minus_9010() -> None:
    with pytest.raises(PreprocessFailed) as caught:
        decode_image(encode(Image.new("RGB", (1, 1)), "PNG"))
    assert caught.value.code == codes.PREPROCESS_ERROR
    assert "1x1" in caught.value.message


def test_a_20000_square_image_is_refused_from_its_header_fast() -> None:
    data = png_header_only(20000, 20000)
    assert len(data) < 200
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as caught:
        decode_image(data)
    elapsed = time.perf_counter() - started
    assert caught.value.code == codes.IMAGE_DECODE_FAILED
    assert "pixels" in caught.value.message
    assert elapsed < 5.0  # generous: it must not decode 400 million pixels (seconds and gigabytes)


def test_the_pixel_limit_is_configurable() -> None:
    data = encode(card_like((400, 300)), "PNG")
    with pytest.raises(ImageRejected):
        decode_image(data, max_pixels=100_000)
    assert decode_image(data, max_pixels=120_000).original_size == (400, 300)


def test_large_photos_are_downscaled_and_the_factor_kept() -> None:
    image = decode_image(encode(card_like((3000, 2000)), "JPEG"), max_side=1000)
    assert image.pixels.shape == (667, 1000, 3)
    assert image.scale == pytest.approx(3.0)
    assert image.original_size == (3000, 2000)


def test_exif_orientation_is_applied() -> None:
    picture = card_like((400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image = decode_image(encode(picture, "JPEG", exif=exif.tobytes()))
    assert image.original_size == (200, 400)
    assert image.pixels.shape == (400, 200, 3)


def test_transparency_is_flattened_onto_white_and_grey_becomes_rgb() -> None:
    rgba = Image.new("RGBA", (200, 120), (0, 0, 0, 0))
    assert decode_image(encode(rgba, "PNG")).pixels[0, 0].tolist() == [255, 255, 255]
    grey = Image.new("L", (200, 120), 77)
    assert decode_image(encode(grey, "PNG")).pixels[0, 0].tolist() == [77, 77, 77]


def test_sixteen_bit_png_is_scaled_to_eight_bits() -> None:
    array = np.full((120, 200), 60000, dtype=np.uint16)
    array[0, 0] = 65535
    image = decode_image(encode(Image.fromarray(array), "PNG"))
    assert image.pixels.dtype == np.uint8
    assert image.pixels[0, 0].tolist() == [255, 255, 255]
