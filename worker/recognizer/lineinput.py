"""A text-line crop as PP-OCR's recognisers take it: 48 pixels high, scaled to [-1, 1], padded right.

The engine reads every crop this way, and the card-number head's training prepares its crops the same way
(its features come out of the same recogniser): a pixel of difference in the width changes what a blurred
digit reads as, so both share this one preparation.

>>> tensor, share = line_tensor(crop)       # doctest: +SKIP
>>> tensor.shape, share                     # doctest: +SKIP
((3, 48, 640), 1.0)
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: The recognisers' input height.
REC_HEIGHT = 48
#: Narrow crops are padded to at least this width/height ratio (the recognisers were trained at 320x48).
MIN_REC_RATIO = 2.0


def line_tensor(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """``crop`` (BGR, one line) resized to :data:`REC_HEIGHT`, scaled to [-1, 1] and padded right to at least
    :data:`MIN_REC_RATIO`, as a 3 x 48 x W float32 tensor; also the unpadded share of its width."""
    height, width = crop.shape[:2]
    padded_width = int(REC_HEIGHT * max(MIN_REC_RATIO, width / max(height, 1)))
    resized_width = max(1, min(padded_width, math.ceil(REC_HEIGHT * width / max(height, 1))))
    resized = cv2.resize(crop, (resized_width, REC_HEIGHT)).astype(np.float32)
    resized = (resized.transpose((2, 0, 1)) / 255.0 - 0.5) / 0.5
    tensor = np.zeros((3, REC_HEIGHT, padded_width), dtype=np.float32)
    tensor[:, :, :resized_width] = resized
    return tensor, resized_width / padded_width
