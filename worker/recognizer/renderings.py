"""The renderings of a page or crop the reader looks at besides the plain one: each brings out what another hides.

A page is detected again, and a number line or a date read again, when the first look is not enough, and each
second look sees the same pixels rendered another way: contrast-equalised (embossed digits in the card's own
colour), darkened (faint strokes of a worn digit on a light card), sharpened (strokes a blur has smeared).

>>> clahe(crop).shape == darkened(crop).shape == sharpened(page, radius=2.0).shape == crop.shape   # doctest: +SKIP
True
"""

from __future__ import annotations

import cv2
import numpy as np

#: The sharpened rendering's unsharp mask: the image plus this much of its detail, detail being the image less
#: its blur.
SHARPEN_AMOUNT = 1.0


def clahe(image: np.ndarray) -> np.ndarray:
    """Local contrast equalisation on the luminance: lifts embossed digits out of a same-colour card."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    equalised = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)
    return cv2.cvtColor(equalised, cv2.COLOR_GRAY2BGR)


def sharpened(image: np.ndarray, *, radius: float) -> np.ndarray:
    """``image`` under an unsharp mask (:data:`SHARPEN_AMOUNT`, the blur's ``radius`` in pixels, about a
    blurred stroke's width): the edges of blurred or motion-smeared strokes come back, and flat areas of the
    card stay as they are."""
    blurred = cv2.GaussianBlur(image, (0, 0), radius)
    return cv2.addWeighted(image, 1.0 + SHARPEN_AMOUNT, blurred, -SHARPEN_AMOUNT, 0)


def darkened(image: np.ndarray) -> np.ndarray:
    """``image`` under a steep gamma (x**3): mid tones sink, so faint ink separates from a light card."""
    return _DARKEN_TABLE[image]


_DARKEN_TABLE = np.clip(255.0 * (np.arange(256) / 255.0) ** 3, 0, 255).astype(np.uint8)
