"""Find the expiry date among a card's text lines and answer it as ``MM/YYYY``.

Cards print the expiry as MM/YY, MM/YYYY, YYYY/MM (2024/12, common on 19-digit debit cards) or YY/MM, under
a label (VALID THRU, GOOD THRU, 有效期, 有效期至, MONTH/YEAR, EXPIRES) or none, and print distractors beside
it (MEMBER SINCE, VALID FROM, or an unlabelled valid-from date before the thru date). A date takes the label
printed before it on its line, or failing that the nearest label box to its left or just above it. Dates
under a distractor label are dropped; among the rest, a labelled expiry wins, otherwise the latest date —
so of two dates, valid-from and thru, the later one is the expiry. Impossible months never match.

>>> parse_dates("VALID THRU 08/28")
[DateMatch(month=8, year=2028, start=11, end=16, exact=True)]
>>> [(d.month, d.year) for d in parse_dates("有效期 2019/05-2029/05")]
[(5, 2019), (5, 2029)]
>>> label_kind("MEMBER SINCE"), label_kind("有效期至"), label_kind("6225 7600")
('distractor', 'expiry', None)
>>> format_expiry(8, 2028)
'08/2028'
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import numpy as np

from worker.recognizer.ctc import Decoded
from worker.recognizer.geometry import quad_size, sub_quad
from worker.recognizer.layout import FocusedRead, TextBox

_SEPARATOR = r"\s?[/\\\-.|]\s?"
#: YY/MM only with a slash: across a range's dash ("01/22-04/26" read with the first slash lost as
#: "0122-04/26") the from-year and the thru-month would make a year-first date.
_SLASH = r"\s?[/\\]\s?"
_MONTH = r"(0[1-9]|1[0-2])"
#: The date forms as one alternation, most specific first, scanned left to right: where two readings of the
#: same characters compete the leftmost wins, then the more specific ("2019/05-2029/05" is two YYYY/MM dates,
#: "06/2019-05/2029" two MM/YYYY ones). Groups: YYYY/MM 1-2, MM/YYYY and MM/YY 3-4, YY/MM 5-6.
#: Two dates read as one token with no space between ("12/172024/02": a valid-from MM/YY, then a YYYY/MM;
#: "08/2308/25": two MM/YY) are split where a YYYY/MM, or a month and a slash, starts right after a date's end.
_GLUED_DATE_AHEAD = r"(?:20[0-9]{2}\s?[/\\\-.|]|(?:0[1-9]|1[0-2])[/\\][0-9]{2})"
_DATE = re.compile(
    rf"(?:(?<![0-9])|(?:(?<=[/\\\-.|][0-9]{{2}})|(?<=[/\\\-.|]20[0-9]{{2}}))(?={_GLUED_DATE_AHEAD}))(?:"
    rf"(20[0-9]{{2}}){_SEPARATOR}{_MONTH}"
    rf"|{_MONTH}{_SEPARATOR}((?:20)?[0-9]{{2}})"
    rf"|([0-9]{{2}}){_SLASH}{_MONTH}"
    rf")(?:(?![0-9])|(?={_GLUED_DATE_AHEAD}))"
)
#: A date followed by a range dash and more digits is the valid-from half of a range ("04/29-07/33"); when the
#: thru half is misread past parsing ("04/29=07138", "04/29.07138" in the date decode) the from half alone
#: must not be answered. Letters that are misread digits (O, I, Z, S, B) count as digits here.
_RANGE_CONTINUES = re.compile(r"\s?[-=~–—.]\s?[0-9OoDIlZSB]")
#: A slash read as "1" or "7" ("11125" for 11/25): only a whole token of exactly this shape counts.
_SLASH_MISREAD = re.compile(r"(?<![0-9A-Za-z])(0[1-9]|1[0-2])[17]([0-9]{2})(?![0-9A-Za-z])")
#: Expiry years outside this window are misreads ("08/81" for 08/31): cards are valid for at most ~10 years,
#: and photos of long-expired cards are still answered (the seed's own example is 08/2008).
EARLIEST_YEAR = 2000
LATEST_YEAR_AHEAD = 15
#: How far above or below a date's centre, in units of its height, the lines of a label stacked to its left
#: may be centred: a two-line label beside a date is about as tall as it, and the detector's boxes shift it.
STACKED_LABEL_REACH = 1.2
#: At most this gap, in units of the date's height, between a stacked label's lines and the date they label:
#: a valid-from date's own stacked label, further left beyond it, labels only that date.
STACKED_LABEL_GAP = 1.5
#: A date read through a misread slash is trusted this much less.
SLASH_MISREAD_PENALTY = 0.8
_EXPIRY_LABELS = ("VALIDTHRU", "GOODTHRU", "VALIDTHROUGH", "GOODTHROUGH", "THRU", "EXPIRES", "EXPIRY", "EXPIRE",
                  "EXP", "VALIDUNTIL", "UNTIL", "MONTH/YEAR", "MONTHYEAR", "MM/YY", "有效期", "有效", "到期")
_DISTRACTOR_LABELS = ("MEMBERSINCE", "SINCE", "MEMBER", "VALIDFROM", "FROM", "ISSUED", "起始", "开始")


@dataclass(frozen=True)
class DateMatch:
    """A month/year found in a string, with its character span; ``exact`` is False for a misread slash."""

    month: int
    year: int
    start: int
    end: int
    exact: bool = True


@dataclass(frozen=True)
class ExpiryDecision:
    """The chosen expiry: month, year, confidence, the box (view coordinates) it was read in, and whether an
    expiry label was read with it (an unlabelled date may sit beside a label the detector missed)."""

    month: int
    year: int
    conf: float
    quad: np.ndarray
    labelled: bool = False

    @property
    def text(self) -> str:
        return format_expiry(self.month, self.year)


def format_expiry(month: int, year: int) -> str:
    """The API's form: ``08/2028``."""
    return f"{month:02d}/{year:04d}"


def parse_dates(text: str, *, latest_year: int | None = None) -> list[DateMatch]:
    """Every date in ``text`` in reading order: YYYY/MM, MM/YYYY, MM/YY or YY/MM (two-digit years are
    20YY; YY/MM only where the first number cannot be a month); "MM1YY" tokens only when nothing else.

    Years after ``latest_year`` (default: this year + 15) are dropped as misreads.
    """
    latest = latest_year if latest_year is not None else latest_plausible_year()
    found = []
    for match in _DATE.finditer(text):
        year_first, month_first, short_year_first = match.group(1), match.group(3), match.group(5)
        if year_first is not None:
            month, year = match.group(2), year_first
        elif month_first is not None:
            month, year = month_first, match.group(4)
        else:
            month, year = match.group(6), short_year_first
        found.append(DateMatch(month=int(month), year=_full_year(year), start=match.start(), end=match.end()))
    if not found:
        found = [DateMatch(month=int(m.group(1)), year=2000 + int(m.group(2)), start=m.start(), end=m.end(),
                           exact=False) for m in _SLASH_MISREAD.finditer(text)]
    return [d for d in found if EARLIEST_YEAR <= d.year <= latest]


def latest_plausible_year() -> int:
    """The last year an expiry may read as (this year + :data:`LATEST_YEAR_AHEAD`); later ones are misreads."""
    return datetime.date.today().year + LATEST_YEAR_AHEAD


def _full_year(digits: str) -> int:
    return int(digits) if len(digits) == 4 else 2000 + int(digits)


def label_kind(text: str) -> str | None:
    """"expiry", "distractor" or None for a label text; the label nearest the end of ``text`` decides."""
    squashed = re.sub(r"\s+", "", text.upper())
    best: tuple[int, str] | None = None
    for kind, labels in (("distractor", _DISTRACTOR_LABELS), ("expiry", _EXPIRY_LABELS)):
        for label in labels:
            position = squashed.rfind(label)
            if position >= 0 and (best is None or position + len(label) > best[0]):
                best = (position + len(label), kind)
    if best is None and _near_distractor(squashed):
        return "distractor"
    return best[1] if best else None


def _near_distractor(squashed: str) -> bool:
    """A distractor label read with one letter wrong ("SINEE", "MEMOER"): dropping a date under it costs at
    most an empty answer, answering it is a wrong one. Only labels of five letters or more, so short words
    do not match by chance."""
    for label in _DISTRACTOR_LABELS:
        if len(label) < 5 or not label.isascii():
            continue
        for start in range(len(squashed) - len(label) + 1):
            window = squashed[start:start + len(label)]
            if sum(a != b for a, b in zip(window, label, strict=True)) <= 1:
                return True
    return False


def _neighbour_label(box: TextBox, boxes: list[TextBox]) -> str | None:
    """The label kind of the closest box to the left on the same line, or just above; failing that, of the
    boxes stacked to its left read together (:func:`_stacked_label`)."""
    width, height = quad_size(box.quad)
    centre = box.centre
    best: tuple[float, str] | None = None
    for other in boxes:
        if other is box:
            continue
        kind = label_kind(other.read.full.text)
        if kind is None or _labels_its_own_date(other.read.full.text) or _labels_a_nearer_date(other, box, boxes):
            continue
        offset = other.centre - centre
        other_w, _other_h = quad_size(other.quad)
        gap = _gap_to_its_left(box, other)
        left_of = gap is not None and abs(offset[1]) < 0.8 * height and gap < 4 * height
        above = 0 < -offset[1] < 3.0 * height and abs(offset[0]) < width + other_w
        if left_of or above:
            distance = float(np.hypot(*offset))
            if best is None or distance < best[0]:
                best = (distance, kind)
    return best[1] if best else _stacked_label(box, boxes)


def _labels_a_nearer_date(label: TextBox, box: TextBox, boxes: list[TextBox]) -> bool:
    """Whether another box, nearer ``label`` than ``box`` is, prints a date right of it on its line: a label
    labels the date after it, and a date beyond that one is not under it ("MEMBER SINCE 01/29  VALID THRU
    07/30" with the second label misread: the first is within reach of 07/30, but labels 01/29)."""
    distance = float(np.hypot(*(box.centre - label.centre)))
    for other in boxes:
        if other is box or other is label or not parse_dates(other.read.full.text):
            continue
        _, height = quad_size(other.quad)
        if (_gap_to_its_left(other, label) is not None and abs(other.centre[1] - label.centre[1]) < 0.8 * height
                and float(np.hypot(*(other.centre - label.centre))) < distance):
            return True
    return False


def _stacked_label(box: TextBox, boxes: list[TextBox]) -> str | None:
    """The label kind of the boxes just left of ``box`` (within :data:`STACKED_LABEL_GAP` of its height) and
    within :data:`STACKED_LABEL_REACH` of its height above or below its centre, their texts joined top to
    bottom.

    A label printed small on two lines beside its date ("VALID / FROM", "GOOD / THRU") is detected as a box
    per line, and neither line alone need be a label: "VALID" says nothing, and "FROM", centred a date's height
    below a lone valid-from date, is out of a same-line box's reach.
    """
    _, height = quad_size(box.quad)
    stacked = []
    for other in boxes:
        gap = _gap_to_its_left(box, other)
        if (other is not box and gap is not None and gap < STACKED_LABEL_GAP * height
                and abs(other.centre[1] - box.centre[1]) < STACKED_LABEL_REACH * height
                and not parse_dates(other.read.full.text)):
            stacked.append((float(other.centre[1]), other.read.full.text))
    if len(stacked) < 2:
        return None
    return label_kind("".join(text for _, text in sorted(stacked)))


def _gap_to_its_left(box: TextBox, other: TextBox) -> float | None:
    """The gap between ``other`` and ``box`` along the page, boxes taken as their widths about their centres;
    None when ``other``'s centre is not left of ``box``'s (the gap is negative where they overlap)."""
    along = float(box.centre[0] - other.centre[0])
    if along <= 0:
        return None
    width, _ = quad_size(box.quad)
    other_width, _ = quad_size(other.quad)
    return along - width / 2 - other_width / 2


def _labels_its_own_date(text: str) -> bool:
    """True when ``text`` prints a date after its last label ("MEMBER SINCE 03/27"): that label belongs to its
    own date, and a date in the next box (the thru date printed beside a member-since field) is not under it."""
    dates = parse_dates(text)
    if not dates:
        return False
    return label_kind(text[:dates[-1].start]) is not None and label_kind(text[dates[-1].end:]) is None


def _label_before(box: TextBox, position: float) -> str | None:
    """The label kind printed in ``box`` before ``position`` (a fraction of its width), from the full decode."""
    prefix = "".join(c.char for c in box.read.full.chars if c.position < position)
    return label_kind(prefix)


def _glued_to_a_misread(text: str, match: DateMatch, matches: list[DateMatch]) -> bool:
    """Whether digits follow ``match`` with no space (the start of a glued date, see :data:`_DATE`) that no
    date was parsed from: the thru half of a range read past parsing ("2028/092029/1" for 2028/09 - 2029/12),
    whose from half alone must not be answered."""
    return (match.end < len(text) and text[match.end].isdigit()
            and not any(other.start == match.end for other in matches))


def _sources(box: TextBox) -> list[tuple[Decoded, FocusedRead | None]]:
    sources: list[tuple[Decoded, FocusedRead | None]] = [(box.read.full, None), (box.read.date, None)]
    if box.read.expiry is not None:
        sources.append((box.read.expiry, None))
    for focused in box.focused:
        sources += [(focused.read.full, focused), (focused.read.date, focused)]
        if focused.read.expiry is not None:
            sources.append((focused.read.expiry, focused))
    return sources


def find_expiry(boxes: list[TextBox]) -> ExpiryDecision | None:
    """The expiry among ``boxes`` (one view's read boxes), or None when no plausible expiry is printed: the
    first of :func:`ranked_expiries`."""
    ranked = ranked_expiries(boxes)
    return ranked[0] if ranked else None


def ranked_expiries(boxes: list[TextBox]) -> list[ExpiryDecision]:
    """The dates of ``boxes`` that may be the expiry, most likely first: labelled dates before unlabelled ones
    (these only when no date is labelled), then the latest date, then the surest read.

    Dates are looked for in the full decode and in the digits-and-separators decode of each box and of its
    focused re-reads (the latter recovers "O8/28" as 08/28); the label is what the full decode shows before
    the date, else a neighbouring box's label. Dates under a distractor label are dropped.
    """
    labelled: list[ExpiryDecision] = []
    unlabelled: list[ExpiryDecision] = []
    for box in boxes:
        seen: set[tuple[int, int]] = set()
        for decoded, focused in _sources(box):
            matches = parse_dates(decoded.text)
            for match in matches:
                if (match.month, match.year) in seen:
                    continue
                seen.add((match.month, match.year))
                if _RANGE_CONTINUES.match(decoded.text, match.end) or _glued_to_a_misread(decoded.text, match, matches):
                    continue
                chars = decoded.chars[match.start:match.end]
                half = 0.5 / max(len(decoded.chars), 1)
                start, end = chars[0].position - half, chars[-1].position + half
                if focused is not None:
                    start, end = focused.to_box_fraction(start), focused.to_box_fraction(end)
                kind = _label_before(box, start) or _neighbour_label(box, boxes)
                if kind == "distractor":
                    continue
                conf = float(np.mean([c.conf for c in chars])) * (1.0 if match.exact else SLASH_MISREAD_PENALTY)
                decision = ExpiryDecision(match.month, match.year, round(conf, 4), sub_quad(box.quad, start, end),
                                          labelled=kind == "expiry")
                (labelled if kind == "expiry" else unlabelled).append(decision)
    return sorted(labelled or unlabelled, key=lambda d: (d.year, d.month, d.conf), reverse=True)
