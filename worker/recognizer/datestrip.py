"""Find the date boxes the page's detection missed, in the strip below the number line.

Why: a card's dates are printed small under its number, and when embossed in the card's own colour, blurred
or faint, the detector that found the number line often finds no box there at all (of the tuning cards whose
number was read and whose expiry was missed, about a third had no box on the date). Seen again alone, that
strip is a small image in which the date is a large share: straightened along the number line, scaled so the
number's height is :data:`STRIP_NUMBER_HEIGHT` pixels, and detected with the permissive settings plain and
contrast-enhanced, it shows many of those dates and their labels as boxes. They join the page's boxes for the
expiry's usual choice and confirmation (:mod:`worker.recognizer.expiryreads`), read by the general recogniser
only: the date head, trained on crops of a date itself, read dates into the strip's other boxes (a label, half
of a range, a valid-from date misread as a later one), and of the dates only it saw there, on tuning and
held-apart cards, two were right and five wrong; it still has its say in the confirming reads of the chosen
date.

It costs two detections of a strip at most about a quarter of a page's area, and is spent only when the
page's boxes show no date at all.
"""

from __future__ import annotations

import numpy as np

from worker.recognizer.engine import Detection, OcrEngine
from worker.recognizer.geometry import View, below, crop_quad, map_quad, quad_size, straighten
from worker.recognizer.layout import TextBox
from worker.recognizer.reader import PERMISSIVE_DETECTOR
from worker.recognizer.renderings import clahe

#: The strip below the number line where dates are looked for: along it from this fraction of its width to
#: this one (dates sit from about its middle to past its end, a range's second date up to 1.15 of it; the
#: detected line can be shorter than the number, and a date box cut at the strip's end loses its last digits),
#: and across from this much above its lower edge to this much below, in units of its height (generated cards
#: print the date's top 0.5-1.6 heights below the number's lower edge, its bottom at most 3.6 below).
STRIP_ALONG = (0.1, 1.45)
STRIP_ACROSS = (-0.1, 3.3)
#: The number line's height in the strip's pixels: dates are then about 35 px high, as large as the detector
#: sees a page's number.
STRIP_NUMBER_HEIGHT = 48
#: A box found in both renderings of the strip is kept once: the contrast-enhanced one's overlapping an
#: earlier one by this much (intersection over union of their bounding boxes) is dropped.
SAME_BOX_IOU = 0.3
#: The strip's boxes are read at least this high (the recogniser's input height is 48).
BOX_READ_HEIGHT = 48
#: Boxes smaller than this (pixels of the view, short side) carry no readable text.
MIN_BOX_HEIGHT = 4.0


def boxes_below_number(engine: OcrEngine, view: View, number_quad: np.ndarray) -> list[TextBox]:
    """The text boxes detected in the strip below ``number_quad`` (in ``view``'s pixels), each read by the
    general recogniser; in the view's pixels, for :func:`~worker.recognizer.expiry.ranked_expiries`."""
    number_height = quad_size(number_quad)[1]
    if number_height < 1.0:
        return []
    strip = below(number_quad, *STRIP_ALONG, *STRIP_ACROSS)
    depth = STRIP_ACROSS[1] - STRIP_ACROSS[0]
    image, to_view = straighten(view.image, strip, min_height=round(depth * STRIP_NUMBER_HEIGHT))
    # the later page passes' permissive detector, for faint embossed dates, seeing the strip at its own size up
    # to their long side
    detector = {**PERMISSIVE_DETECTOR, "max_side": min(max(image.shape[:2]), PERMISSIVE_DETECTOR["max_side"])}
    found: list[Detection] = []
    for rendering in (image, clahe(image)):
        for detection in engine.detect(rendering, **detector):
            if not any(_overlap(detection.quad, kept.quad) > SAME_BOX_IOU for kept in found):
                found.append(detection)
    quads = [quad for quad in (map_quad(d.quad, to_view) for d in found) if quad_size(quad)[1] >= MIN_BOX_HEIGHT]
    if not quads:
        return []
    reads = engine.read([crop_quad(view.image, quad, min_height=BOX_READ_HEIGHT) for quad in quads])
    return [TextBox(quad=quad, read=read) for quad, read in zip(quads, reads, strict=True)]


def _overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two quads' bounding boxes."""
    low = np.maximum(first.min(axis=0), second.min(axis=0))
    high = np.minimum(first.max(axis=0), second.max(axis=0))
    intersection = float(np.prod(np.clip(high - low, 0.0, None)))
    union = float(np.prod(np.ptp(first, axis=0)) + np.prod(np.ptp(second, axis=0))) - intersection
    return intersection / max(union, 1e-6)
