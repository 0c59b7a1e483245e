"""The renderings of a page or crop the reader looks at besides the plain one: each brings out what another hides.

A page is detected again, and a number line or a date read again, when the first look is not enough, and each
second look sees the same pixels rendered another way: contrast-equalised (embossed digits in the card's own
colour), darkened (faint strokes of a worn digit on a light card), sharpened (strokes a blur has smeared),
relief (raised digits lit from the side, their shading turned back into strokes).

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


#: The relief rendering: detail is the image less its blur at this share of the crop's height (the strokes'
#: shading, without the card's shading and artwork at larger scales)...
RELIEF_DETAIL_SCALE = 0.25
#: ...summed along the line with this much of the sum carried from one pixel to the next, over this many
#: pixels (the carried share is 0.85 ** 31 < 1 % at the far end).
RELIEF_CARRY = 0.85
RELIEF_REACH = 32


def relief(crop: np.ndarray) -> np.ndarray:
    """A line crop's detail summed along the line, left to right, with a short memory.

    Why: raised digits in the card's own colour show no ink, only shading, a light and a dark edge on the
    sides of each stroke facing and facing away from the light. The shading is about the slope of the relief,
    so summing it along the line gives back the relief itself, filled strokes a reader trained on print can
    read, whichever side the light came from (the readers learned the light of their training cards: lit from
    the other side, embossed digits read about half as often). The memory keeps the sum local, so noise and
    the background do not build up along the line.
    """
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    detail = gray - cv2.GaussianBlur(gray, (0, 0), max(1.0, RELIEF_DETAIL_SCALE * crop.shape[0]))
    summed = cv2.filter2D(detail, -1, _RELIEF_KERNEL, anchor=(RELIEF_REACH - 1, 0), borderType=cv2.BORDER_CONSTANT)
    scaled = cv2.normalize(summed, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return cv2.cvtColor(scaled, cv2.COLOR_GRAY2BGR)


#: The sum's weights as a correlation kernel: the pixel itself last (weight 1), each one further left carried less.
_RELIEF_KERNEL = (RELIEF_CARRY ** np.arange(RELIEF_REACH - 1, -1, -1, dtype=np.float32))[None, :]
