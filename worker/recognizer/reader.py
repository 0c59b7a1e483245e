"""Find and read the card in a page: orientation, the number line, re-reads, and the vote.

The order of work keeps the common case cheap: one detection pass, one read of every detected box, one
straightened re-read of the number line (a second, contrast-enhanced one unless two reads already agree on a
number that worn digits cannot turn into another valid one), each crop read by the general recogniser and by
the card-number head. A line whose reads give no number at all is read once more in relief (its shading summed
back into strokes: raised digits in the card's colour, whichever side the light came from). Only when no number
passes does it spend more, in this order:

1. the other way up: the same boxes read in the 180-degree view (or 270 after 90), no second detection;
2. a contrast-enhanced page with a more permissive detector, for embossed digits in the card's own colour;
3. a sharpened page with that detector, for blurred digits no detection pass found so far;
4. when only some digit groups were detected, the line through them stretched across the text area (in any
   pass);
5. the card's outline, straightened, read in strips across the ISO number band (:mod:`numberband`).

A refused card pays for all of that, so it is spared reads that would not answer it: once a pass has read the
card both ways up and one way read clearly more text, later passes and the band read it only that way (the
way it was printed); and the band's contrast-enhanced strips are read only when some read could still make a
band answer of them.

Every detection pass reads only the card's region when its outline is found (:mod:`cardregion`), the whole
page when not, or when the region holds no text or cut through text (then later passes read the page too).

The expiry is read from the boxes this leaves behind, by :mod:`worker.recognizer.expiryreads`.

>>> reading = read_card(engine, bgr, scale=1.0, original_size=(856, 540), acceptable=ok)  # doctest: +SKIP
>>> reading.number.number, reading.view.degrees                                           # doctest: +SKIP
('6225760000000008', 0)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from worker.recognizer.cardframe import find_card_quad
from worker.recognizer.cardnumber import (
    Candidate,
    NumberDecision,
    candidates_from_read,
    has_worn_digit_rival,
    vote,
)
from worker.recognizer.cardregion import DetectionRegion
from worker.recognizer.cropreads import candidates_of_both_readers, digits_of_both_readers
from worker.recognizer.ctc import DecodedChar
from worker.recognizer.engine import Detection, OcrEngine
from worker.recognizer.expiry import parse_dates
from worker.recognizer.geometry import View, crop_quad, pad_quad, quad_size, sub_quad
from worker.recognizer.layout import FocusedRead, TextBox, TextLine, build_lines
from worker.recognizer.linereads import line_groups
from worker.recognizer.numberband import read_number_band
from worker.recognizer.renderings import clahe, darkened, relief, sharpened

#: Lines with fewer digits than this are not number lines.
MIN_LINE_DIGITS = 10
#: A line with this many digits (and little else) seeds a stretched number line when no full one was found.
MIN_SEED_DIGITS = 3
#: How many of the most digit-rich lines get a straightened re-read.
NUMBER_LINES_TRIED = 2
#: Re-read crops are upscaled to at least this height (the recogniser's input height is 48).
REREAD_MIN_HEIGHT = 64
#: The detector's long side in the later, permissive passes (contrast-enhanced, sharpened). Larger sides found
#: no more numbers on the hard synthetic set while the detector's memory grows with the area (peak RSS ~550 MB
#: at 1120 px against ~450 MB at 960), so every pass uses 960.
SECOND_PASS_SIDE = 960
#: The detector's long side in the first pass. Smaller sides (736, 640) cost less but changed which hard
#: synthetic cards passed, and on one of them two re-reads then agreed on a Luhn-valid misreading.
FIRST_PASS_SIDE = 960
#: Boxes smaller than this (pixels, short side) carry no readable text.
MIN_BOX_HEIGHT = 6.0
#: The third pass's page is sharpened at this radius in the detector's pixels: about a blurred stroke's width
#: there (a digit of the number line is ~40 px high at the detector's scale).
PAGE_SHARPEN_RADIUS = 2.0
#: Once a pass has read a card both ways up, later passes and the number band read it only the way that read
#: clearly more text: at least this much (the summed confidence of every character the general reads found,
#: about a dozen sure characters)...
SETTLED_MIN_TEXT = 10.0
#: ...and this many times as much as the other way (the recogniser reads upside-down Latin text too, only
#: worse: a clean card whose number was painted over read 32 one way and 22 the other). Of 180 tuning cards
#: (severe 20060, hard 502) read both ways by the first pass, 165 settled so, every one the way it was printed.
SETTLED_TEXT_RATIO = 1.2
#: The detector's settings per pass: the first as RapidOCR's defaults; the later ones more permissive (fainter
#: boxes kept, grown further, broken strokes joined), for embossed or blurred digits.
FIRST_PASS_DETECTOR: dict[str, Any] = {"box_thresh": 0.5, "unclip_ratio": 1.5, "max_side": FIRST_PASS_SIDE}
PERMISSIVE_DETECTOR: dict[str, Any] = {"box_thresh": 0.3, "unclip_ratio": 1.8, "max_side": SECOND_PASS_SIDE,
                                       "dilate": True}

_SPACE = DecodedChar(" ", 1.0, 0.0, "", 0.0)
_DATE_ONLY = re.compile(r"[0-9/\\\-. ]+")
_DATE_RUN = re.compile(r"[0-9/][0-9/\-.]{1,6}[0-9]")


@dataclass
class CardReading:
    """What one page gave: the view the card reads in, its read boxes, and the number (or why not)."""

    view: View
    boxes: list[TextBox] = field(default_factory=list)
    number: NumberDecision | None = None
    number_quad: np.ndarray = field(default_factory=lambda: np.zeros((4, 2), np.float32))
    failure: str = ""


def orientation_order(detections: list[Detection]) -> list[int]:
    """Quarter turns to try, most likely first: text running up or down the page means a sideways card."""
    along_x = along_y = 0.0
    for detection in detections:
        quad = detection.quad
        dx = float(np.linalg.norm(quad[1] - quad[0]))
        dy = float(np.linalg.norm(quad[3] - quad[0]))
        extent = np.ptp(quad, axis=0)
        area = dx * dy
        if extent[1] > 1.5 * extent[0]:
            along_y += area
        else:
            along_x += area
    return [1, 3, 0, 2] if along_y > along_x else [0, 2, 1, 3]


def _line_chars(line: TextLine) -> list[DecodedChar]:
    chars: list[DecodedChar] = []
    for box in line.boxes:
        if chars:
            chars.append(_SPACE)
        chars.extend(box.read.digits.chars)
    return chars


def _digit_count(line: TextLine) -> int:
    return sum(ch.isdigit() for ch in line.digits)


def _number_lines(lines: list[TextLine]) -> list[TextLine]:
    """Lines that may hold the card number, most likely first (many digits, mostly digits)."""
    scored = []
    for line in lines:
        digits = _digit_count(line)
        if digits < MIN_LINE_DIGITS:
            continue
        visible = [c for c in line.text if not c.isspace()]
        density = sum(c.isdigit() for c in visible) / max(len(visible), 1)
        scored.append((min(digits, 19) * (0.5 + density), line))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    return [line for _, line in scored[:NUMBER_LINES_TRIED]]


def _extended_digit_lines(lines: list[TextLine], boxes: list[TextBox]) -> list[TextLine]:
    """Lines through the digit groups the detector did find, stretched across the whole text area.

    Embossed digits in the card's own colour are often detected only in part (one or two groups of four).
    The number line runs straight through them, so the groups the detector missed lie on the same line:
    re-reading the stretched line gives the recogniser the whole number.
    """
    seeds = []
    for line in lines:
        digits = _digit_count(line)
        visible = [c for c in line.text if not c.isspace()]
        if digits >= MIN_SEED_DIGITS and digits >= 0.7 * len(visible):
            seeds.append((digits, line))
    seeds.sort(key=lambda pair: pair[0], reverse=True)
    stretched = []
    for _, line in seeds[:NUMBER_LINES_TRIED]:
        quad = line.quad
        along = (quad[1] - quad[0]) / max(float(np.linalg.norm(quad[1] - quad[0])), 1e-6)
        spans = np.concatenate([b.quad @ along for b in boxes])
        start, end = float(quad[0] @ along), float(quad[1] @ along)
        grow_left = max(0.0, start - float(spans.min())) + line.height
        grow_right = max(0.0, float(spans.max()) - end) + line.height
        wide = np.array([quad[0] - along * grow_left, quad[1] + along * grow_right,
                         quad[2] + along * grow_right, quad[3] - along * grow_left], dtype=np.float32)
        stretched.append(TextLine(boxes=line.boxes, quad=wide))
    return stretched


#: The renderings of a number line's straightened crop, in the order they are read (see :func:`_read_view`):
#: plain, contrast-enhanced, darkened (faint strokes of a worn digit come out darker than the card around
#: them), and relief (raised digits' shading turned back into strokes, whichever side the light came from).
REREAD_RENDERINGS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray] | None], ...] = (
    ("straight", None), ("clahe", clahe), ("darkened", darkened), ("relief", relief))


def _reread_crop(view: View, line: TextLine) -> np.ndarray:
    """A straightened, padded crop of the line."""
    height = max(line.height, 1.0)
    return crop_quad(view.image, pad_quad(line.quad, 0.5 * height, 0.15 * height), min_height=REREAD_MIN_HEIGHT)


def _date_focus(box: TextBox) -> tuple[float, float] | None:
    """The part of a box worth re-reading on its own for a date (label text cut away), or None.

    A stacked two-line label ("有效期 / VALID THRU") is often detected together with the date beside it, and
    the recogniser then garbles the date; the date part read alone comes out clean.
    """
    full = box.read.full.text
    if sum(ch.isdigit() for ch in box.read.digits.text) >= MIN_LINE_DIGITS:
        return None
    if _DATE_ONLY.fullmatch(full) and parse_dates(full):
        return None
    date = box.read.date
    runs = [m for m in _DATE_RUN.finditer(date.text) if sum(ch.isdigit() for ch in m.group(0)) >= 2]
    if not runs:
        return None
    first = date.chars[runs[-1].start()]
    width, height = quad_size(box.quad)
    char_width = 0.6 * height / max(width, 1.0)
    start = max(0.0, first.position - 2.0 * char_width)
    return (start, 1.0) if start > 0.05 or not _DATE_ONLY.fullmatch(full) else None


def _focus_crop(view: View, box: TextBox, start: float, end: float) -> np.ndarray:
    height = max(box.height, 1.0)
    part = pad_quad(sub_quad(box.quad, start, end), 0.3 * height, 0.1 * height)
    return crop_quad(view.image, part, min_height=REREAD_MIN_HEIGHT)


def _read_view(engine: OcrEngine, view: View, detections: list[Detection], acceptable: Callable[[str], bool],
               pool: list[Candidate], line_reads: list[str], tag: str) -> CardReading:
    """Read one view; ``pool`` holds every candidate seen so far on this page (earlier views and passes
    included), so a confident rival read earlier still blocks a later, different answer; ``line_reads`` the
    digits every read of a number line showed, so a winner that dropped digits is known."""
    reading = CardReading(view=view)
    quads = [view.carry(d.quad) for d in detections]
    quads = [q for q in quads if quad_size(q)[1] >= MIN_BOX_HEIGHT]
    if not quads:
        reading.failure = "no text found in the image"
        return reading
    crops = [crop_quad(view.image, q) for q in quads]
    boxes = [TextBox(quad=q, read=r) for q, r in zip(quads, engine.read(crops), strict=True)]
    reading.boxes = boxes
    lines = build_lines(boxes)
    number_lines = _number_lines(lines) or _extended_digit_lines(lines, boxes)
    if not number_lines:
        reading.failure = "no line with enough digits to be a card number"
        return reading
    seen_before = len(pool)
    for index, line in enumerate(number_lines):
        line_tag = f"{tag}:line{index}:"
        pool += candidates_from_read(_line_chars(line), acceptable, source=f"{line_tag}boxes")
        if (groups := line_groups(_line_chars(line))) is not None:
            line_reads.append(groups)
        decision = None
        straight = _reread_crop(view, line)
        for kind, rendering in REREAD_RENDERINGS:
            if kind == "darkened" and (decision is None or not has_worn_digit_rival(decision.number, acceptable)):
                continue  # the darkened read only checks a winner that worn digits could have faked
            if kind == "relief" and decision is not None:
                break  # the relief read is for a line the other reads found no number in
            crop = straight if rendering is None else rendering(straight)
            reread = engine.read([crop], number=True)[0]
            pool += candidates_of_both_readers(reread, acceptable, source=f"{line_tag}{kind}")
            line_reads += digits_of_both_readers(reread)
            decision = vote(pool, line_reads)
            # two agreeing reads settle it, unless worn digits could make them agree on a rival; otherwise
            # the contrast-enhanced read gets its say too, and for such a rival the darkened one as well
            if (decision is not None and len(decision.support) >= 2
                    and not has_worn_digit_rival(decision.number, acceptable)):
                break
        if decision is not None and any(c.source.startswith(line_tag) for c in decision.support):
            reading.number = decision
            reading.number_quad = line.quad
            reading.boxes = _with_date_rereads(engine, view, boxes)
            return reading
    reading.failure = "no card number passed the Luhn and issuer checks" if len(pool) == seen_before else \
        "the reads did not agree on one card number"
    return reading


def _with_date_rereads(engine: OcrEngine, view: View, boxes: list[TextBox]) -> list[TextBox]:
    """``boxes`` with a focused re-read of the date part wherever a label may have garbled it."""
    focus = [(i, span) for i, box in enumerate(boxes) if (span := _date_focus(box)) is not None]
    if not focus:
        return boxes
    reads = engine.read([_focus_crop(view, boxes[i], *span) for i, span in focus])
    updated = list(boxes)
    for (i, (start, end)), read in zip(focus, reads, strict=True):
        updated[i] = replace(boxes[i], focused=(*boxes[i].focused, FocusedRead(read, start, end)))
    return updated


def read_card(engine: OcrEngine, bgr: np.ndarray, *, scale: float, original_size: tuple[int, int],
              acceptable: Callable[[str], bool]) -> CardReading:
    """Read the card in ``bgr`` (the working image) in whichever orientation it was photographed.

    Parameters:
        engine: the loaded OCR models.
        bgr: the working image (uint8 BGR), possibly downscaled from the original.
        scale: original pixels per working pixel, to report boxes in the original's pixels.
        original_size: (width, height) of the original image.
        acceptable: the Luhn-and-issuer check a number must pass.

    Returns:
        A :class:`CardReading`; its ``number`` is None when nothing passed, with ``failure`` saying why.
    """
    first_failure: CardReading | None = None
    settled: int | None = None  # the quarter turns the card reads in, once a pass's reads have shown it
    pool: list[Candidate] = []
    line_reads: list[str] = []
    passes: tuple[tuple[Callable[[np.ndarray], np.ndarray] | None, dict[str, Any]], ...] = (
        (None, FIRST_PASS_DETECTOR),
        (clahe, PERMISSIVE_DETECTOR),
        (_sharpened_page, PERMISSIVE_DETECTOR),
    )
    card = find_card_quad(bgr)
    region = DetectionRegion.around(card, bgr.shape) if card is not None else None
    for pass_index, (rendering, detector_params) in enumerate(passes):
        page = bgr if rendering is None else rendering(bgr)
        detections, region = _detections(engine, page, region, detector_params)
        if not detections:
            continue
        turns_to_read = orientation_order(detections)[:2]
        if settled in turns_to_read:
            turns_to_read = [settled]
        text_read: dict[int, float] = {}
        for turns in turns_to_read:
            view = View.of(page, quarter_turns=turns, scale=scale, original_size=original_size)
            reading = _read_view(engine, view, detections, acceptable, pool, line_reads,
                                 f"pass{pass_index}:turn{turns}")
            if reading.number is not None:
                return reading
            first_failure = first_failure or reading
            text_read[turns] = _text_read(reading)
        settled = settled if settled is not None else _settled_orientation(text_read)
    upright = View.of(bgr, quarter_turns=0, scale=scale, original_size=original_size)
    band_sides = (settled == 2,) if settled in (0, 2) else (False, True)
    band = read_number_band(engine, upright, card, acceptable, pool, line_reads, upside_down=band_sides)
    if band is not None:
        banded = CardReading(view=upright, number=band.decision, number_quad=band.quad)
        if first_failure is not None and first_failure.view.quarter_turns == 0:
            banded.boxes = first_failure.boxes
        return banded
    if first_failure is None:
        return CardReading(view=upright, failure="no text found in the image")
    return first_failure


def _text_read(reading: CardReading) -> float:
    """How much text a view's box reads found: their characters' summed confidence (the general reads)."""
    return sum(c.conf for box in reading.boxes for c in box.read.full.chars if not c.char.isspace())


def _settled_orientation(text_read: dict[int, float]) -> int | None:
    """The quarter turns a card reads in, when a pass read it both ways and one way read clearly more text
    (:data:`SETTLED_MIN_TEXT`, :data:`SETTLED_TEXT_RATIO`); None when the pass leaves it open."""
    if len(text_read) != 2:
        return None
    (more, most), (_, other) = sorted(text_read.items(), key=lambda item: item[1], reverse=True)
    return more if most >= SETTLED_MIN_TEXT and most >= SETTLED_TEXT_RATIO * other else None


def _sharpened_page(bgr: np.ndarray) -> np.ndarray:
    """The page sharpened at :data:`PAGE_SHARPEN_RADIUS` pixels of the detector's scale."""
    return sharpened(bgr, radius=PAGE_SHARPEN_RADIUS * max(1.0, max(bgr.shape[:2]) / SECOND_PASS_SIDE))


def _detections(engine: OcrEngine, page: np.ndarray, region: DetectionRegion | None,
                detector_params: dict[str, Any]) -> tuple[list[Detection], DetectionRegion | None]:
    """A pass's text boxes: the card region's when the outline was found and its region holds text it does
    not cut, else the whole page's (an outline found on a textless shape of the background holds none).

    Also the region later passes may use: none once it cut through text, since the outline is then wrong and
    a more permissive pass's larger boxes would only be cut again, one detector call wasted.
    """
    found = region.detect(engine, page, **detector_params) if region is not None else None
    if found is None:
        region = None
    return found or engine.detect(page, **detector_params), region
