"""The renderings of a crop the readers read besides the plain one: each brings out what another hides.

A number line or a date is read more than once when the first read is not enough, and each re-read sees the
same pixels rendered another way: contrast-equalised (embossed digits in the card's own colour), darkened
(faint strokes of a worn digit on a light card), sharpened (strokes a blur has smeared).

>>> [rendering(crop).shape == crop.shape for rendering in (clahe, darkened, sharpened)]   # doctest: +SKIP
[True, True, True]
"""

from __future__ import annotations

import cv2
import numpy as np

#: The sharpened rendering's unsharp mask: the crop plus this much of its detail, detail being the crop less
#: its blur at a radius of this share of its height (at least a pixel), a little wider than a digit's stroke.
SHARPEN_AMOUNT = 1.0
SHARPEN_RADIUS_SHARE = 1 / 32


def clahe(image: np.ndarray) -> np.ndarray:
    """Local contrast equalisation on the luminance: lifts embossed digits out of a same-colour card."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    equalised = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)
    return cv2.cvtColor(equalised, cv2.COLOR_GRAY2BGR)


def sharpened(image: np.ndarray, radius: float | None = None) -> np.ndarray:
    """``image`` under an unsharp mask (:data:`SHARPEN_AMOUNT`; the blur's ``radius`` in pixels, by default
    :data:`SHARPEN_RADIUS_SHARE` of the height of a line's crop): the edges of blurred or motion-smeared strokes
    come back, and flat areas of the card stay as they are."""
    if radius is None:
        radius = max(1.0, SHARPEN_RADIUS_SHARE * image.shape[0])
    blurred = cv2.GaussianBlur(image, (0, 0), radius)
    return cv2.addWeighted(image, 1.0 + SHARPEN_AMOUNT, blurred, -SHARPEN_AMOUNT, 0)


def darkened(image: np.ndarray) -> np.ndarray:
    """``image`` under a steep gamma (x**3): mid tones sink, so faint ink separates from a light card."""
    return _DARKEN_TABLE[image]


_DARKEN_TABLE = np.clip(255.0 * (np.arange(256) / 255.0) ** 3, 0, 255).astype(np.uint8)
