"""How card numbers are printed, and which misreads of a printed digit Luhn cannot tell apart.

Shared by the candidate search and the vote (:mod:`worker.recognizer.cardnumber`) and by the checks of a
winner against the reads of its line (:mod:`worker.recognizer.linereads`): the lengths issuers print, where
their layouts put spaces, how a read splits into digit groups, and what a worn digit reads as.

>>> from worker.recognizer.ctc import DecodedChar
>>> groups = split_groups([DecodedChar(c, 0.9, 0.0, "", 0.0) for c in "62 25x7"])
>>> ["".join(c.char for c in group) for group in groups]
['62', '25', '7']
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.recognizer.ctc import DecodedChar

#: The lengths issuers print card numbers in.
MIN_DIGITS = 13
MAX_DIGITS = 19
#: A window may leave out a stray group at either end of a read only when it has at most this many digits
#: (a "992" after 16 digits is the tail of a 19-digit number, not noise).
MAX_STRAY_DIGITS = 2
#: What a partly worn 8 reads as (its left half gone: 3; its waist gone: 0), and back; and an embossed 4 whose
#: diagonal and bar wore faint (a 1), and back. Two such swaps at the right places keep a number Luhn-valid (an 8
#: read as 3 at two positions Luhn does not double; a 4 read as 1 and a 1 as 4 at two it treats alike), so a
#: winner with such a rival is checked by one more read before it is answered.
WORN_DIGIT_PARTNERS: dict[str, str] = {"8": "30", "3": "8", "0": "8", "4": "1", "1": "4"}
#: Where the layouts issuers print put a space, by number length: after these many digits (4-4-4-4; 6-13 and
#: 4-4-4-4-3; Amex 4-6-5; Diners 4-6-4; 13-digit Visa 4-3-3-3). A length not listed is printed unbroken.
LAYOUT_BREAKS: dict[int, frozenset[int]] = {
    13: frozenset({4, 7, 10}),
    14: frozenset({4, 10}),
    15: frozenset({4, 10}),
    16: frozenset({4, 8, 12}),
    19: frozenset({4, 6, 8, 12, 16}),
}
#: Lengths of :data:`LAYOUT_BREAKS` also printed as one unbroken run (19-digit UnionPay numbers often are). The
#: others are printed only in their layouts' groups: the wide spaces of a 4-4-4-4 or 4-6-5 line.
ALSO_PRINTED_UNBROKEN: frozenset[int] = frozenset({19})


def printed_only_in_groups(length: int) -> bool:
    """Whether every layout issuers print a number of ``length`` digits in has a space (13 to 16 digits)."""
    return length in LAYOUT_BREAKS and length not in ALSO_PRINTED_UNBROKEN


def split_groups(chars: Sequence[DecodedChar]) -> list[list[DecodedChar]]:
    """The read's runs of digits; any other character (a space, a letter) ends a run."""
    groups: list[list[DecodedChar]] = [[]]
    for char in chars:
        if char.char.isdigit():
            groups[-1].append(char)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def with_two_digits(number: str, first: int, one: str, second: int, other: str) -> str:
    """``number`` with the digit at ``first`` replaced by ``one`` and the one at ``second`` by ``other``."""
    digits = list(number)
    digits[first], digits[second] = one, other
    return "".join(digits)


def _kinds_of_wear(partners: dict[str, str]) -> tuple[frozenset[str], ...]:
    """The digits linked by ``partners``, directly or through others, one set per kind of wear."""
    kinds: list[set[str]] = []
    for digit, its_partners in partners.items():
        linked = {digit, *its_partners}
        touching = [kind for kind in kinds if kind & linked]
        kinds = [kind for kind in kinds if not kind & linked] + [linked.union(*touching)]
    return tuple(frozenset(kind) for kind in kinds)


#: The kinds of wear among :data:`WORN_DIGIT_PARTNERS`: an 8 losing a half or its waist (8, 3, 0), and a 4 losing
#: its bar (4, 1). A rival that needs a swap of each kind (a 4 read 1 by one noisy read, an 8 read 0 by another) is
#: two unrelated misreads, which the twenty-odd reads of a long embossed line offer by the dozen; two swaps of one
#: kind are one wear.
WORN_DIGIT_KINDS: tuple[frozenset[str], ...] = _kinds_of_wear(WORN_DIGIT_PARTNERS)


def one_kind_of_wear(first: str, second: str) -> bool:
    """Whether two printed digits wear alike (:data:`WORN_DIGIT_KINDS`): an 8 and a 3, or a 4 and a 1.

    >>> one_kind_of_wear("8", "3"), one_kind_of_wear("4", "1"), one_kind_of_wear("4", "8")
    (True, True, False)
    >>> sorted(sorted(kind) for kind in WORN_DIGIT_KINDS)
    [['0', '3', '8'], ['1', '4']]
    """
    return any(first in kind and second in kind for kind in WORN_DIGIT_KINDS)
