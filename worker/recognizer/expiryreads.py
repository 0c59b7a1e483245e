"""Read the expiry of a card whose number was found: pick among the dates its boxes show, and confirm it.

Why a confirming re-read: the expiry is chosen from one read of each box, and on embossed or blurred cards
that read can be sure and wrong ("01/2021" for 01/29 at 0.99). A wrong date is worse than none (the caller
cannot tell it from a right one), so the chosen date is answered only when a second read of its own pixels,
cropped to the date alone and upscaled, shows the same month and year: first plain, then contrast-enhanced.
The re-reads cost one or two recogniser calls on a short crop, a few milliseconds against the page's
detection.

When the plain reads show no date at all, :func:`with_expiry_rereads` first gives the short digit boxes a
contrast-enhanced read (embossed dates are often detected but read with a digit or the slash lost).

>>> decision = read_expiry(engine, reading.view, reading.boxes)   # doctest: +SKIP
>>> decision.text if decision else ""                             # doctest: +SKIP
'08/2028'
"""

from __future__ import annotations

from dataclasses import replace

from worker.recognizer.engine import OcrEngine
from worker.recognizer.expiry import ExpiryDecision, find_expiry, parse_dates, read_shows
from worker.recognizer.geometry import View, crop_quad, pad_quad, quad_size
from worker.recognizer.layout import FocusedRead, TextBox
from worker.recognizer.reader import clahe

#: A box whose date decode shows this many digits (and no date) may be a garbled expiry worth a re-read.
EXPIRY_REREAD_DIGITS = (2, 6)
#: At most this many boxes get the expiry re-read (the number line and long texts never qualify).
MAX_EXPIRY_REREADS = 4
#: The expiry re-read's crop height: larger than the number re-read, dates are printed smaller.
EXPIRY_REREAD_HEIGHT = 96
#: The confirming crop's margins around the date's own span, in units of its height: along the line (a digit
#: cut at either end would change the date) and across it.
CONFIRM_MARGIN_ALONG = 0.6
CONFIRM_MARGIN_ACROSS = 0.15
#: The fallback re-read's margin along the line, in units of the box's height.
FALLBACK_MARGIN_ALONG = 0.3


def read_expiry(engine: OcrEngine, view: View, boxes: list[TextBox]) -> ExpiryDecision | None:
    """The card's expiry from ``boxes`` (one view's read boxes), confirmed by a re-read; None when no date is
    printed, or when the chosen one is not seen again."""
    chosen = find_expiry(boxes)
    if chosen is None and boxes:
        chosen = find_expiry(with_expiry_rereads(engine, view, boxes))
    if chosen is None:
        return None
    return chosen if confirmed(engine, view, chosen) else None


def confirmed(engine: OcrEngine, view: View, decision: ExpiryDecision) -> bool:
    """True when a re-read of the date's own crop, plain or contrast-enhanced, shows the decision's date."""
    _, height = quad_size(decision.quad)
    part = pad_quad(decision.quad, CONFIRM_MARGIN_ALONG * height, CONFIRM_MARGIN_ACROSS * height)
    plain = crop_quad(view.image, part, min_height=EXPIRY_REREAD_HEIGHT)
    for crop in (plain, clahe(plain)):
        read = engine.read([crop])[0]
        if read_shows([read.full, read.date], decision.month, decision.year):
            return True
    return False


def with_expiry_rereads(engine: OcrEngine, view: View, boxes: list[TextBox]) -> list[TextBox]:
    """``boxes`` with a contrast-enhanced, upscaled re-read of every short box that shows a few digits but no
    date; for when no expiry was found in the plain reads.

    Embossed dates in the card's own colour are detected but often read with a digit or the slash lost
    ("0 2/24", "9 0"); the CLAHE read of the same box, larger, recovers many of them. It costs a recogniser
    call per such box, so it runs only as a fallback.
    """
    targets = []
    for index, box in enumerate(boxes):
        digits = sum(ch.isdigit() for ch in box.read.date.text)
        if not EXPIRY_REREAD_DIGITS[0] <= digits <= EXPIRY_REREAD_DIGITS[1]:
            continue
        if parse_dates(box.read.full.text) or parse_dates(box.read.date.text):
            continue
        targets.append(index)
    targets = targets[:MAX_EXPIRY_REREADS]
    if not targets:
        return boxes
    crops = []
    for index in targets:
        box = boxes[index]
        height = max(box.height, 1.0)
        part = pad_quad(box.quad, FALLBACK_MARGIN_ALONG * height, 0.1 * height)
        crops.append(clahe(crop_quad(view.image, part, min_height=EXPIRY_REREAD_HEIGHT)))
    updated = list(boxes)
    for index, read in zip(targets, engine.read(crops), strict=True):
        updated[index] = replace(boxes[index], focused=(*boxes[index].focused, FocusedRead(read, 0.0, 1.0)))
    return updated
