"""What the reads of a number line say against a winner: that it dropped digits, or is part of a longer
number, or that the reads saw a worn-digit rival between them.

The vote (:mod:`worker.recognizer.cardnumber`) weighs the candidates that reads propose; these checks weigh
the reads themselves, each as the digit groups it shows (:func:`line_groups`), whether or not its digits
made a candidate. Only reads of the winner's own number count (:func:`_reads_of_the_same_number`): a read
of another line, or of the card the wrong way up, says nothing about it.

- A number shorter than as many reads of its line see as see its length may be one they dropped digits from
  ("99" read as one 9 leaves a Luhn-valid 18-digit number).
- A read that breaks, between digits it shares with the number, where a longer number's layout has a space
  and none of the number's own length has, shows it as part of a longer one (the first 16 digits of a 6+13
  line cut short by its crop pass Luhn and the BIN check).
- Reads that each see more digits than the number, at one place of it, saw printed digits it lacks (a glare
  spot that most reads dropped three digits under); of a number printed whole (17 or 18 digits: no printed
  layout of those lengths has a space), so did reads that break it there (the gap of the digit it dropped,
  read as a space). A read that shows the number's own layout with one of its spaces read as a digit
  (:func:`_space_read_as_digits`) saw no digit it lacks, and counts in neither check.
- Reads of a number printed only in groups (13 to 16 digits: 4-4-4-4, Amex's 4-6-5) that all run it together, none
  breaking it anywhere, read something else: the tail of a longer line whose first digits were lost, its
  group's last digits run into the next group (a 6-13 line under glare read "869326812403438", a Luhn-valid
  15-digit number with one digit misread). Of the 146 16-digit numbers read right on 740 tuning and held-apart
  cards, every one had a read of its line that showed a space.
- Reads that see worn-digit partners (:data:`~worker.recognizer.numberforms.WORN_DIGIT_PARTNERS`) of one
  kind of wear at two sites where both swaps make a Luhn-valid number saw that rival between them, though no
  one read spelled it.

>>> line_reads_speak_against("6251457328334516", ["6251457328334516", "625145 7328334516"])
True
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence

from worker.recognizer import numberforms
from worker.recognizer.bins import luhn_valid
from worker.recognizer.ctc import DecodedChar

#: A read of a number line reads the winner's number (and its length counts) when this share of the two
#: digit strings match (difflib's ratio): 18 of 19 digits with two misread match at 0.86, another line ~0.4.
SAME_NUMBER_SIMILARITY = 0.75
#: A line read's group break counts against a winner's layout only where the read and the winner share this
#: many digits in a row, from the start or from the end.
MIN_LAYOUT_ALIGNED = 6
#: Reads of a number line that see more digits than the winner, each at one place of it (give or take a
#: digit), that make those digits printed ones it dropped: on the tuning cards no winner read right had more
#: than one longer read at all.
MIN_READS_OF_LACKING_DIGITS = 3
#: A read with more digits than the winner is its line with a space read as a digit only when its own breaks
#: show this many of the winner's layout's other spaces (a 16-digit layout's two others): one break where the
#: layout has one is a read's chance as often as not.
MIN_SPACES_SHOWN = 2
#: Reads of a number line, none of them broken, that speak against a winner printed only in groups; one read
#: may miss every space of a line (of the 146 16-digit numbers read right on tuning and held-apart cards, one
#: had one spaced read of three).
MIN_UNBROKEN_READS = 2


def line_reads_speak_against(winner: str, line_reads: Sequence[str]) -> bool:
    """Whether the reads of the winner's line (each as :func:`line_groups` gives it) speak against it: see
    the module's docstring for the five ways they can."""
    same_number = _reads_of_the_same_number(line_reads, winner)
    seeing_digits = [read for read in same_number if not _space_read_as_digits(read, winner)]
    lengths = [len(read.replace(" ", "")) for read in seeing_digits]
    longer = sum(length > len(winner) for length in lengths)
    if longer and longer >= sum(length == len(winner) for length in lengths):
        return True  # as many reads of the number see more digits as see the winner's: it may have dropped some
    if any(_breaks_its_layout(read, winner) for read in same_number):
        return True  # a read shows the winner as part of a longer number
    if (numberforms.printed_only_in_groups(len(winner)) and len(same_number) >= MIN_UNBROKEN_READS
            and not any(" " in read for read in same_number)):
        return True  # every read runs together a number printed only in groups: it read another line's digits
    if _digits_it_lacks_seen_at_one_place(seeing_digits, winner):
        return True  # several reads see printed digits the winner dropped, or the gap one left
    return _worn_digit_rival_seen_in_parts(same_number, winner)  # both digits of a worn-digit rival, seen apart


def line_groups(chars: Sequence[DecodedChar]) -> str | None:
    """The digit groups a read of a number line shows, one space between groups: its groups whole, a stray
    short group at either end left out; None outside 13-19 digits (not a read of a whole card number).

    >>> line_groups(tuple(DecodedChar(c, 0.9, 0.0, "", 0.0) for c in "1 621482 9924373587436"))
    '621482 9924373587436'
    """
    groups = numberforms.split_groups(chars)
    while groups and len(groups[0]) <= numberforms.MAX_STRAY_DIGITS:
        groups = groups[1:]
    while groups and len(groups[-1]) <= numberforms.MAX_STRAY_DIGITS:
        groups = groups[:-1]
    digit_count = sum(len(group) for group in groups)
    if not numberforms.MIN_DIGITS <= digit_count <= numberforms.MAX_DIGITS:
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
    no layout of the winner's length has one (:data:`~worker.recognizer.numberforms.LAYOUT_BREAKS`).

    A read may miss a space, rarely adds one where none is printed (the candidates of a read keep to the
    printed layouts, see :func:`worker.recognizer.cardnumber.candidates_from_read`): a 19-digit 6-13 line cut
    short by its crop reads as a Luhn-valid 16-digit prefix, and the head's read of the same
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
    digits, cuts = _digits_and_cuts(read)
    if len(digits) < len(winner):
        return False  # it may have read a digit as a space ("11" as "1 "): its breaks say nothing of the layout
    own = numberforms.LAYOUT_BREAKS.get(len(winner), frozenset())
    longer = [(length, breaks) for length, breaks in numberforms.LAYOUT_BREAKS.items() if length > len(winner)]
    longer_from_start = set().union(*(breaks for _, breaks in longer)) - own
    longer_from_end = {length - cut for length, breaks in longer for cut in breaks} - {len(winner) - c for c in own}
    from_start = _shared_lead(digits, winner)
    if from_start >= MIN_LAYOUT_ALIGNED and any(0 < cut < from_start and cut in longer_from_start for cut in cuts):
        return True
    from_end = _shared_lead(digits[::-1], winner[::-1])
    return from_end >= MIN_LAYOUT_ALIGNED and any(
        0 < len(digits) - cut < from_end and len(digits) - cut in longer_from_end for cut in cuts)


def _digits_and_cuts(read: str) -> tuple[str, list[int]]:
    """A line read's digits, and after how many of them each of its group breaks falls."""
    groups = read.split()
    return "".join(groups), list(itertools.accumulate(len(group) for group in groups[:-1]))


def _shared_lead(one: str, other: str) -> int:
    """How many leading digits ``one`` and ``other`` have in common."""
    return next((i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b), min(len(one), len(other)))


def _digits_it_lacks_seen_at_one_place(line_reads: Sequence[str], winner: str) -> bool:
    """Whether :data:`MIN_READS_OF_LACKING_DIGITS` reads of the winner's line see, at one place of it (give or
    take a digit), digits it lacks: each read with more digits than it has, where its extra digits sit; and when
    the winner is printed whole (a length no layout of :data:`~worker.recognizer.numberforms.LAYOUT_BREAKS`
    has), each read that breaks it, where it breaks (the gap of a digit it dropped, read as a space).

    The count of longer against as long reads misses a glare spot that most reads drop digits under: on an
    unbroken 19-digit line three digits after the first four were lost in most reads, where a 4-4-4-4 line
    has its space (so no read showed a hole), leaving a Luhn-valid 16-digit number, while eight reads saw one
    to three digits there. A read that sees one digit too many elsewhere (a digit read twice, a stray mark)
    puts it at its own place. An embossed unbroken 19-digit line under glare lost a "7" in two reads, a
    Luhn-valid 18-digit number in UnionPay's range, while seven of its seventeen reads broke it where the 7 was
    printed and no read saw all 19 digits; on another such line two reads broke it where its "4" was dropped and
    two more read a digit there. A number of a grouped layout's length shows its spaces in reads, and a break
    says nothing of it; breaks and extra digits at different places are a read's noise.

    >>> _digits_it_lacks_seen_at_one_place(["62315921288414360", "6231 6921288414360", "623169 21288414360"],
    ...                                     "6231921288414360")
    True
    >>> _digits_it_lacks_seen_at_one_place(["96231921288414360", "62319221288414360", "62319212884143607"],
    ...                                     "6231921288414360")
    False
    >>> _digits_it_lacks_seen_at_one_place(["6222032755462 57266", "6222032755461 57266", "622032755462 5766"],
    ...                                     "622203275546257266")
    True
    >>> _digits_it_lacks_seen_at_one_place(["6213787035210 51082", "6213787035210 51082", "6213787035210651082"],
    ...                                     "621378703521051082")
    True
    >>> _digits_it_lacks_seen_at_one_place(["62 2203275546257266", "622203275 546257266", "62220327554625 7266"],
    ...                                     "622203275546257266")
    False
    """
    printed_whole = len(winner) not in numberforms.LAYOUT_BREAKS
    places = []
    for read in line_reads:
        digits, cuts = _digits_and_cuts(read)
        longer = len(digits) > len(winner)
        breaks_it = printed_whole and bool(cuts)
        if not longer and not breaks_it:
            continue
        opcodes = _alignment(winner, digits)
        seen = _insertion_places(opcodes) if longer else set()
        if breaks_it:
            along = _read_to_winner(opcodes)
            seen |= {along[cut] for cut in cuts}
        places.append(seen)
    return _reads_at_one_place(places, len(winner)) >= MIN_READS_OF_LACKING_DIGITS


def _reads_at_one_place(places: Sequence[set[int]], length: int) -> int:
    """The most reads that see something at one place of a winner ``length`` digits long, give or take a
    digit; ``places`` holds, per read, the places (0 before its first digit) where that read sees it."""
    return max((sum(any(abs(place - site) <= 1 for place in read_places) for read_places in places)
                for site in range(length + 1)), default=0)


def _alignment(winner: str, digits: str) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes turning ``winner`` into a read's ``digits``."""
    return difflib.SequenceMatcher(None, winner, digits, autojunk=False).get_opcodes()


def _read_to_winner(opcodes: Sequence[tuple[str, int, int, int, int]]) -> dict[int, int]:
    """A read's digit count before a break -> the winner's, along the alignment (:func:`_alignment`)."""
    return {read_start + k: min(start + k, end) for _tag, start, end, read_start, read_end in opcodes
            for k in range(read_end - read_start + 1)}


def _insertion_places(opcodes: Sequence[tuple[str, int, int, int, int]]) -> set[int]:
    """Where, between the winner's digits (0 before the first), a read has digits the winner lacks, along their
    alignment (:func:`_alignment`)."""
    return {start for tag, start, end, read_start, read_end in opcodes
            if tag == "insert" or (tag == "replace" and read_end - read_start > end - start)}


def _space_read_as_digits(read: str, winner: str) -> bool:
    """Whether ``read`` (a line read's groups) is the winner's line with a printed space read as a digit: each
    digit it has beyond the winner's sits where the winner's layout has a space (or glued to either end, a
    stray mark), and its own group breaks fall where that layout has its other spaces, at least
    :data:`MIN_SPACES_SHOWN` of them.

    Embossed digits cast their relief's shadow into the space between two groups, and the recogniser reads
    it as a digit: "526813663 5646 7960" for 5268 3663 5646 7960, seen in 12 of 35 reads of one tuning card
    whose 17 other reads were the printed number. Such reads show the spaces of the number's own layout
    around the one they filled, which the reads of a longer line whose digits a winner dropped do not (an
    unbroken 19-digit line reads with no space, or spaces where no layout of the winner has one).

    >>> _space_read_as_digits("526813663 5646 7960", "5268366356467960")
    True
    >>> _space_read_as_digits("6231 6921288414360", "6231921288414360")
    False
    """
    digits, cuts = _digits_and_cuts(read)
    spaces = numberforms.LAYOUT_BREAKS.get(len(winner), frozenset())
    if len(digits) <= len(winner) or not spaces:
        return False
    opcodes = _alignment(winner, digits)
    filled: set[int] = set()
    for _tag, start, end, read_start, read_end in opcodes:
        if read_end - read_start > end - start:
            sites = set(range(start, end + 1)) & (spaces | {0, len(winner)})
            if not sites:
                return False  # a digit the winner lacks inside one of its groups
            filled |= sites
    to_winner = _read_to_winner(opcodes)
    breaks = {to_winner[cut] for cut in cuts}
    shown = breaks - filled
    return bool(filled & spaces) and breaks <= spaces and len(shown) >= MIN_SPACES_SHOWN


def _worn_digit_rival_seen_in_parts(line_reads: Sequence[str], winner: str) -> bool:
    """Whether reads of the winner's line, each of its length, see worn-digit partners in place of the
    winner's digits (:data:`~worker.recognizer.numberforms.WORN_DIGIT_PARTNERS`: a 3 where it has an 8) at
    two sites where both swaps together make a Luhn-valid number: between them the reads saw that rival,
    though no one read spelled it. Both swaps must be of one kind of wear
    (:func:`~worker.recognizer.numberforms.one_kind_of_wear`): a 4 read 1 in one noisy read and an 8 read 0 in
    another are two chance misreads, not a rival.

    A blurred unbroken 19-digit line read "...8384840" by the general recogniser, three times, while the head
    read its 3s, one in each of two crops ("...8384340", "...8334840"): the printed "...8334340".

    >>> _worn_digit_rival_seen_in_parts(["6212178913528384340", "6212178913528334840"], "6212178913528384840")
    True
    >>> _worn_digit_rival_seen_in_parts(["6212178913528384340"], "6212178913528384840")
    False
    >>> _worn_digit_rival_seen_in_parts(["6222595130111648286", "6222595130114840286"], "6222595130114848286")
    False
    """
    swaps: set[tuple[int, str]] = set()
    for read in line_reads:
        digits = read.replace(" ", "")
        if len(digits) != len(winner):
            continue
        swaps |= {(site, seen) for site, (seen, printed) in enumerate(zip(digits, winner, strict=True))
                  if seen != printed and seen in numberforms.WORN_DIGIT_PARTNERS.get(printed, "")}
    for (first, one), (second, other) in itertools.combinations(sorted(swaps), 2):
        if (first != second and numberforms.one_kind_of_wear(winner[first], winner[second])
                and luhn_valid(numberforms.with_two_digits(winner, first, one, second, other))):
            return True
    return False
