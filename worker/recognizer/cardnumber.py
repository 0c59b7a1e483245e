"""From digit reads of the number line to one card number, or none.

Every read of the number line (the detector's boxes, a straightened re-read, a contrast-enhanced re-read,
each decoded over digits only) proposes 13-19 digit candidates, aligned on the printed groups. A candidate
counts only if it passes Luhn *and* the BIN table says an issuer prints numbers of that prefix and length.
Candidates are voted across reads, weighted by confidence, and the winner must beat any rival clearly — and
no rival may have been read directly with high confidence, sure of every digit: the recognizer prefers
"recognition failed" (-9011) to a wrong number. A shorter read that is the winner with digits dropped is no
rival (the commonest misread, e.g. "77" merged into "7"); a longer read that contains the winner is.

A read's digit groups are used whole; only a short stray group (a logo read as "1") may be left out at either
end, so the first 16 digits of a 19-digit number are never a candidate. A read whose digits leave a gap inside
a printed group wide enough for one more digit dropped a digit, and proposes nothing (a 19-digit number read
as 18 digits can pass Luhn and the BIN check); nor does a window whose groups break where no printed layout
of its length has a space (:data:`~worker.recognizer.numberforms.LAYOUT_BREAKS`: a digit read as a space).

Two readers vote: the general recogniser and the card-number head (:mod:`worker.recognizer.numberreader`),
which reads the same crops with its own neck and head. Their errors are only partly independent (they share
a backbone), so a number supported only by the two reads of one crop, or only by head reads, must be read
surely; otherwise two reads of one misprinted-looking crop would confirm each other.

A number must be read from two crops: the general read and the head's read of one crop agree on errors the
shared pixels cause (an embossed 19-digit line read surely, by both, two digits away from the printed number).
Nor is a number answered that the reads of its line speak against, whether or not their digits made a
candidate: reads that see more digits than it has, or show it as part of a longer number, or saw a worn-digit
rival between them (:mod:`worker.recognizer.linereads`).

A number that two worn-digit swaps would turn into another acceptable number (an 8 whose left half wore off
reads as a sure 3, twice: Luhn cannot tell) is answered only after contrast-enhanced and darkened reads of its
line have voted too (:func:`has_worn_digit_rival`): the card-number head often sees the worn strokes there.
Any read of such a worn-digit rival, however unsure and even through a repair, blocks the winner.

Confusion repair (1<->7, 5<->6, 0<->8, 3<->8, and the recogniser's own runner-up digit) is tried only at
low-confidence positions, one substitution per read, and only when exactly one substitution passes Luhn and
the BIN check; a repaired candidate adds half a vote to its number but never counts as a supporting read.

>>> from worker.recognizer.ctc import DecodedChar
>>> chars = tuple(DecodedChar(c, 0.99, 0.0, "", 0.0) for c in "6225 7600 0000 0008")
>>> ok = lambda number: number == "6225760000000008"
>>> [c.number for c in candidates_from_read(chars, ok)]
['6225760000000008']
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.recognizer.ctc import DecodedChar
from worker.recognizer.linereads import line_reads_speak_against
from worker.recognizer.numberforms import (
    LAYOUT_BREAKS,
    MAX_DIGITS,
    MAX_STRAY_DIGITS,
    MIN_DIGITS,
    WORN_DIGIT_PARTNERS,
    split_groups,
    with_two_digits,
)

#: The classic embossed-digit confusions, both ways.
CONFUSIONS: dict[str, str] = {"1": "7", "7": "1", "5": "6", "6": "5", "0": "8", "8": "0", "3": "8"}
#: A digit is a repair site only below this confidence.
REPAIR_MAX_CONF = 0.85
#: At most this many of a read's least-confident digits are repair sites.
REPAIR_SITES = 2
#: A repaired candidate's vote weighs this share of a direct read's.
REPAIR_WEIGHT = 0.5
#: Direct (unrepaired) reads that must agree on the winner: one read alone, however confident, is never
#: enough, and a repair never stands in for a read — on hard cards a repaired read converged on another
#: read's Luhn-valid misreading and made a wrong number look confirmed.
MIN_DIRECT_SUPPORT = 2
#: The winner's best direct read must average at least this confidence.
MIN_DIRECT_CONF = 0.6
#: The winner's votes must be at least this multiple of its rivals' together: two rivals each under half of a
#: misreading's votes, one of them a repaired read of the printed number, were over half of it together.
MIN_MARGIN = 2.0
#: A rival number read directly at this confidence or more means the reads conflict: no answer...
CONFLICT_CONF = 0.85
#: ...when that read is also surer than not of every digit. A read whose weakest digit is below even odds
#: is not a confident read of its number, whatever its mean (a card read the wrong way up spelled a
#: Luhn-valid rival at 0.89 mean with a digit at 0.36, and blocked five sure reads of the right number).
CONFLICT_MIN_DIGIT_CONF = 0.5
#: The fewer independent readers support the winner, the surer its surest direct read must be of every
#: digit. Any support: this much (two reads of different crops agreed on a wrong 19-digit number whose
#: weakest digits were 0.38 and 0.36)...
SUREST_MIN_CONF = 0.4
#: ...and when every supporting read is the head's: this much (the head's two reads of one wrong number:
#: 0.67 and 0.62).
HEAD_ONLY_MIN_CONF = 0.8
#: Direct support must come from this many crops: the general read and the head's read of one crop share
#: its pixels and a backbone, and on an embossed 19-digit line both read one crop as the same Luhn-valid
#: number two digits away from the printed one, surely (every digit 0.86 or more).
MIN_SUPPORTING_CROPS = 2
#: Suffix of the source label of a head read; the rest names the crop it read.
HEAD_SOURCE_SUFFIX = ":head"
#: Two neighbouring digits of one group this many pitches apart have a dropped digit between them.
HOLE_PITCHES = 1.8
#: In a 16-digit read, a gap after every fourth digit may be the 4-4-4-4 layout's space the read did not mark
#: (about two pitches: 2.0 at most in the reads of printed numbers on tuning cards); one with room for that
#: space and a digit more is a hole all the same (an unbroken 19-digit line read as 16 digits, three of them lost
#: in a gap four pitches wide where the layout would space them).
SPACE_AND_HOLE_PITCHES = HOLE_PITCHES + 1.0
#: Below this many within-group gaps a read's pitch is not known well enough to find holes.
MIN_GAPS_FOR_PITCH = 8

Acceptable = Callable[[str], bool]


@dataclass(frozen=True)
class Candidate:
    """A number proposed by one read: its digits, confidence, and whether it came from a repair."""

    number: str
    conf: float
    min_conf: float
    repaired: bool
    source: str = ""
    group_index: int = 0

    @property
    def by_head(self) -> bool:
        """Whether the card-number head (not the general recogniser) read it."""
        return self.source.endswith(HEAD_SOURCE_SUFFIX)

    @property
    def crop(self) -> str:
        """The crop it was read from: the general read and the head's read of one crop share it."""
        return self.source.removesuffix(HEAD_SOURCE_SUFFIX)


@dataclass(frozen=True)
class NumberDecision:
    """The accepted number, its confidence (0..1), and the candidates that supported it."""

    number: str
    conf: float
    support: tuple[Candidate, ...]


def _digits_before_a_hole(groups: list[list[DecodedChar]]) -> dict[int, float]:
    """Ids of the digits followed, inside their group, by a gap wide enough to hold a digit the read dropped,
    with the gap's width in pitches.

    Digits of a printed group sit at an even pitch; a gap of :data:`HOLE_PITCHES` pitches or more between two
    neighbours means the recogniser skipped one (a 19-digit number read as a valid 18-digit one).
    """
    gaps = [(a, b.position - a.position) for group in groups for a, b in itertools.pairwise(group)]
    if len(gaps) < MIN_GAPS_FOR_PITCH:
        return {}
    pitch = sorted(gap for _, gap in gaps)[len(gaps) // 2]
    if pitch <= 0:
        return {}
    return {id(char): gap / pitch for char, gap in gaps if gap >= HOLE_PITCHES * pitch}


def _has_a_dropped_digit(window: Sequence[DecodedChar], holes: dict[int, float]) -> bool:
    """Whether a hole lies inside ``window``; in 16 digits, one after every fourth digit is the unread space of
    the 4-4-4-4 layout, not a dropped digit, unless it has room for the space and a digit more
    (:data:`SPACE_AND_HOLE_PITCHES`)."""
    for index, char in enumerate(window[:-1]):
        pitches = holes.get(id(char))
        if pitches is None:
            continue
        if len(window) == 16 and index + 1 in LAYOUT_BREAKS[16] and pitches < SPACE_AND_HOLE_PITCHES:
            continue
        return True
    return False


def _fits_a_layout(window_groups: Sequence[Sequence[DecodedChar]]) -> bool:
    """Whether the read's group breaks inside a window fall where a printed layout of the window's length puts
    its spaces (:data:`LAYOUT_BREAKS`): a read may miss a space, never add one where none is printed.

    A 19-digit number printed unbroken whose "99" one read saw as "9" and a space spells 7 + 11 digits, a
    Luhn-valid 18-digit number no issuer prints in two groups.
    """
    breaks = LAYOUT_BREAKS.get(sum(len(group) for group in window_groups), frozenset())
    return set(itertools.accumulate(len(group) for group in window_groups[:-1])) <= breaks


def candidates_from_read(chars: Sequence[DecodedChar], acceptable: Acceptable, *, source: str = "",
                         repair: bool = True) -> list[Candidate]:
    """Every acceptable 13-19 digit number one read supports, aligned on its digit groups.

    Parameters:
        chars: the read's characters (digits-only decoding; spaces separate printed groups).
        acceptable: passes Luhn and the BIN table's prefix-and-length check.
        source: a label for diagnostics (which read proposed it).
        repair: also try single confusion substitutions at low-confidence positions.
    """
    groups = split_groups(chars)
    holes = _digits_before_a_hole(groups)
    found: list[Candidate] = []
    for first in range(len(groups)):
        if any(len(g) > MAX_STRAY_DIGITS for g in groups[:first]):
            break
        window: list[DecodedChar] = []
        for last in range(first, len(groups)):
            window = window + groups[last]
            if any(len(g) > MAX_STRAY_DIGITS for g in groups[last + 1:]):
                continue
            if len(window) > MAX_DIGITS:
                break
            if len(window) < MIN_DIGITS:
                continue
            if _has_a_dropped_digit(window, holes):
                continue  # a digit is missing inside a printed group: whatever this spells, it is not the number
            if not _fits_a_layout(groups[first:last + 1]):
                continue  # a gap where no layout of this length has a space: a digit was read as a space
            number = "".join(c.char for c in window)
            confs = [c.conf for c in window]
            if acceptable(number):
                found.append(Candidate(number, sum(confs) / len(confs), min(confs), False, source, first))
            elif repair:
                repaired = _repair(window, acceptable)
                if repaired is not None:
                    found.append(Candidate(repaired[0], repaired[1], repaired[2], True, source, first))
    return found


def _repair(window: Sequence[DecodedChar], acceptable: Acceptable) -> tuple[str, float, float] | None:
    """The single substitution at a low-confidence site that makes the number acceptable, if exactly one does."""
    digits = [c.char for c in window]
    sites = sorted((i for i, c in enumerate(window) if c.conf < REPAIR_MAX_CONF), key=lambda i: window[i].conf)
    passing: dict[str, tuple[float, float]] = {}
    for site in sites[:REPAIR_SITES]:
        char = window[site]
        options = {CONFUSIONS.get(char.char, "")}
        if char.alternative.isdigit():
            options.add(char.alternative)
        for option in options - {"", char.char}:
            trial = digits.copy()
            trial[site] = option
            number = "".join(trial)
            if acceptable(number):
                confs = [c.conf for c in window]
                confs[site] = char.alternative_conf if option == char.alternative else 1.0 - char.conf
                passing[number] = (sum(confs) / len(confs), min(confs))
    if len(passing) != 1:
        return None
    number, (mean_conf, min_conf) = next(iter(passing.items()))
    return number, mean_conf, min_conf


def has_worn_digit_rival(number: str, acceptable: Acceptable) -> bool:
    """Whether two worn-digit swaps (:data:`WORN_DIGIT_PARTNERS`) turn ``number`` into another acceptable
    number: a rival that reads of a worn card can agree on, each surely, so it needs a contrast check.

    >>> from worker.recognizer.bins import luhn_valid
    >>> has_worn_digit_rival("6225886808456295", lambda n: n.startswith("622588") and luhn_valid(n))
    True
    >>> has_worn_digit_rival("6225881111111117", lambda n: n.startswith("622588") and luhn_valid(n))
    False
    """
    sites = [i for i, digit in enumerate(number) if digit in WORN_DIGIT_PARTNERS]
    for first, second in itertools.combinations(sites, 2):
        for one in WORN_DIGIT_PARTNERS[number[first]]:
            for other in WORN_DIGIT_PARTNERS[number[second]]:
                if acceptable(with_two_digits(number, first, one, second, other)):
                    return True
    return False


def _is_worn_digit_rival(number: str, winner: str) -> bool:
    """Whether ``number`` is ``winner`` with two digits swapped for their worn-digit partners (the winner's 3
    where ``number`` has an 8...): the pair Luhn cannot tell apart."""
    if len(number) != len(winner):
        return False
    differing = [(a, b) for a, b in zip(number, winner, strict=True) if a != b]
    return len(differing) == 2 and all(a in WORN_DIGIT_PARTNERS.get(b, "") for a, b in differing)


def _dropped_digits_of(number: str, winner: str) -> bool:
    """Whether ``number`` is ``winner`` with some digits left out (a read that dropped digits, e.g. a CTC
    read that merged "77" into "7"): evidence of a weak read, not of another number."""
    rest = iter(winner)
    return len(number) < len(winner) and all(digit in rest for digit in number)


def vote(candidates: Sequence[Candidate], line_reads: Sequence[str] = ()) -> NumberDecision | None:
    """The number the reads agree on, or None when none is convincing or two numbers compete.

    Each candidate adds its confidence (half for a repair) to its number's score. The winner needs
    :data:`MIN_DIRECT_SUPPORT` direct reads (repairs add weight, never support), the best of them at
    :data:`MIN_DIRECT_CONF` or more, a score of at least :data:`MIN_MARGIN` times its rivals' together, and no rival
    read directly at :data:`CONFLICT_CONF` or more with every digit at :data:`CONFLICT_MIN_DIGIT_CONF` or more.
    A number that is the winner with digits dropped is no rival; the reverse (the winner is a rival with
    digits dropped) is; a worn-digit rival of the winner (:func:`_is_worn_digit_rival`) proposed by any read,
    repaired or not, blocks it. The direct support must come from :data:`MIN_SUPPORTING_CROPS` crops. The surest
    supporting read must be sure of every digit (:data:`SUREST_MIN_CONF`), surer still when the support comes
    from head reads only (:data:`HEAD_ONLY_MIN_CONF`). Nor is a winner answered that the reads of the number
    lines (``line_reads``, see :func:`~worker.recognizer.linereads.line_groups`) speak against
    (:func:`~worker.recognizer.linereads.line_reads_speak_against`).
    """
    if not candidates:
        return None
    scores: dict[str, float] = {}
    for c in candidates:
        scores[c.number] = scores.get(c.number, 0.0) + c.conf * (REPAIR_WEIGHT if c.repaired else 1.0)
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    winner, best = ranked[0]
    rivals = [(number, score) for number, score in ranked[1:] if not _dropped_digits_of(number, winner)]
    if rivals and best < MIN_MARGIN * sum(score for _, score in rivals):
        return None
    rival_numbers = {number for number, _ in rivals}
    if any(c.number in rival_numbers and not c.repaired and c.conf >= CONFLICT_CONF
           and c.min_conf >= CONFLICT_MIN_DIGIT_CONF for c in candidates):
        return None
    if any(_is_worn_digit_rival(c.number, winner) for c in candidates):
        return None
    if line_reads_speak_against(winner, line_reads):
        return None
    support = tuple(c for c in candidates if c.number == winner)
    direct = [c for c in support if not c.repaired]
    if len(direct) < MIN_DIRECT_SUPPORT or max(c.conf for c in direct) < MIN_DIRECT_CONF:
        return None
    surest = max(c.min_conf for c in direct)
    if surest < SUREST_MIN_CONF:
        return None
    if len({c.crop for c in direct}) < MIN_SUPPORTING_CROPS:
        return None
    if all(c.by_head for c in direct) and surest < HEAD_ONLY_MIN_CONF:
        return None
    conf = max(c.conf for c in direct)
    share = best / sum(scores.values())
    return NumberDecision(number=winner, conf=round(min(1.0, conf * share), 4), support=support)
