"""Text detection inside the card's outline instead of across the whole photo.

The DB detector's cost grows with the area it reads, and it dominates the time of a card (~0.55 s of ~0.8 s
at 960 px on one core). A card photographed at arm's length fills a quarter of the photo; read at the scale
the whole page would be read at, the card's region alone costs about a quarter of that. The scale is kept:
read smaller, a card's finer text merges with its neighbours (a stacked "VALID / THRU" label joined its date
with the card at 760 px, and the date went unread), and read larger it costs what the crop saved.

The outline can be wrong (a panel of the card's artwork, or a background shape), and then the region cuts
through text. A detected box touching a side of the region that is not also a side of the photo shows that
cut (or a box ending within its own height of such a side: the detector's box stops short of a digit
the side cuts in two), and the page is detected whole instead (:meth:`DetectionRegion.detect` answers None).

>>> region = DetectionRegion.around(card_quad, page.shape)                             # doctest: +SKIP
>>> region.detect(engine, page, max_side=960, box_thresh=0.5, unclip_ratio=1.5)     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from worker.recognizer.engine import Detection, OcrEngine
from worker.recognizer.geometry import quad_size

#: Room kept around the outline, as a share of the card's long side: an outline a little short of the card
#: still holds all of its text.
REGION_MARGIN = 0.06
#: A box within its own height, or at least this many pixels (at the detector's scale), of an inner side of
#: the region may have been cut by it: the detector's box stops short of a digit the side cuts in two (a
#: 19-digit line cut in its last digit came back as a Luhn-valid 18-digit box ending 19 px before the side).
CUT_TOLERANCE = 3.0


@dataclass(frozen=True)
class DetectionRegion:
    """The part of the page the detector reads: ``page[top:bottom, left:right]``."""

    left: int
    top: int
    right: int
    bottom: int
    page_width: int
    page_height: int

    @classmethod
    def around(cls, card: np.ndarray, page_shape: tuple[int, ...]) -> DetectionRegion:
        """The region of a card outline (four corners in page pixels) with its margin, clipped to the page."""
        page_height, page_width = page_shape[:2]
        low, high = card.min(axis=0), card.max(axis=0)
        card_side = float(max(high - low))
        margin = REGION_MARGIN * card_side
        return cls(left=int(max(0.0, low[0] - margin)), top=int(max(0.0, low[1] - margin)),
                   right=int(min(page_width, high[0] + margin)), bottom=int(min(page_height, high[1] + margin)),
                   page_width=page_width, page_height=page_height)

    def detect(self, engine: OcrEngine, page: np.ndarray, *, max_side: int,
               **detector_params: Any) -> list[Detection] | None:
        """Text boxes in the region, in ``page`` pixels, detected at the scale the whole page would be with
        ``max_side`` (other parameters as :meth:`OcrEngine.detect`'s); None when a box touches an inner side
        of the region or ends within its own height of one (the outline cut through text, so the region
        cannot be trusted)."""
        part = page[self.top:self.bottom, self.left:self.right]
        if part.size == 0:
            return None
        # the detector scales the part as it would the page (same factor, same interpolation) and answers
        # in the part's pixels
        factor = min(1.0, max_side / max(self.page_height, self.page_width))
        long_side = max(part.shape[:2])
        part_side = max(1, round(long_side * factor))
        found = engine.detect(part, max_side=part_side, **detector_params)
        scale = long_side / part_side
        if any(self._is_cut(d.quad, part.shape[:2], max(CUT_TOLERANCE * scale, quad_size(d.quad)[1]))
               for d in found):
            return None
        offset = np.array([self.left, self.top], np.float32)
        return [Detection(quad=d.quad + offset, score=d.score) for d in found]

    def _is_cut(self, quad: np.ndarray, shape: tuple[int, ...], tolerance: float) -> bool:
        """Whether ``quad`` (in the pixels of the part, ``shape``) reaches within ``tolerance`` of a side of
        the region that lies inside the page."""
        height, width = shape[:2]
        low, high = quad.min(axis=0), quad.max(axis=0)
        return bool((self.left > 0 and low[0] <= tolerance)
                    or (self.top > 0 and low[1] <= tolerance)
                    or (self.right < self.page_width and high[0] >= width - 1 - tolerance)
                    or (self.bottom < self.page_height and high[1] >= height - 1 - tolerance))
