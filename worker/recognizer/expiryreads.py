"""Read the expiry of a card whose number was found: pick among the dates its boxes show, and confirm it.

Why a confirming re-read: the expiry is chosen from one read of each box, and on embossed or blurred cards
that read can be sure and wrong ("01/2021" for 01/29 at 0.99). A wrong date is worse than none (the caller
cannot tell it from a right one), so the chosen date is answered only when a second read of its own pixels,
cropped to the date alone and upscaled, shows the same month and year: first plain, then contrast-enhanced;
when both show no date, reads at more scales and margins vote, and the date must be what most of them show
(:func:`read_again`). Each re-read is the date head's too (:mod:`worker.recognizer.datereader`), which reads the
embossed dates the general reads garble. The re-reads cost two recogniser calls on a short crop, a few
milliseconds against the page's detection, and ten more when the first two show no date. When the first two
show another date instead, and the date head reads that one surely in both and most reads at the other scales
show it too, it is what the card prints and the page's read of the box misread it ("05/2034" for an embossed
06/34): it is answered in the chosen date's place (:func:`read_again`), checked for a later date after it as
the chosen one was; only under an expiry label, read with the date or beside it.

When the plain reads show no date at all, :func:`with_expiry_rereads` first gives the short digit boxes a plain
and a contrast-enhanced read, larger, by both readers (embossed dates are often detected but read with a digit
or the slash lost). When still no box shows a date, the strip below the number line is detected again, larger
and contrast-enhanced (:mod:`worker.recognizer.datestrip`): small embossed dates often have no box of the
page's detection at all.

Why a label check beside an unlabelled date: cards print the labels of their dates small, on two lines to the
date's left (VALID / THRU, MEMBER / SINCE, VALID / FROM), often too small or faint for the detector, and a
member-since or valid-from date alone on its line would then be answered as the expiry. Before such a date is
confirmed, :func:`label_beside` reads the area left of it; a distractor label there drops the date (the next
candidate may still be answered). Three short reads, only for a date no label was read with.

Why a read right of the date: a range's thru half is often lost to the page's detection (under the network's
logo, in glare) while its valid-from half has a box, and a date printed before the expiry on its line (member
since) may be the only one read; either would be answered as the expiry. :func:`later_date_after` reads the
area after the chosen date on its line, and a later date or year there passes it over; a later date read whole
there takes its place (and is checked the same way). One short read, and one further along for a date read
without an expiry label.

>>> decision = read_expiry(engine, reading.view, reading.boxes)   # doctest: +SKIP
>>> decision.text if decision else ""                             # doctest: +SKIP
'08/2028'
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from worker.recognizer.ctc import Decoded
from worker.recognizer.datestrip import boxes_below_number
from worker.recognizer.engine import LineRead, OcrEngine
from worker.recognizer.expiry import (
    DateMatch,
    ExpiryDecision,
    label_kind,
    latest_plausible_year,
    parse_dates,
    ranked_expiries,
)
from worker.recognizer.geometry import View, crop_quad, left_of, pad_quad, quad_size, right_of
from worker.recognizer.layout import FocusedRead, TextBox
from worker.recognizer.lineinput import REC_HEIGHT
from worker.recognizer.renderings import clahe

#: A box whose date decode shows this many digits (and no date) may be a garbled expiry worth a re-read.
EXPIRY_REREAD_DIGITS = (2, 6)
#: At most this many boxes get the expiry re-read (the number line and long texts never qualify).
MAX_EXPIRY_REREADS = 4
#: The expiry re-read's crop height: larger than the number re-read, dates are printed smaller.
EXPIRY_REREAD_HEIGHT = 96
#: The confirming crops: (least height in pixels, 0 for the image's own; margin along the line; margin across
#: it; margins in units of the date's height, along wide enough that no digit is cut at either end). The first
#: is read first; the others only when its plain and contrast-enhanced reads both show no date.
CONFIRM_VARIANTS: tuple[tuple[int, float, float], ...] = (
    (EXPIRY_REREAD_HEIGHT, 0.6, 0.15), (64, 0.6, 0.15), (48, 0.6, 0.15), (0, 0.6, 0.15), (64, 1.0, 0.3),
    (128, 0.6, 0.15),
)
#: The date head's read of a date counts only when each of its characters is this sure: on tuning cards most of
#: its wrong dates had a character at 0.36-0.55, most of its right ones none below 0.6.
HEAD_MIN_CHAR_CONF = 0.6
#: Reads that must show a date a first confirming read missed (see :func:`read_again`).
MIN_CONFIRMING_READS = 2
#: The fallback re-read's margin along the line, in units of the box's height.
FALLBACK_MARGIN_ALONG = 0.3
#: The label area left of a date, in units of the date box's height: how far it reaches, the gap it leaves
#: before the date, and the bands read across it (from the date's centre line; negative is up): the label's
#: upper line, its lower line, and both as one line (a label printed on one line beside the date).
LABEL_REACH = 2.8
LABEL_GAP = 0.1
LABEL_BANDS: tuple[tuple[float, float], ...] = ((-0.62, 0.0), (0.0, 0.62), (-0.45, 0.45))
#: The areas right of a date read for a later date on its line, in units of the date box's height, from and to:
#: near, a range's dash and its YYYY/MM thru half (about nine characters); far, for a date no expiry label was
#: read with, a gap, a small two-line label and an MM/YY date, as "MEMBER SINCE 01/23  EXPIRES END 10/24" is
#: printed (read apart: one long crop of both, mostly empty card, read the near half's later year worse).
AFTER_NEAR = (LABEL_GAP, 7.0)
AFTER_FAR = (6.0, 13.0)
#: Their band across the line.
AFTER_BAND = (-0.6, 0.6)
#: A later date read whole there is located with this margin each side of its first and last characters'
#: centres, in units of the first date's height (about a digit's width).
AFTER_DATE_MARGIN = 0.5
#: At most this many later dates are followed along a line (a member-since date, a range's first half, its
#: thru half).
MAX_LATER_DATES = 2
#: A year printed after a date where the rest of the date is lost: 20YY at the start of a token ("2024720" for
#: 2024/10), or two digits after a slash ("00/34" for 05/34).
_YEAR = re.compile(r"(?<![0-9])20([0-9]{2})|/\s?([0-9]{2})(?![0-9])")
#: Two digits together: after two dates on a line, what a third date leaves in a read, however misread.
_TWO_DIGITS = re.compile(r"[0-9]{2}")


def read_expiry(engine: OcrEngine, view: View, boxes: list[TextBox],
                number_quad: np.ndarray | None = None) -> ExpiryDecision | None:
    """The card's expiry from ``boxes`` (one view's read boxes), confirmed by a re-read (or read again as the
    date its own pixels show, see :func:`read_again`); None when no date is printed, or when the chosen one is
    not seen again.

    The most likely date is chosen (:func:`~worker.recognizer.expiry.ranked_expiries`), passing over
    unlabelled dates that a distractor label beside them rules out (:func:`label_beside`). When no box shows a
    date, even re-read, the strip below ``number_quad`` (the number line, in the view's pixels) is searched
    for the boxes the page's detection missed (:mod:`worker.recognizer.datestrip`).
    """
    ranked = ranked_expiries(boxes)
    if not ranked and boxes:
        boxes = with_expiry_rereads(engine, view, boxes)
        ranked = ranked_expiries(boxes)
    if not ranked and number_quad is not None:
        ranked = ranked_expiries([*boxes, *boxes_below_number(engine, view, number_quad)])
    for candidate in ranked:
        beside = None if candidate.labelled else label_beside(engine, view, candidate)
        if beside == "distractor":
            continue
        answer = _last_on_its_line(engine, view, candidate)
        if answer is None:
            continue
        again = read_again(engine, view, answer, expiry_label=answer.labelled or beside == "expiry")
        if again is None or again is answer:
            return again
        # the date's own pixels print another date: checked for a later one after it, as the first was
        return again if _last_on_its_line(engine, view, again) is again else None
    return None


def _last_on_its_line(engine: OcrEngine, view: View, candidate: ExpiryDecision) -> ExpiryDecision | None:
    """``candidate``, or the later date read whole after it on its line (and after that one, up to
    :data:`MAX_LATER_DATES`); None when a later date or year is read there but not whole, or too many.

    After a later date, any two digits read further on count (:data:`_TWO_DIGITS`): the line then holds two dates
    at least, and digits after them, however misread ("03/207" for a range's "05/2025", "20" for its "2033/08"
    under the network's logo), are the range's thru half, not something else."""
    for followed in range(MAX_LATER_DATES + 1):
        later = later_date_after(engine, view, candidate, any_date=followed > 0)
        if later is None:
            return candidate
        if later.date is None:
            return None
        candidate = later.date
    return None


def label_beside(engine: OcrEngine, view: View, decision: ExpiryDecision) -> str | None:
    """"expiry", "distractor" or None: the label kind read in the area left of the date (see
    :data:`LABEL_BANDS`); a distractor in any read, or in the two lines' reads joined, wins."""
    crops = [crop_quad(view.image, left_of(decision.quad, LABEL_REACH, LABEL_GAP, top, bottom), min_height=REC_HEIGHT)
             for top, bottom in LABEL_BANDS]
    texts = [read.full.text for read in engine.read(crops)]
    kinds = {label_kind(text) for text in [*texts, texts[0] + texts[1]]}
    for kind in ("distractor", "expiry"):
        if kind in kinds:
            return kind
    return None


@dataclass(frozen=True)
class LaterDate:
    """What the read right of a date showed later than it: ``date`` is a later date it read whole, located in
    the area and ready to be confirmed; None when only a later year was read (the rest of its date lost)."""

    date: ExpiryDecision | None


def later_date_after(engine: OcrEngine, view: View, decision: ExpiryDecision, *,
                     any_date: bool = False) -> LaterDate | None:
    """What reads of the area right of the date, on its line, show later than it: a later date, or a later year
    (:data:`_YEAR`) where the rest of a date is lost; None when nothing later. The date is then not the card's
    last but a range's valid-from half whose thru half no box holds ("2021/06 - 2024/10", the second date under a
    logo), or a date printed before the expiry on its line ("MEMBER SINCE 01/23  EXPIRES END 10/24", the
    expiry too faint for a box of the page's detection).

    A plain read of :data:`AFTER_NEAR`, by both readers, and of :data:`AFTER_FAR` when no expiry label was read
    with the date and the near one shows nothing later: the area is empty or shows artwork on almost every
    card, and only a year later than the date's own (and not past
    :func:`~worker.recognizer.expiry.latest_plausible_year`) counts. A later date read whole is located in its area
    (:func:`_located_after`), so that it can be answered in the first date's place. With ``any_date``, any two
    digits read there count as a later date not read whole.
    """
    areas = (AFTER_NEAR,) if decision.labelled else (AFTER_NEAR, AFTER_FAR)
    for start, end in areas:
        later = _later_in(engine, view, decision, start, end, any_date)
        if later is not None:
            return later
    return None


def _later_in(engine: OcrEngine, view: View, decision: ExpiryDecision, start: float, end: float,
              any_date: bool) -> LaterDate | None:
    """What one read of the area from ``start`` to ``end`` heights right of the date shows later than it."""
    top, bottom = AFTER_BAND
    area = right_of(decision.quad, start, end, top, bottom)
    (read,) = engine.read([crop_quad(view.image, area, min_height=REC_HEIGHT)], expiry=True)
    decodes = [decoded for decoded in (read.expiry, read.date, read.full) if decoded is not None]
    later_dates = [(decoded, date) for decoded in decodes for date in parse_dates(decoded.text)
                   if (date.year, date.month) > (decision.year, decision.month)]
    for decoded, date in later_dates:
        if date.exact:
            return LaterDate(_located_after(decision, (start, end), decoded, date))
    texts = [decoded.text for decoded in decodes]
    if later_dates or (any_date and any(_TWO_DIGITS.search(text) for text in texts)):
        return LaterDate(None)
    latest = latest_plausible_year()
    years = [2000 + int(long or short) for text in texts for long, short in _YEAR.findall(text)]
    return LaterDate(None) if any(decision.year < year <= latest for year in years) else None


def _located_after(decision: ExpiryDecision, area: tuple[float, float], decoded: Decoded,
                   later: DateMatch) -> ExpiryDecision:
    """The date ``later`` of a read of ``area`` (from, to, in heights right of ``decision``) as a decision of its
    own: its quad spans its first to its last character (:data:`AFTER_DATE_MARGIN` either side), on the first
    date's line and at its height."""
    start, end = area
    first, last = decoded.chars[later.start].position, decoded.chars[later.end - 1].position
    conf = float(np.mean([c.conf for c in decoded.chars[later.start:later.end]]))
    return ExpiryDecision(month=later.month, year=later.year, conf=round(conf, 4),
                          quad=right_of(decision.quad, max(start + first * (end - start) - AFTER_DATE_MARGIN, 0.0),
                                        start + last * (end - start) + AFTER_DATE_MARGIN, -0.5, 0.5))


def read_again(engine: OcrEngine, view: View, decision: ExpiryDecision, *,
               expiry_label: bool) -> ExpiryDecision | None:
    """``decision`` when re-reads of its own crop confirm it; else, for a date an expiry label was read with or
    beside (``expiry_label``), the date they show instead when the date head reads one other date surely in
    both first crops and most reads at the other scales show it too (:func:`_read_as_another`); else None.

    Why only under an expiry label: an unlabelled date may be a member-since or valid-from date whose label no
    read made out, kept from being answered so far only because it was misread ("09/2027" for MEMBER SINCE
    09/23); read right, it is still not the expiry.

    Confirmed when a re-read of the date's own crop, plain or contrast-enhanced, shows the decision's date; or,
    when neither shows any date, when the date is what reads of the crop at more scales and margins
    (:data:`CONFIRM_VARIANTS`) show most: at least :data:`MIN_CONFIRMING_READS` of them, and more of them than
    any other date.

    Why more reads after a miss: a blurred or embossed date is often lost at one scale and read at another,
    and two reads that show nothing say little; a date most reads of its pixels agree on is confirmed, a wrong
    date a few reads share is not. First reads that show another date are a rival, not a miss: a range
    "05/28-05/30" read as 05/20 by most small crops was read 05/30 by the first.

    Every read here is the date head's as well (:mod:`worker.recognizer.datereader`), and where the head reads
    a date surely it speaks for that read (:func:`_dates_shown`): it reads embossed dates the general reads
    garble ("801733" for 01/33), and the general reads' consistent misreads ("05/34" for 06/34) are not
    confirmed against it. A sure head read of another date in either first crop is a rival, even when the
    other crop shows the date (a range's "05/30" read 05/20 in the contrast-enhanced crop).
    """
    first = _confirm_crop(view, decision, CONFIRM_VARIANTS[0])
    date = (decision.month, decision.year)
    reads = engine.read([first, clahe(first)], expiry=True)
    heads = [_head_dates(read) for read in reads]
    shown = [head or _general_dates(read) for head, read in zip(heads, reads, strict=True)]
    head_rival = any(head and date not in head for head in heads)
    if any(date in dates for dates in shown) and not head_rival:
        return decision
    if any(shown):
        # the first reads saw another date: a rival, not a miss; answered only if it is what the pixels print
        return _read_as_another(engine, view, decision, heads) if expiry_label else None
    # the first reads showed no date, so the vote is the other scales' alone
    return decision if _most_shown(_dates_at_other_scales(engine, view, decision), date) else None


def _read_as_another(engine: OcrEngine, view: View, decision: ExpiryDecision,
                     heads: list[set[tuple[int, int]]]) -> ExpiryDecision | None:
    """The date the first crops' sure head reads both show, one and the same and not ``decision``'s, as a
    decision in ``decision``'s place, when the reads of the other scales (:data:`CONFIRM_VARIANTS`) show it most
    too (:data:`MIN_CONFIRMING_READS` of them, more than any other date, ``decision``'s included); else None.

    Why: the chosen date comes from one read of a box at the page's scale, and on embossed or blurred cards that
    read misses a stroke ("05/2034" for 06/34); the date head reading the date's own crop, upscaled, surely and
    alike plain and contrast-enhanced, and most reads at other scales agreeing, is what the card prints. Two sure
    head reads that differ ("03/2037" and "03/2031" for 03/27) speak for no date.
    """
    first, second = heads
    if len(first) != 1 or first != second or (decision.month, decision.year) in first:
        return None
    (month, year), = first
    if not _most_shown(_dates_at_other_scales(engine, view, decision), (month, year)):
        return None
    return replace(decision, month=month, year=year)


def _dates_at_other_scales(engine: OcrEngine, view: View, decision: ExpiryDecision) -> Counter[tuple[int, int]]:
    """How many reads of the date's crops at the other :data:`CONFIRM_VARIANTS` (each plain and
    contrast-enhanced) show each date."""
    others = [_confirm_crop(view, decision, variant) for variant in CONFIRM_VARIANTS[1:]]
    reads = engine.read([crop for plain in others for crop in (plain, clahe(plain))], expiry=True)
    return Counter(shown_date for read in reads for shown_date in _dates_shown(read))


def _most_shown(seen: Counter[tuple[int, int]], date: tuple[int, int]) -> bool:
    """Whether ``date`` is shown by :data:`MIN_CONFIRMING_READS` reads or more, and by more than any other date."""
    count = seen.get(date, 0)
    return count >= MIN_CONFIRMING_READS and count > max((n for d, n in seen.items() if d != date), default=0)


def _head_dates(read: LineRead) -> set[tuple[int, int]]:
    """The dates the date head reads surely (every character of the date at :data:`HEAD_MIN_CHAR_CONF` or more)."""
    if read.expiry is None:
        return set()
    decoded = read.expiry
    return {(d.month, d.year) for d in parse_dates(decoded.text)
            if min(c.conf for c in decoded.chars[d.start:d.end]) >= HEAD_MIN_CHAR_CONF}


def _general_dates(read: LineRead) -> set[tuple[int, int]]:
    """The dates the general read shows, in its full or its digits-and-separators decode."""
    return {(d.month, d.year) for decoded in (read.full, read.date) for d in parse_dates(decoded.text)}


def _dates_shown(read: LineRead) -> set[tuple[int, int]]:
    """The (month, year) pairs one read shows: the date head's sure dates where it reads any, else the general
    read's."""
    return _head_dates(read) or _general_dates(read)


def _confirm_crop(view: View, decision: ExpiryDecision, variant: tuple[int, float, float]) -> np.ndarray:
    """The date's own crop at one of :data:`CONFIRM_VARIANTS` (0 as the height: the image's own scale)."""
    min_height, along, across = variant
    _, height = quad_size(decision.quad)
    return crop_quad(view.image, pad_quad(decision.quad, along * height, across * height), min_height=min_height)


def with_expiry_rereads(engine: OcrEngine, view: View, boxes: list[TextBox]) -> list[TextBox]:
    """``boxes`` with a plain and a contrast-enhanced upscaled re-read, by the general reader and the date head,
    of every short box that shows a few digits but no date; for when no expiry was found in the plain reads.

    Embossed dates in the card's own colour are detected but often read with a digit or the slash lost
    ("0 2/24", "9 0", "95724" for 05/24); the CLAHE read of the same box, larger, recovers some of them, the
    date head's reads of it most. It costs two recogniser calls per such box, so it runs only as a fallback.
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
        plain = crop_quad(view.image, part, min_height=EXPIRY_REREAD_HEIGHT)
        crops += [plain, clahe(plain)]
    updated = list(boxes)
    reads = engine.read(crops, expiry=True)
    for number, index in enumerate(targets):
        extra = tuple(FocusedRead(read, 0.0, 1.0) for read in reads[2 * number:2 * number + 2])
        updated[index] = replace(boxes[index], focused=(*boxes[index].focused, *extra))
    return updated
