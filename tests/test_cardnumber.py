"""Card-number candidates, confusion repair and voting, on hand-built reads (no OCR engine involved)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from worker.recognizer.bins import default_table, luhn_valid
from worker.recognizer.cardnumber import (
    Candidate,
    candidates_from_read,
    has_worn_digit_rival,
    vote,
)
from worker.recognizer.ctc import DecodedChar
from worker.recognizer.linereads import _breaks_its_layout, line_groups
from worker.recognizer.numberforms import LAYOUT_BREAKS

CMB_16 = "6225760000000005"          # 招商银行 credit card, 16 digits, Luhn-valid
ABC_19 = "6228481234567890128"       # 中国农业银行 debit card, 19 digits, Luhn-valid


def acceptable(number: str) -> bool:
    return luhn_valid(number) and default_table().plausible(number)


def read(text: str, confs: dict[int, float] | None = None, alternatives: dict[int, str] | None = None,
         default_conf: float = 0.99) -> tuple[DecodedChar, ...]:
    """A digits-only read of ``text``; ``confs``/``alternatives`` are keyed on the index into ``text``."""
    confs = confs or {}
    alternatives = alternatives or {}
    return tuple(DecodedChar(ch, confs.get(i, default_conf), i / max(len(text), 1), alternatives.get(i, ""),
                             0.2 if i in alternatives else 0.0) for i, ch in enumerate(text))


def numbers(candidates: Sequence[Candidate]) -> list[str]:
    return [c.number for c in candidates]


def test_a_clean_grouped_read_gives_its_number() -> None:
    found = candidates_from_read(read("6225 7600 0000 0005"), acceptable)
    assert numbers(found) == [CMB_16]
    assert not found[0].repaired
    assert found[0].conf == pytest.approx(0.99)


def test_nineteen_digits_in_six_thirteen_grouping_and_without_spaces() -> None:
    assert numbers(candidates_from_read(read("622848 1234567890128"), acceptable)) == [ABC_19]
    assert numbers(candidates_from_read(read(ABC_19), acceptable)) == [ABC_19]


def test_stray_groups_around_the_number_are_dropped_on_group_boundaries() -> None:
    found = candidates_from_read(read("12 6225 7600 0000 0005 3"), acceptable)
    assert numbers(found) == [CMB_16]


def test_a_luhn_failure_read_confidently_gives_nothing() -> None:
    assert candidates_from_read(read("6225 7600 0000 0006"), acceptable) == []


def test_too_short_and_too_long_reads_give_nothing() -> None:
    assert candidates_from_read(read("6225 7600 0000"), acceptable) == []
    assert candidates_from_read(read("62257600000000051234"), acceptable) == []


def test_an_unknown_issuer_prefix_is_refused_even_when_luhn_passes() -> None:
    assert luhn_valid("1234560000000009")
    assert candidates_from_read(read("1234 5600 0000 0009"), acceptable) == []


def test_confusion_repair_fixes_one_low_confidence_digit() -> None:
    # the true last digit 5 was read as 6 with low confidence
    found = candidates_from_read(read("6225 7600 0000 0006", confs={18: 0.4}), acceptable)
    assert numbers(found) == [CMB_16]
    assert found[0].repaired


def test_repair_uses_the_recognisers_runner_up_digit() -> None:
    # 6225 7600 0000 0005 read with its last digit as 2, the model's second choice being 5
    found = candidates_from_read(read("6225 7600 0000 0002", confs={18: 0.5}, alternatives={18: "5"}), acceptable)
    assert numbers(found) == [CMB_16]


def test_repair_never_touches_a_confident_digit() -> None:
    assert candidates_from_read(read("6225 7600 0000 0006"), acceptable) == []


def test_repair_is_refused_when_two_substitutions_would_pass() -> None:
    # "…0006": fixing the last digit (6 -> 5) passes, and so does the runner-up 9 at text index 17
    # (6225760000000096): two different answers from one read means the read decides nothing.
    assert acceptable("6225760000000096")
    ambiguous = read("6225 7600 0000 0006", confs={18: 0.4, 17: 0.3}, alternatives={17: "9"})
    assert candidates_from_read(ambiguous, acceptable) == []


def test_repair_can_be_switched_off() -> None:
    assert candidates_from_read(read("6225 7600 0000 0006", confs={18: 0.4}), acceptable, repair=False) == []


def test_vote_picks_the_number_most_reads_support() -> None:
    other = "6225760000000013"
    assert acceptable(other)
    candidates = [Candidate(CMB_16, 0.95, 0.9, False, "a"), Candidate(CMB_16, 0.9, 0.8, False, "b"),
                  Candidate(other, 0.6, 0.3, False, "c")]
    decision = vote(candidates)
    assert decision is not None and decision.number == CMB_16
    assert 0.0 < decision.conf <= 1.0
    assert len(decision.support) == 2


def test_vote_refuses_when_two_numbers_compete_closely() -> None:
    other = "6225760000000013"
    assert vote([Candidate(CMB_16, 0.8, 0.8, False, "a"), Candidate(CMB_16, 0.8, 0.8, False, "b"),
                 Candidate(other, 0.84, 0.8, False, "c")]) is None


def test_a_winner_needs_twice_the_votes_of_its_rivals_together() -> None:
    """Held-apart card heldout 7063 #33 (embossed 19 digits, glare, blur 1.7): a relief read and a box read
    spelled "1533" for "1383"; a direct read of another number and a repaired read of the printed one each had
    under half the winner's votes, together more than half."""
    winner, other, printed = "6224031533428805231", "6224031363428905231", "6224031383428805231"
    support = [Candidate(winner, 0.925, 0.425, False, "pass0:turn0:line0:relief"),
               Candidate(winner, 0.933, 0.367, False, "pass1:turn0:line0:boxes")]
    other_read = Candidate(other, 0.901, 0.333, False, "pass0:turn0:line0:clahe:head")
    decided = vote([*support, other_read])
    assert decided is not None and decided.number == winner
    assert vote([*support, other_read, Candidate(printed, 0.937, 0.27, True, "pass0:turn0:line0:straight:head")]) \
        is None


def test_vote_refuses_a_low_confidence_winner() -> None:
    assert vote([Candidate(CMB_16, 0.4, 0.1, False, "a"), Candidate(CMB_16, 0.45, 0.1, False, "b")]) is None


def test_one_read_alone_is_never_enough() -> None:
    assert vote([Candidate(CMB_16, 0.99, 0.99, False, "a")]) is None
    decision = vote([Candidate(CMB_16, 0.99, 0.99, False, "a"), Candidate(CMB_16, 0.97, 0.9, False, "b")])
    assert decision is not None and decision.number == CMB_16


def test_repairs_add_weight_but_never_stand_in_for_a_read() -> None:
    repaired = [Candidate(CMB_16, 0.9, 0.4, True, "a"), Candidate(CMB_16, 0.9, 0.4, True, "b")]
    assert vote(repaired) is None
    assert vote([Candidate(CMB_16, 0.99, 0.9, False, "c"), *repaired]) is None
    other = "6225760000000013"
    # two direct reads tie with a rival's two; a repair breaks the tie for the number it supports
    tied = [Candidate(CMB_16, 0.9, 0.9, False, "a"), Candidate(CMB_16, 0.8, 0.8, False, "b"),
            Candidate(other, 0.5, 0.5, False, "c"), Candidate(other, 0.5, 0.5, False, "d")]
    assert vote(tied) is None
    decision = vote([*tied, Candidate(CMB_16, 0.8, 0.5, True, "e")])
    assert decision is not None and decision.number == CMB_16
    assert decision.conf < 0.9


def test_vote_with_nothing_is_nothing() -> None:
    assert vote([]) is None


def test_the_first_sixteen_digits_of_a_longer_read_are_not_a_candidate() -> None:
    # a 4-4-4-4-3 read whose first four groups happen to pass on their own
    assert candidates_from_read(read("6225 7600 0000 0005 992"), acceptable) == []


def test_a_confident_direct_rival_blocks_the_vote() -> None:
    other = "6225760000000013"
    assert vote([Candidate(CMB_16, 0.99, 0.9, False, "a"), Candidate(CMB_16, 0.95, 0.9, False, "b"),
                 Candidate(CMB_16, 0.9, 0.9, True, "c"), Candidate(other, 0.9, 0.8, False, "d")]) is None
    # a weak rival read does not
    decision = vote([Candidate(CMB_16, 0.99, 0.9, False, "a"), Candidate(CMB_16, 0.95, 0.9, False, "b"),
                     Candidate(other, 0.6, 0.2, False, "c")])
    assert decision is not None and decision.number == CMB_16


def _spaced(digits: str, skip_after: int, pitches: float = 2.0) -> tuple[DecodedChar, ...]:
    """A read of ``digits`` at an even pitch, the gap after index ``skip_after`` ``pitches`` pitches wide (2: one
    digit's width of empty space)."""
    chars, position = [], 0.02
    for index, digit in enumerate(digits):
        chars.append(DecodedChar(digit, 0.99, position, "", 0.0))
        position += 0.05 if index != skip_after else 0.05 * pitches
    return tuple(chars)


def test_a_read_with_a_dropped_digit_inside_a_group_proposes_nothing() -> None:
    assert numbers(candidates_from_read(_spaced(ABC_19, skip_after=30), acceptable)) == [ABC_19]
    holed = _spaced(ABC_19[:7] + ABC_19[8:], skip_after=6)  # the 8th digit was not read: a gap two pitches wide
    assert candidates_from_read(holed, lambda number: True) == [], "18 digits with a hole are not an 18-digit number"


def test_an_unread_space_of_the_4_4_4_4_layout_is_not_a_dropped_digit() -> None:
    found = candidates_from_read(_spaced(CMB_16, skip_after=7), acceptable)
    assert numbers(found) == [CMB_16]
    assert candidates_from_read(_spaced(CMB_16, skip_after=6), acceptable) == [], "a hole inside a group of four"


@pytest.mark.parametrize("pitches", [3.0, 4.0])
def test_a_gap_at_a_4_4_4_4_space_with_room_for_a_digit_more_is_a_dropped_digit(pitches: float) -> None:
    """Held-apart 7082 #121: an unbroken 19-digit line read as 16 digits, its 13th to 15th lost in a gap four
    pitches wide after the 12th, where the 4-4-4-4 layout prints a space (two pitches at most in the reads of
    printed numbers), a Luhn-valid number of the same issuer."""
    assert candidates_from_read(_spaced(CMB_16, skip_after=11, pitches=pitches), lambda number: True) == []


def _read(number: str, min_conf: float, source: str) -> Candidate:
    return Candidate(number, max(min_conf, 0.9), min_conf, False, source)


def test_the_surest_supporting_read_must_be_sure_of_every_digit() -> None:
    number = "6225760000000008"
    assert vote([_read(number, 0.38, "line0:straight"), _read(number, 0.36, "line0:clahe")]) is None
    decided = vote([_read(number, 0.42, "line0:straight"), _read(number, 0.36, "line0:clahe")])
    assert decided is not None and decided.number == number


def test_one_crop_read_by_both_readers_is_not_enough_however_sure() -> None:
    # an embossed 19-digit line (tuning card severe 20002 #16, printed 6228594568482154795): the general read
    # and the head's read of one crop both read it two digits away, every digit at 0.86 or more
    misread = "6228564566482154795"
    assert acceptable(misread)
    one_crop = [Candidate(misread, 0.975, 0.857, False, "pass1:turn0:line0:straight"),
                Candidate(misread, 0.935, 0.538, False, "pass1:turn0:line0:straight:head")]
    assert vote(one_crop) is None
    two_crops = [_read(misread, 0.30, "line0:straight"), _read(misread, 0.46, "line0:clahe:head")]
    assert vote(two_crops) is not None


def test_a_number_only_the_head_read_must_be_read_surely() -> None:
    number = "6225760000000008"
    assert vote([_read(number, 0.67, "line0:straight:head"), _read(number, 0.62, "line0:clahe:head")]) is None
    decided = vote([_read(number, 0.85, "line0:straight:head"), _read(number, 0.62, "line0:clahe:head")])
    assert decided is not None and decided.number == number


def test_a_rival_read_unsure_of_a_digit_does_not_block_the_vote() -> None:
    other = "6225760000000013"
    sure_reads = [Candidate(CMB_16, 0.99, 0.95, False, "a"), Candidate(CMB_16, 0.99, 0.95, False, "b"),
                  Candidate(CMB_16, 0.99, 0.95, False, "c")]
    decision = vote([*sure_reads, Candidate(other, 0.89, 0.36, False, "d")])
    assert decision is not None and decision.number == CMB_16
    assert vote([*sure_reads, Candidate(other, 0.89, 0.55, False, "d")]) is None, "sure of every digit: a conflict"


def test_a_read_that_dropped_digits_of_the_winner_is_no_rival() -> None:
    dropped = ABC_19[:10] + ABC_19[13:]  # three digits of the 19 not read: 16 digits
    reads = [Candidate(ABC_19, 0.99, 0.95, False, "a"), Candidate(ABC_19, 0.99, 0.95, False, "b")]
    decision = vote([*reads, Candidate(dropped, 0.96, 0.9, False, "c")])
    assert decision is not None and decision.number == ABC_19
    # the other way round the longer read is a rival: the winner may be the one that dropped digits
    shorter = [Candidate(dropped, 0.99, 0.95, False, "a"), Candidate(dropped, 0.99, 0.95, False, "b"),
               Candidate(dropped, 0.99, 0.95, False, "c")]
    assert vote([*shorter, Candidate(ABC_19, 0.96, 0.9, False, "d")]) is None


def test_a_worn_digit_rival_blocks_the_winner_even_through_a_repair() -> None:
    # the printed number has 8s at two undoubled positions; worn on their left half they read as 3s
    printed = "6225760008080009"
    worn = "6225760003030009"
    assert luhn_valid(printed) and luhn_valid(worn) and acceptable(printed) and acceptable(worn)
    sure_reads = [Candidate(worn, 0.99, 0.97, False, "a"), Candidate(worn, 0.98, 0.96, False, "b")]
    assert vote([*sure_reads, Candidate(printed, 0.5, 0.2, True, "b:head")]) is None
    assert vote([*sure_reads, Candidate(printed, 0.6, 0.3, False, "c:head")]) is None
    # an unrelated weak number (not the winner with two worn digits) does not block
    decision = vote([*sure_reads, Candidate("6225760000000013", 0.5, 0.2, True, "c")])
    assert decision is not None and decision.number == worn


def test_an_embossed_4_worn_to_a_1_is_a_worn_digit_rival() -> None:
    # held-apart card heldout 7069 #19, embossed unbroken 19 digits: a "1" read "4" and a "4" read "1" by the
    # reads of one pass, a pair Luhn cannot tell (their changes cancel at positions of one parity); a 4 whose
    # diagonal and bar wore away reads as a 1
    printed = "6210827213418619481"
    worn = "6210827243418619181"
    assert acceptable(printed) and acceptable(worn)
    assert has_worn_digit_rival(worn, acceptable)
    sure_reads = [Candidate(worn, 0.96, 0.65, False, "a"), Candidate(worn, 0.96, 0.71, False, "b")]
    assert vote([*sure_reads, Candidate(printed, 0.5, 0.2, True, "b:head")]) is None
    assert vote(sure_reads, line_reads=[worn, worn, "6210827213418619181", "6210827243418619481"]) is None
    assert vote(sure_reads, line_reads=[worn, worn]) is not None


def test_a_rival_pieced_from_two_kinds_of_wear_does_not_block_a_number() -> None:
    # benchmark hard card (seed 2024 #76), embossed OCR-A 6-13 under glare, printed 6222595130114848286: among
    # the line's reads one saw a 1 for the 4 at site 12 (and a 6 for the next 8), another a 0 for the 8 at site
    # 15 (and a 2 for the first 6); the two swaps together are Luhn-valid, but they are two chance misreads of
    # unrelated digits, not one wear, and the number was refused
    printed = "6222595130114848286"
    line_reads = ["622259 8130114648286", "022259 5130114648286", "622259 5130114648286",
                  "222259 5130114648286", "622259 5130114348286", "622257 5130114648286",
                  "622259 5130114848286", "622259 5130111648286", "622259 5130114848286",
                  "622259 5130114346286", "622259 5130114348286", "222259 5130114840286",
                  "622259 5130114548286"]
    assert luhn_valid("6222595130111840286"), "the premise: the two swaps make a Luhn-valid rival"
    sure_reads = [Candidate(printed, 0.97, 0.7, False, "a"), Candidate(printed, 0.95, 0.6, False, "b")]
    decided = vote(sure_reads, line_reads=line_reads)
    assert decided is not None and decided.number == printed
    one_kind = [*line_reads, "622259 5130414848286", "622259 5130111848286"]  # a 1 read 4, a 4 read 1
    assert vote(sure_reads, line_reads=one_kind) is None, "two swaps of one kind still block it"


def test_a_winner_shorter_than_most_reads_of_its_line_dropped_digits() -> None:
    # tuning card severe 20004 #45, printed 6214829924373587436 without spaces: two reads merged "99" into
    # one 9 (a Luhn-valid 18-digit number on the same BIN); as many reads of the line showed 19 digits
    dropped = "621482924373587436"
    assert acceptable(dropped)
    reads = [Candidate(dropped, 0.98, 0.79, False, "pass1:clahe"),
             Candidate(dropped, 1.0, 1.0, False, "pass0:clahe:head")]
    assert vote(reads) is not None, "the premise: two crops agree on it"
    nineteen = ["6214829724373587436", "6214822724373587436", "6214829424373587436"]
    eighteen = [dropped, "621442924373587436"]
    other_line = ["984295826626284129", "964295826626286129", "966295626626296029"]  # the card upside down
    assert vote(reads, line_reads=[*nineteen, *eighteen]) is None
    assert vote(reads, line_reads=[*nineteen[:2], *eighteen]) is None, "a tie does not support the shorter"
    assert vote(reads, line_reads=[*nineteen, *eighteen, *other_line]) is None, "another line's reads say nothing"
    decided = vote(reads, line_reads=[*eighteen, dropped, nineteen[0]])
    assert decided is not None and decided.number == dropped


def test_line_groups_are_whole_groups_without_stray_ones() -> None:
    assert line_groups(read("1 6225 7600 0000 0005")) == "6225 7600 0000 0005"
    assert line_groups(read("622848 1234567890128 77")) == "622848 1234567890128"
    assert line_groups(read("6225 7600 0000")) is None
    assert line_groups(read("62257600000000051234")) is None


def test_a_window_that_breaks_where_no_layout_of_its_length_has_a_space_proposes_nothing() -> None:
    # the head's read of tuning card severe 20004 #45 (printed 6214829924373587436 unbroken): the second 9
    # read as a space, leaving 7 + 11 digits, a Luhn-valid 18-digit number
    assert acceptable("621482924373587436")
    assert candidates_from_read(read("6214829 24373587436"), acceptable) == []
    # the layouts issuers print, and any of their spaces missed, still propose their number
    assert numbers(candidates_from_read(read("622848 1234567890128"), acceptable)) == [ABC_19]
    assert numbers(candidates_from_read(read("6228 4812 3456 7890 128"), acceptable)) == [ABC_19]
    assert numbers(candidates_from_read(read("62257600 0000 0005"), acceptable)) == [CMB_16]
    assert candidates_from_read(read("622 5760000000005"), acceptable) == [], "no 16-digit layout breaks at 3"


def read_from_two_crops(number: str) -> list[Candidate]:
    """Direct reads of ``number`` from two crops, which the vote answers on their own: the premise of a test
    that a line read blocks it."""
    reads = [Candidate(number, 0.97, 0.48, False, "pass0:straight"),
             Candidate(number, 0.99, 0.64, False, "pass0:clahe")]
    assert vote(reads, line_reads=[number, in_its_layout(number)]) is not None, "the premise: two crops agree on it"
    return reads


def in_its_layout(number: str) -> str:
    """``number`` as a line read shows it in a layout issuers print it in (4-4-4-4, 4-6-5, 6-13; unbroken at
    17 and 18 digits)."""
    breaks = (6,) if len(number) == 19 else sorted(LAYOUT_BREAKS.get(len(number), ()))
    return " ".join(number[start:end] for start, end in itertools.pairwise([0, *breaks, len(number)]))


def test_a_number_printed_only_in_groups_whose_reads_never_break_is_not_answered() -> None:
    # held-apart card heldout 7087 #96, an embossed 6-13 line under glare: its first group's first four digits
    # lost to the glare, the line was read from the group's last two digits on, "86" and the 13 digits after, and
    # the recogniser ran them together in every read; with an 8 read 3, "3693 2681 2403 438" is Luhn-valid and
    # in the Diners range at 15 digits. A 15-digit number is printed 4-6-5 and a 16-digit one 4-4-4-4: reads
    # that never once break it read the tail of a longer line
    tail = "369326812403438"
    assert acceptable(tail), "the premise: the run-together tail is a number too"
    reads = [Candidate(tail, 0.967, 0.822, False, "pass0:clahe"),
             Candidate(tail, 0.928, 0.509, False, "pass1:straight")]
    unbroken = ["869326811403488", "369326812403488", "369326812403438", "869326812403438", "369326811403438"]
    assert vote(reads, line_reads=unbroken) is None
    assert vote(reads, line_reads=[*unbroken, "3693 268124 03438"]) is not None, "one read in its layout is enough"
    # a 16-digit number read unbroken by every read of its line is refused the same way...
    sixteen = "6225760008080017"
    assert acceptable(sixteen)
    sixteen_reads = [Candidate(sixteen, 0.97, 0.7, False, "a"), Candidate(sixteen, 0.95, 0.6, False, "b")]
    assert vote(sixteen_reads, line_reads=[sixteen, sixteen]) is None
    assert vote(sixteen_reads, line_reads=[sixteen, in_its_layout(sixteen)]) is not None
    # ...but 19 digits are printed unbroken too, and no line read at all says nothing
    nineteen = [Candidate(ABC_19, 0.97, 0.7, False, "a"), Candidate(ABC_19, 0.95, 0.6, False, "b")]
    assert vote(nineteen, line_reads=[ABC_19, ABC_19]) is not None
    assert vote(sixteen_reads) is not None


def test_a_winner_whose_line_reads_show_another_layout_is_not_answered() -> None:
    # held-apart card heldout 7011 #65: a 19-digit number printed 6+13 whose crop ended three digits short;
    # the general recogniser read the 16 digits it saw unbroken, twice (a Luhn-valid 16-digit prefix on a
    # UnionPay BIN), and the head read the same crops "625145 7328334516": a break after six digits, which
    # no 16-digit layout has
    nineteen, prefix = "6217000001234562009", "6217000001234562"
    assert acceptable(nineteen) and acceptable(prefix), "the premise: the prefix is a number too"
    reads = read_from_two_crops(prefix)
    assert vote(reads, line_reads=[prefix, prefix, "621700 0001234562"]) is None
    # aligned from the end: a read whose last group has three digits, against a 4-4-4-4 winner
    assert vote(reads, line_reads=[prefix, prefix, "9217 0000 0123 4 562"]) is None
    # a break where the read no longer shares the winner's digits says nothing
    assert vote(reads, line_reads=[prefix, prefix, "6217 0000 91 345627"]) is not None
    # a read with fewer digits may have read a digit as a space: its break says nothing (tuning card hard 7002
    # #74, printed unbroken, "11" read as "1 ")
    assert vote(reads, line_reads=[prefix, prefix, "6217000 01234562"]) is not None
    # a break no layout has is a read's noise (tuning card severe 7003 #65, an embossed 6-13 line read
    # "623029 11155 03126949"), and a 19-digit winner is part of no longer number
    assert vote(reads, line_reads=[prefix, prefix, "62170000 012 34562"]) is not None
    assert not _breaks_its_layout("623029 11155 03126949", "6230291115503126949")
    # a read in the winner's own layout, or one that missed its spaces, is no evidence against it
    assert vote(reads, line_reads=[prefix, prefix, "6217 0000 0123 4562", "62170000 01234562"]) is not None


def test_a_worn_digit_rival_seen_in_parts_by_two_reads_blocks_the_winner() -> None:
    # held-apart card heldout 7013 #112, an unbroken 19-digit line, blurred: the general recogniser read two
    # 3s as 8s in every crop (a Luhn-valid number on the same BIN); the head read one of the 3s in one crop
    # and the other in another, and neither of its reads passed Luhn
    printed, misread = "6217000001234534347", "6217000001234584847"
    assert acceptable(printed) and acceptable(misread), "the premise: 3 -> 8 twice keeps Luhn"
    reads = read_from_two_crops(misread)
    one_three, other_three = "6217000001234534847", "6217000001234584347"
    assert vote(reads, line_reads=[misread, misread, one_three]) is not None, "one swapped digit says nothing"
    assert vote(reads, line_reads=[misread, misread, one_three, other_three]) is None
    assert vote(reads, line_reads=[misread, misread, "6217 0000 0123 4534 847", other_three]) is None


def test_digits_that_several_reads_see_at_one_place_the_winner_lacks_block_it() -> None:
    # held-apart card heldout 7019 #103, an unbroken 19-digit line with a glare spot on its fifth to seventh
    # digits: most reads dropped those three, leaving 16 digits where a 4-4-4-4 line has its space (no hole
    # inside a group); strips of the number band read one more digit wrong, a Luhn-valid 16-digit number; and
    # eight reads of the line and the band saw one to three more digits, each right after the first four
    printed = "6217000001234562009"
    winner = "6217" + printed[7:15] + "2001"
    assert acceptable(printed) and acceptable(winner), "the premise: the 16 digits make a number"
    reads = read_from_two_crops(winner)
    dropped = "6217" + printed[7:]
    equal = [winner, in_its_layout(winner), dropped, dropped, dropped]
    extra = ["62170" + printed[7:], "6217 00" + printed[7:], "62170 " + printed[7:]]
    assert vote(reads, line_reads=equal + extra[:2]) is not None, "two reads seeing more may be noise"
    assert vote(reads, line_reads=equal + extra) is None
    # longer reads that see their extra digits at different places are noise, not a printed digit
    scattered = ["9" + winner, winner[:8] + "5" + winner[8:], winner + "7"]
    assert vote(reads, line_reads=equal + scattered) is not None


def test_a_printed_space_read_as_a_digit_is_no_digit_the_winner_lacks() -> None:
    # tuning card hard 502 #4, embossed 5268 3663 5646 7960: 12 of 35 reads of its line saw the relief's shadow
    # in the first space as a 1 ("526813663 5646 7960"), each showing the other two spaces where they are
    # printed; its other 17 reads were the printed number, and nothing was answered
    winner = "5268366356467960"
    assert acceptable(winner)
    reads = read_from_two_crops(winner)
    spaces_shown = ["526813663 5646 7960", "596813663 5616 7969", "7526843663 5646 7960"]
    assert vote(reads, line_reads=[winner, winner, *spaces_shown]) is not None
    # the same digit seen where no other space is, or beside only one of them: digits a longer line may hold
    assert vote(reads, line_reads=[winner, winner, *["52681366356467960"] * 3]) is None
    assert vote(reads, line_reads=[winner, winner, *["526813663 56467960"] * 3]) is None
    # a digit the winner lacks inside one of its groups, however the read's spaces fall
    assert vote(reads, line_reads=[winner, winner, *["5268 36163 5646 7960"] * 3]) is None


def test_a_gap_or_digit_several_reads_see_at_one_place_of_a_number_printed_whole_blocks_it() -> None:
    # held-apart card heldout 7068 #83, an embossed unbroken 19-digit line with glare: a box read and its
    # straightened re-read of the sharpened pass dropped a "7" in "...5462757266", a Luhn-valid 18-digit number
    # in UnionPay's range; seven of the line's seventeen reads broke it into two groups where the 7 was, the
    # gap of the digit they dropped read as a space, and no read saw all 19 digits
    printed = "6222032755462757266"
    winner = "622203275546257266"
    assert acceptable(printed) and acceptable(winner), "the premise: the 18 digits make a number"
    reads = read_from_two_crops(winner)
    whole = [winner, winner, winner, "62220327554627266", "629203275546157266"]
    gapped = ["6222032755462 57266", "6222032755462 7266", "6222032755461 57266", "622032755462 5766"]
    assert vote(reads, line_reads=whole + gapped[:2]) is not None, "two reads breaking it may be noise"
    assert vote(reads, line_reads=whole + gapped) is None
    # heldout 7036 #104, the same class: a "4" dropped from "...210451082", two reads breaking the line there
    # and two reading a digit there (no more reads saw 19 digits than 18)
    dropped = "621378703521051082"
    assert acceptable("6213787035210451082") and acceptable(dropped)
    two_each = [dropped] * 3 + ["6213787035210 51082"] * 2 + ["6213787035210651082"] * 2
    assert vote(read_from_two_crops(dropped), line_reads=two_each[:5]) is not None
    assert vote(read_from_two_crops(dropped), line_reads=two_each) is None
    # breaks at different places are a read's noise, not a gap
    scattered = ["62 2203275546257266", "622203275 546257266", "62220327554625 7266"]
    assert vote(reads, line_reads=whole + scattered) is not None
    # a number of a grouped layout's length shows its spaces in reads: they say nothing of a gap
    grouped = "6225760000000005"
    assert acceptable(grouped)
    assert vote(read_from_two_crops(grouped), line_reads=[grouped, *["6225 7600 0000 0005"] * 4]) is not None
