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
of its length has a space (:data:`LAYOUT_BREAKS`: a digit read as a space).

Two readers vote: the general recogniser and the card-number head (:mod:`worker.recognizer.numberreader`),
which reads the same crops with its own neck and head. Their errors are only partly independent (they share
a backbone), so a number supported only by the two reads of one crop, or only by head reads, must be read
surely; otherwise two reads of one misprinted-looking crop would confirm each other.

A number must be read from two crops: the general read and the head's read of one crop agree on errors the
shared pixels cause (an embossed 19-digit line read surely, by both, two digits away from the printed number).
A number shorter than as many reads of its line see as see its length may be one they dropped digits from ("99"
read as one 9 leaves a Luhn-valid 18-digit number); it is not answered.
Nor is a number that a read of its line shows as part of a longer one: a read that breaks, between digits it
shares with the number, where a longer number's layout has a space and none of the number's own length has
(the first 16 digits of a 6+13 line cut short by its crop pass Luhn and the BIN check), nor one that several
reads of its line see, each with more digits, with digits it lacks at one place (a glare spot that most reads
dropped three digits under).

A number that two worn-digit swaps would turn into another acceptable number (an 8 whose left half wore off
reads as a sure 3, twice: Luhn cannot tell) is answered only after contrast-enhanced and darkened reads of its
line have voted too (:func:`has_worn_digit_rival`): the card-number head often sees the worn strokes there.
Any read of such a worn-digit rival, however unsure and even through a repair, blocks the winner; so do
reads of the line that see its two swapped digits between them (:func:`_worn_digit_rival_seen_in_parts`).

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

import difflib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.recognizer.bins import luhn_valid
from worker.recognizer.ctc import DecodedChar

MIN_DIGITS = 13
MAX_DIGITS = 19

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
#: The winner's votes must be at least this multiple of the best rival's.
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
#: A read of a number line reads the winner's number (and its length counts) when this share of the two
#: digit strings match (difflib's ratio): 18 of 19 digits with two misread match at 0.86, another line ~0.4.
SAME_NUMBER_SIMILARITY = 0.75
#: Direct support must come from this many crops: the general read and the head's read of one crop share
#: its pixels and a backbone, and on an embossed 19-digit line both read one crop as the same Luhn-valid
#: number two digits away from the printed one, surely (every digit 0.86 or more).
MIN_SUPPORTING_CROPS = 2
#: What a partly worn 8 reads as (its left half gone: 3; its waist gone: 0), and back. Two such swaps at the
#: right places keep a number Luhn-valid (an 8 read as 3 at two positions Luhn does not double), so a winner
#: with such a rival is checked by one more read before it is answered.
WORN_DIGIT_PARTNERS: dict[str, str] = {"8": "30", "3": "8", "0": "8"}
#: Suffix of the source label of a head read; the rest names the crop it read.
HEAD_SOURCE_SUFFIX = ":head"
#: A window may leave out a stray group at either end of a read only when it has at most this many digits
#: (a "992" after 16 digits is the tail of a 19-digit number, not noise).
MAX_STRAY_DIGITS = 2
#: Two neighbouring digits of one group this many pitches apart have a dropped digit between them.
HOLE_PITCHES = 1.8
#: Below this many within-group gaps a read's pitch is not known well enough to find holes.
MIN_GAPS_FOR_PITCH = 8
#: A line read's group break counts against a winner's layout only where the read and the winner share this
#: many digits in a row, from the start or from the end.
MIN_LAYOUT_ALIGNED = 6
#: Reads of a number line that see more digits than the winner, each at one place of it (give or take a
#: digit), that make those digits printed ones it dropped: on the tuning cards no winner read right had more
#: than one longer read at all.
MIN_READS_OF_LACKING_DIGITS = 3
#: Where the layouts issuers print put a space, by number length: after these many digits (4-4-4-4; 6-13 and
#: 4-4-4-4-3; Amex 4-6-5; Diners 4-6-4; 13-digit Visa 4-3-3-3). A length not listed is printed unbroken.
LAYOUT_BREAKS: dict[int, frozenset[int]] = {
    13: frozenset({4, 7, 10}),
    14: frozenset({4, 10}),
    15: frozenset({4, 10}),
    16: frozenset({4, 8, 12}),
    19: frozenset({4, 6, 8, 12, 16}),
}

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


def _split_groups(chars: Sequence[DecodedChar]) -> list[list[DecodedChar]]:
    groups: list[list[DecodedChar]] = [[]]
    for char in chars:
        if char.char.isdigit():
            groups[-1].append(char)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def _digits_before_a_hole(groups: list[list[DecodedChar]]) -> set[int]:
    """Ids of the digits followed, inside their group, by a gap wide enough to hold a digit the read dropped.

    Digits of a printed group sit at an even pitch; a gap of :data:`HOLE_PITCHES` pitches or more between two
    neighbours means the recogniser skipped one (a 19-digit number read as a valid 18-digit one).
    """
    gaps = [(a, b.position - a.position) for group in groups for a, b in itertools.pairwise(group)]
    if len(gaps) < MIN_GAPS_FOR_PITCH:
        return set()
    pitch = sorted(gap for _, gap in gaps)[len(gaps) // 2]
    return {id(char) for char, gap in gaps if pitch > 0 and gap >= HOLE_PITCHES * pitch}


def _has_a_dropped_digit(window: Sequence[DecodedChar], holes: set[int]) -> bool:
    """Whether a hole lies inside ``window``; in 16 digits, one after every fourth digit is the unread space of
    the 4-4-4-4 layout, not a dropped digit."""
    after = [index + 1 for index, char in enumerate(window[:-1]) if id(char) in holes]
    if len(window) == 16:
        after = [position for position in after if position % 4]
    return bool(after)


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
    groups = _split_groups(chars)
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
                if acceptable(_with_two_digits(number, first, one, second, other)):
                    return True
    return False


def _is_worn_digit_rival(number: str, winner: str) -> bool:
    """Whether ``number`` is ``winner`` with two digits swapped for their worn-digit partners (the winner's 3
    where ``number`` has an 8...): the pair Luhn cannot tell apart."""
    if len(number) != len(winner):
        return False
    differing = [(a, b) for a, b in zip(number, winner, strict=True) if a != b]
    return len(differing) == 2 and all(a in WORN_DIGIT_PARTNERS.get(b, "") for a, b in differing)


def _with_two_digits(number: str, first: int, one: str, second: int, other: str) -> str:
    """``number`` with the digit at ``first`` replaced by ``one`` and the one at ``second`` by ``other``."""
    digits = list(number)
    digits[first], digits[second] = one, other
    return "".join(digits)


def _worn_digit_rival_seen_in_parts(line_reads: Sequence[str], winner: str) -> bool:
    """Whether reads of the winner's line, each of its length, see worn-digit partners in place of the
    winner's digits (:data:`WORN_DIGIT_PARTNERS`: a 3 where it has an 8) at two sites where both swaps together
    make a Luhn-valid number: between them the reads saw that rival, though no one read spelled it.

    A blurred unbroken 19-digit line read "...8384840" by the general recogniser, three times, while the head
    read its 3s, one in each of two crops ("...8384340", "...8334840"): the printed "...8334340".

    >>> _worn_digit_rival_seen_in_parts(["6212178913528384340", "6212178913528334840"], "6212178913528384840")
    True
    >>> _worn_digit_rival_seen_in_parts(["6212178913528384340"], "6212178913528384840")
    False
    """
    swaps: set[tuple[int, str]] = set()
    for read in line_reads:
        digits = read.replace(" ", "")
        if len(digits) != len(winner):
            continue
        swaps |= {(site, seen) for site, (seen, printed) in enumerate(zip(digits, winner, strict=True))
                  if seen != printed and seen in WORN_DIGIT_PARTNERS.get(printed, "")}
    for (first, one), (second, other) in itertools.combinations(sorted(swaps), 2):
        if first != second and luhn_valid(_with_two_digits(winner, first, one, second, other)):
            return True
    return False


def _dropped_digits_of(number: str, winner: str) -> bool:
    """Whether ``number`` is ``winner`` with some digits left out (a read that dropped digits, e.g. a CTC
    read that merged "77" into "7"): evidence of a weak read, not of another number."""
    rest = iter(winner)
    return len(number) < len(winner) and all(digit in rest for digit in number)


def line_groups(chars: Sequence[DecodedChar]) -> str | None:
    """The digit groups a read of a number line shows, one space between groups: its groups whole, a stray
    short group at either end left out; None outside 13-19 digits (not a read of a whole card number).

    >>> line_groups(tuple(DecodedChar(c, 0.9, 0.0, "", 0.0) for c in "1 621482 9924373587436"))
    '621482 9924373587436'
    """
    groups = _split_groups(chars)
    while groups and len(groups[0]) <= MAX_STRAY_DIGITS:
        groups = groups[1:]
    while groups and len(groups[-1]) <= MAX_STRAY_DIGITS:
        groups = groups[:-1]
    digit_count = sum(len(group) for group in groups)
    if not MIN_DIGITS <= digit_count <= MAX_DIGITS:
        return None
    return " ".join("".join(c.char for c in group) for group in groups)


def _reads_of_the_same_number(line_reads: Sequence[str], winner: str) -> list[str]:
    """The line reads' digits where they read ``winner``'s digits, give or take a few
    (:data:`SAME_NUMBER_SIMILARITY`); reads of another line, or of the card the wrong way up, say nothing
    about its length or layout. Group spaces are kept."""
    return [read for read in line_reads if difflib.SequenceMatcher(
        None, read.replace(" ", ""), winner, autojunk=False).ratio() >= SAME_NUMBER_SIMILARITY]


def _breaks_its_layout(read: str, winner: str) -> bool:
    """Whether ``read`` (a line read's groups) shows the winner's digits as part of a longer printed number: a
    group break, between digits it shares with ``winner``, where a layout of a longer number has a space and
    no layout of the winner's length has one (:data:`LAYOUT_BREAKS`).

    A read may miss a space, rarely adds one where none is printed (see :func:`_fits_a_layout`): a 19-digit
    6-13 line cut short by its crop reads as a Luhn-valid 16-digit prefix, and the head's read of the same
    crop shows the break after six digits that a 6-13 line has and no 16-digit layout has. The digits are
    aligned from the start (the breaks counted from the first digit) and from the end (counted from the
    last), over at least :data:`MIN_LAYOUT_ALIGNED` digits.

    Only reads with at least as many digits as the winner count: a read that turned a digit into a space
    ("11" read as "1 ", an 18-digit read of an unbroken 19-digit line) breaks where nothing is printed. A
    break that no layout has at all (an embossed 6-13 line read "623029 11155 03126949") is a read's noise.

    >>> _breaks_its_layout("625145 7328334516", "6251457328334516")
    True
    >>> _breaks_its_layout("6225 7600 0000 0005", "6225760000000005")
    False
    """
    groups = read.split()
    digits = "".join(groups)
    if len(digits) < len(winner):
        return False  # it may have read a digit as a space ("11" as "1 "): its breaks say nothing of the layout
    own = LAYOUT_BREAKS.get(len(winner), frozenset())
    longer = [(length, breaks) for length, breaks in LAYOUT_BREAKS.items() if length > len(winner)]
    longer_from_start = set().union(*(breaks for _, breaks in longer)) - own
    longer_from_end = {length - cut for length, breaks in longer for cut in breaks} - {len(winner) - c for c in own}
    cuts = list(itertools.accumulate(len(group) for group in groups[:-1]))
    from_start = _shared_lead(digits, winner)
    if from_start >= MIN_LAYOUT_ALIGNED and any(0 < cut < from_start and cut in longer_from_start for cut in cuts):
        return True
    from_end = _shared_lead(digits[::-1], winner[::-1])
    return from_end >= MIN_LAYOUT_ALIGNED and any(
        0 < len(digits) - cut < from_end and len(digits) - cut in longer_from_end for cut in cuts)


def _digits_it_lacks_seen_at_one_place(line_reads: Sequence[str], winner: str) -> bool:
    """Whether :data:`MIN_READS_OF_LACKING_DIGITS` reads of the winner's line, each with more digits than it
    has, see their extra digits at one place of it (give or take a digit): printed digits it dropped.

    The count of longer against as long reads misses a glare spot that most reads drop digits under: on an
    unbroken 19-digit line three digits after the first four were lost in most reads, where a 4-4-4-4 line
    has its space (so no read showed a hole), leaving a Luhn-valid 16-digit number, while eight reads saw one
    to three digits there. A read that sees one digit too many elsewhere (a digit read twice, a stray mark)
    puts it at its own place.

    >>> _digits_it_lacks_seen_at_one_place(["62315921288414360", "6231 6921288414360", "623169 21288414360"],
    ...                                     "6231921288414360")
    True
    >>> _digits_it_lacks_seen_at_one_place(["96231921288414360", "62319221288414360", "62319212884143607"],
    ...                                     "6231921288414360")
    False
    """
    places = [_insertion_places(digits, winner) for read in line_reads
              if len(digits := read.replace(" ", "")) > len(winner)]
    if len(places) < MIN_READS_OF_LACKING_DIGITS:
        return False
    return any(sum(any(abs(place - site) <= 1 for place in read_places) for read_places in places)
               >= MIN_READS_OF_LACKING_DIGITS for site in range(len(winner) + 1))


def _insertion_places(read: str, winner: str) -> set[int]:
    """Where, between the winner's digits (0 before the first), ``read`` has digits the winner lacks."""
    return {start for tag, start, end, read_start, read_end
            in difflib.SequenceMatcher(None, winner, read, autojunk=False).get_opcodes()
            if tag == "insert" or (tag == "replace" and read_end - read_start > end - start)}


def _shared_lead(one: str, other: str) -> int:
    """How many leading digits ``one`` and ``other`` have in common."""
    return next((i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b), min(len(one), len(other)))


def _scores(candidates: Sequence[Candidate]) -> dict[str, float]:
    """Each number's votes: its reads' confidences, a repair's at :data:`REPAIR_WEIGHT`."""
    scores: dict[str, float] = {}
    for c in candidates:
        scores[c.number] = scores.get(c.number, 0.0) + c.conf * (REPAIR_WEIGHT if c.repaired else 1.0)
    return scores


def crops_reading_the_leader(candidates: Sequence[Candidate]) -> set[str]:
    """The crops whose direct (unrepaired) reads spell the number with the most votes: when there is one, the
    leader lacks only a read of another crop (:data:`MIN_SUPPORTING_CROPS`), and reading the line framed
    differently may give it, or show a rival.

    >>> from dataclasses import replace
    >>> read = Candidate("6225760000000008", 0.9, 0.8, False, "line0:straight")
    >>> sorted(crops_reading_the_leader([read, replace(read, source="line0:straight:head")]))
    ['line0:straight']
    """
    scores = _scores(candidates)
    if not scores:
        return set()
    leader = max(scores, key=scores.__getitem__)
    return {c.crop for c in candidates if c.number == leader and not c.repaired}


def vote(candidates: Sequence[Candidate], line_reads: Sequence[str] = ()) -> NumberDecision | None:
    """The number the reads agree on, or None when none is convincing or two numbers compete.

    Each candidate adds its confidence (half for a repair) to its number's score. The winner needs
    :data:`MIN_DIRECT_SUPPORT` direct reads (repairs add weight, never support), the best of them at
    :data:`MIN_DIRECT_CONF` or more, a score of at least :data:`MIN_MARGIN` times any rival's, and no rival
    read directly at :data:`CONFLICT_CONF` or more with every digit at :data:`CONFLICT_MIN_DIGIT_CONF` or more.
    A number that is the winner with digits dropped is no rival; the reverse (the winner is a rival with
    digits dropped) is; a worn-digit rival of the winner (:func:`_is_worn_digit_rival`) proposed by any read,
    repaired or not, blocks it. The direct support must come from :data:`MIN_SUPPORTING_CROPS` crops. The surest
    supporting read must be sure of every digit (:data:`SUREST_MIN_CONF`), surer still when the support comes
    from head reads only (:data:`HEAD_ONLY_MIN_CONF`). When as many of the reads of the number lines
    (``line_reads``, see :func:`line_groups`) that read the winner's digits see more digits than it has as
    see exactly its digits, its length is not supported (it may have dropped digits): no answer; nor when one of
    those reads shows the winner as part of a longer number (:func:`_breaks_its_layout`), or several of them see
    digits it lacks at one place (:func:`_digits_it_lacks_seen_at_one_place`).
    """
    if not candidates:
        return None
    scores = _scores(candidates)
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    winner, best = ranked[0]
    rivals = [(number, score) for number, score in ranked[1:] if not _dropped_digits_of(number, winner)]
    if rivals and best < MIN_MARGIN * rivals[0][1]:
        return None
    rival_numbers = {number for number, _ in rivals}
    if any(c.number in rival_numbers and not c.repaired and c.conf >= CONFLICT_CONF
           and c.min_conf >= CONFLICT_MIN_DIGIT_CONF for c in candidates):
        return None
    if any(_is_worn_digit_rival(c.number, winner) for c in candidates):
        return None
    same_number = _reads_of_the_same_number(line_reads, winner)
    lengths = [len(read.replace(" ", "")) for read in same_number]
    longer = sum(length > len(winner) for length in lengths)
    if longer and longer >= sum(length == len(winner) for length in lengths):
        return None  # as many reads of the number see more digits as see the winner's: it may have dropped some
    if any(_breaks_its_layout(read, winner) for read in same_number):
        return None  # a read shows the winner as part of a longer number
    if _digits_it_lacks_seen_at_one_place(same_number, winner):
        return None  # several reads see printed digits the winner dropped
    if _worn_digit_rival_seen_in_parts(same_number, winner):
        return None  # between them, the reads saw both digits of a worn-digit rival
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
