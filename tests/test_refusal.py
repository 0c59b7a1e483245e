"""The refusal rule on cards built to tempt a wrong answer, and an accuracy floor on held-apart hard cards.

A number answered with code 0 must be the printed one: a card whose worn digits make a Luhn-valid rival,
or whose digit is scuffed out, is answered right or refused (-9011), never with the rival or a guess.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.generated_cards import read_generated_card, read_labelled_card
from worker.api.legacy import codes
from worker.recognizer.bins import default_table, luhn_valid
from worker.recognizer.cardnumber import has_worn_digit_rival
from worker.recognizer.service import Recognizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.cards.adversarial import adversarial_card, as_rival, rival_pair_number  # noqa: E402

#: Seeds of rival cards; with 1 and 5 the reads agreed on the rival before worn-digit rivals were checked.
RIVAL_SEEDS = (1, 5, 6)
#: How much of the worn digits' ink is gone: faint traces of their left halves remain.
RIVAL_FADE = 0.8
#: The held-apart cards: level "heldout" of scripts/make_cards.py, a seed no benchmark or tuning run uses.
HELDOUT_SEED = 8080
HELDOUT_CARDS = 12
#: Exact numbers of those cards that must be read (the recognizer read 7 of 12 when this was set).
HELDOUT_FLOOR = 6


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _worn_sites(number: str) -> list[int]:
    return [index for index in range(6, len(number) - 1) if number[index] == "8"]


@pytest.mark.parametrize("seed", RIVAL_SEEDS)
def test_a_luhn_valid_rival_from_worn_digits_is_never_answered(recognizer: Recognizer, seed: int) -> None:
    number = rival_pair_number(np.random.default_rng(seed))
    rival = as_rival(number)
    table = default_table()
    assert luhn_valid(rival) and table.plausible(rival) and table.plausible(number), "the premise: a real rival"
    image = adversarial_card(number, _worn_sites(number), wear="left half", fade=RIVAL_FADE, seed=seed)
    answer = recognizer.recognize(_png(image))
    assert answer.value("卡号") != rival
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == number


@pytest.mark.parametrize("seed", (2, 3))
def test_a_scuffed_digit_is_read_right_or_refused(recognizer: Recognizer, seed: int) -> None:
    number = rival_pair_number(np.random.default_rng(seed))
    image = adversarial_card(number, _worn_sites(number)[:1], wear="scuff", fade=1.0, seed=seed)
    answer = recognizer.recognize(_png(image))
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == number


def test_the_same_card_unworn_is_read(recognizer: Recognizer) -> None:
    number = rival_pair_number(np.random.default_rng(RIVAL_SEEDS[0]))
    answer = recognizer.recognize(_png(adversarial_card(number, [], wear="scuff", seed=RIVAL_SEEDS[0])))
    assert answer.code == 0 and answer.value("卡号") == number


def test_worn_digit_rivals_are_recognised() -> None:
    table = default_table()

    def acceptable(candidate: str) -> bool:
        return luhn_valid(candidate) and table.plausible(candidate)

    number = rival_pair_number(np.random.default_rng(4))
    assert has_worn_digit_rival(number, acceptable)
    assert has_worn_digit_rival(as_rival(number), acceptable)
    assert not has_worn_digit_rival("6225881111111117", acceptable)


def test_held_apart_hard_cards_meet_the_floor_with_no_wrong_number(recognizer: Recognizer,
                                                                    tmp_path: Path) -> None:
    from scripts.make_cards import generate

    labels = generate(tmp_path, HELDOUT_CARDS, "heldout", HELDOUT_SEED)
    exact = wrong = 0
    for label in labels:
        answer = recognizer.recognize((tmp_path / label["file"]).read_bytes())
        if answer.code == 0:
            exact += answer.value("卡号") == label["number"]
            wrong += answer.value("卡号") != label["number"]
    assert wrong == 0
    assert exact >= HELDOUT_FLOOR


#: Tuning-side generated cards (level, seed, card index, forced grouping) once answered with a wrong number:
#: an embossed 6+13 line that the general read and the head's read of one crop both read, surely, two digits
#: away from the printed number (a Luhn-valid rival on the same BIN); and a 19-digit line printed without
#: spaces whose "99" two reads merged into one 9 (a Luhn-valid 18-digit number) while most reads saw 19 digits.
TEMPTING_TUNING_CARDS = (("severe", 20002, 16, (6, 13)), ("severe", 20004, 45, (19,)))


@pytest.mark.parametrize(("level", "seed", "index", "grouping"), TEMPTING_TUNING_CARDS)
def test_tuning_cards_that_tempted_a_wrong_number_are_read_right_or_refused(
        recognizer: Recognizer, tmp_path: Path, level: str, seed: int, index: int, grouping: tuple[int, ...]) -> None:
    printed, answer = read_generated_card(recognizer, tmp_path, level, seed, index, grouping)
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == printed


#: Tuning-side generated cards (level, seed, card index) once answered with a wrong expiry: a range's valid-from
#: half whose thru half no box held (relit 40101 #69, "2021/06 - 2024/10" under the network's logo; severe 20060
#: #91, "11/2021-05/2025"), and a member-since date beside its expiry, read "00734" (hard 502 #75), or with the
#: expiry faint and past a label further along its line (severe 20060 #14, "MEMBER SINCE 01/23  EXPIRES END 10/24").
WRONG_DATE_TUNING_CARDS = (("relit", 40101, 69), ("severe", 20060, 91), ("hard", 502, 75), ("severe", 20060, 14))


@pytest.mark.parametrize(("level", "seed", "index"), WRONG_DATE_TUNING_CARDS)
def test_tuning_cards_once_answered_a_wrong_expiry_answer_it_right_or_not_at_all(
        recognizer: Recognizer, tmp_path: Path, level: str, seed: int, index: int) -> None:
    label, answer = read_labelled_card(recognizer, tmp_path, level, seed, index)
    assert answer.value("有效期") in ("", label["valid_date"])


def test_a_range_whose_thru_half_is_read_only_as_digits_answers_no_half_of_it(recognizer: Recognizer,
                                                                               tmp_path: Path) -> None:
    """Benchmark card severe 2024 #66 ("VALID FROM 06/30  GOOD THRU 2032/12 - 2033/08", embossed, glare): the
    valid-from date was chosen, the range's first half read whole after it and answered, though the read after
    that showed "20" and the network's logo where the thru half is printed."""
    label, answer = read_labelled_card(recognizer, tmp_path, "severe", 2024, 66)
    assert answer.value("有效期") in ("", label["valid_date"])


def test_neighbouring_band_strips_agreeing_on_a_misread_are_not_enough(recognizer: Recognizer,
                                                                       tmp_path: Path) -> None:
    """Benchmark card heldout 2024 #56 (4-4-4-4-3, DejaVu Serif Bold foil, motion blur 11 px), once its outline
    was found: two neighbouring strips of the number band read three of its 5s and 4s as 3s and a 1, surely,
    a Luhn-valid number of the same bank, and the strip reads counted as two crops."""
    printed, answer = read_generated_card(recognizer, tmp_path, "heldout", 2024, 56)
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == printed


def test_an_embossed_line_the_band_strips_misread_alike_is_refused(recognizer: Recognizer, tmp_path: Path) -> None:
    """Tuning card severe 20002 #8 (6-13, FreeMono Bold in the card's colour, printed 621724 8288189111997):
    the detected line's reads all disagree about "8288"; neighbouring strips of the number band then read
    "8293" surely, two digits away and Luhn-valid on the same BIN."""
    printed, answer = read_generated_card(recognizer, tmp_path, "severe", 20002, 8, (6, 13))
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == printed


def test_a_number_most_reads_dropped_digits_from_under_a_glare_spot_is_refused(recognizer: Recognizer,
                                                                              tmp_path: Path) -> None:
    """Held-apart card heldout 7019 #103 (unbroken 19 digits, embossed, glare): most reads of its line dropped
    the three digits under the glare, right where a 4-4-4-4 line has its space, and strips of the number band
    then read a Luhn-valid 16-digit number, one more digit wrong; eight reads of the line and the band saw
    digits at that place."""
    printed, answer = read_generated_card(recognizer, tmp_path, "heldout", 7019, 103)
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == printed


#: Fresh held-apart cards still answered with a wrong number, a Luhn-valid one two or three digits away (4 of
#: 1,200 cards of heldout seeds 7020-7027, 1 of 600 of seeds 7028-7031): 7021 #40 (embossed Liberation Sans
#: Bold: the general recogniser read two 3s as 8s in every crop, the head saw one of them as a 3 in two of four
#: reads), 7022 #24 (embossed DejaVu Serif Bold, glare and motion blur: "32" read "89"), 7025 #54 (embossed 19
#: digits on a 410 px card: two 5s read as 3s), 7027 #62 (embossed FreeSans Bold, contrast 0.62: "36" read
#: "85") and 7028 #112 (embossed DejaVu Serif Bold, unbroken 19 digits tilted 14 degrees: "3" read "8" and
#: "38" read "50"). Refusing on the head's dissent alone would refuse the first two, and 12 of 108 right
#: answers on heldout 7022 and 7023 with them: the head misreads those faces. 7020 #59 (FreeSans Bold, motion
#: blur 11 px) was one of them until the head was fine-tuned on severe cards; it is refused now. Of 600 cards of
#: seeds 7032-7035, none; of 600 of seeds 7036-7039, two: 7036 #104 (embossed DejaVu Serif Bold, unbroken 19
#: digits on a 604 px card: one digit dropped, a Luhn-valid 18-digit number) and 7037 #139 (foil Liberation Sans
#: Bold, unbroken 19 digits: two 2s read as 8s). Of 600 of seeds 7040-7043, one: 7043 #103 (flat DejaVu Serif
#: Bold, 6-13 grouped 19 digits on a card 438 px wide, upside down, motion blur 11 px: two 5s read as 3s). Of 150
#: of seed 7044, one: 7044 #148 (embossed FreeSans Bold, worn, unbroken 19 digits on a 512 px card with glare:
#: "8" read "3" and "3" read "8"). 7027 #62, 7037 #139 and 7044 #148 are refused since the relief re-read: a
#: relief read of an earlier line or pass read the printed number, a rival that keeps the wrong one from passing.
#: Of 300 of seeds 7047-7048, none; of 300 of seeds 7049-7050, one: 7050 #115 (embossed DejaVu Serif Bold, 16
#: digits on a 487 px card tilted 13 degrees, blur 1.2, contrast 0.74: a "2" read "3" and a "3" read "2"). Of 300
#: of seeds 7051-7052, two, both embossed 19-digit lines with a 4 read as 1 by every read: 7051 #106 (DejaVu
#: Serif Bold, 6-13, motion blur 8 px: "4", "6", "4" read "1", "5", "1") and 7052 #119 (FreeSans Bold, 4-4-4-4-3:
#: the head's reads alone, three crops, saw a "2" as "5" that every general read saw right). Of 300 of seeds
#: 7053-7054, one: 7054 #104 (embossed FreeSans Bold, unbroken 19 digits on a 406 px card, contrast 0.69, JPEG
#: quality 34: an "8" read "9" and a "2" read "1"). Of 300 of seeds 7055-7056, one: 7055 #134 (silver foil
#: Liberation Sans Bold, unbroken 19 digits on a 473 px card photographed sideways, motion blur 11 px: a "0" and
#: an "8" read "9"). Of 300 of seeds 7057-7058, none; of 300 of seeds 7059-7060, one: 7060 #63 (embossed DejaVu
#: Serif Bold, worn 0.49, 16 digits over wave artwork on a 472 px card tilted 9 degrees, low light: "1513 2024"
#: read "1503 2034"). Of 300 of seeds 7061-7062, one: 7061 #47 (embossed Liberation Sans Bold, 6-13 grouped 19
#: digits over artwork on a 568 px card tilted 9 degrees: "622929 ...842" read "622919 ...942", a BIN the
#: table does not hold but within UnionPay's range, by the general recogniser surely, every digit 0.82 or more,
#: in the detected boxes). Of 300 of seeds 7063-7064, one (7063 #33, below); of 300 of seeds 7065-7066, three, all
#: DejaVu Serif Bold 19-digit numbers on cards 362-387 px wide: 7065 #139 (gold foil, 4-4-4-4-3, tilted 14
#: degrees, motion blur 10 px: "5662 ... 0966" read "5667 ... 9966"), 7066 #27 (embossed, 6-13, low light: "9724"
#: read "9711" and the last digit "2" read "9") and 7066 #120 (below). Of 300 of seeds 7067-7068, one (7068 #83,
#: below); of 300 of seeds 7069-7070, two: 7069 #19 (embossed DejaVu Serif Bold, unbroken 19 digits on a 661 px
#: card, contrast 0.69: a "1" read "4" and a "4" read "1", a Luhn-blind pair, by every read of the contrast pass
#: but one) and 7070 #2 (silver foil FreeSans Bold, 4-4-4-4-3, glare, motion blur 8 px: "7498" read "7993" by
#: two reads of two passes, each unsure of a digit, against a repaired read of the printed number). Of 300 of
#: seeds 7073-7074, one: 7073 #29 (silver foil Liberation Sans Bold, 4-4-4-4-3 on a 516 px card, glare, motion blur
#: 8 px, contrast 0.63: "3109 800" read "8109 300", a worn-digit pair no read spelled back). Of 300 of seeds
#: 7075-7076, two: 7075 #113 (embossed FreeSans Bold, 4-4-4-4 on a 542 px card, low light, motion blur 8 px: "5531 6168
#: 5002 2310" read "5531 8168 5002 0310", a 6 read 8 and a 2 read 0, each by several of the line's reads) and 7076 #7
#: (embossed Liberation Sans Bold, 6-13, glare, blur 1.3: the issuer's "621751" read "621732", its fifth and sixth
#: digits read seven ways by the line's reads, another issuer's number Luhn-valid). Of 300 of seeds 7079-7080, one:
#: 7079 #20 (embossed FreeSans Bold, 4-4-4-4 on a 642 px card tilted 8 degrees, motion blur 11 px: the first three
#: groups "6212 58.. ..76" read "6219 50.. ..70", two 2s read 9 and an 8 and a 6 read 0, another issuer's number).
#: Of 300 of seeds 7081-7082, two, both embossed FreeSans Bold 19-digit lines: 7081 #147 (4-4-4-4-3 on a 671 px
#: card, blur 1.3: the issuer's "621363" read "621863" and a 2 of the fourth group read 1, a 3 read 8 and a 2 read
#: 1 that Luhn lets pass together) and 7082 #121 (below). Of 600 of seeds 7083-7086, two, both 19-digit lines under
#: glare: 7085 #9 (flat FreeSans Bold, 6-13 on a 399 px card, motion blur 7 px: an 8 read 0 and a 5 read 3) and
#: 7085 #43 (embossed Liberation Sans Bold, unbroken, contrast 0.62: "34" read "91"). Of 600 of seeds 7087-7090, one
#: (and 7087 #96, below): 7090 #95 (gold foil DejaVu Serif Bold, 6-13 on a 403 px card, low light, motion blur 11 px:
#: "8635" read "3633", an 8 and a 5 read 3).
KNOWN_WRONG_HELDOUT_CARDS = (
    (7021, 40), (7022, 24), (7025, 54), (7028, 112), (7043, 103), (7050, 115), (7052, 119), (7055, 134),
    (7060, 63), (7065, 139), (7066, 27), (7069, 19), (7070, 2), (7073, 29), (7075, 113), (7076, 7), (7079, 20),
    (7081, 147), (7085, 9), (7085, 43), (7090, 95),
)
#: Held-apart cards once answered with a wrong number (see above) that are refused now. 7063 #33 (embossed Liberation
#: Sans Bold, worn, 6-13 grouped 19 digits on a 586 px card tilted 14 degrees, glare, blur 1.7: "1383" read "1533" by
#: a relief read and a box read, whose votes were more than twice those of either rival but not of both together) and
#: 7054 #104 are no longer answered wrong since the winner needs twice its rivals' votes together, not only the best
#: one's. 7066 #120 (silver foil, 6-13 grouped 19 digits, glare: the 13-digit group alone, Luhn-valid and in Visa's
#: range, its 6-digit group never read) is refused since 13-digit numbers in Visa's range are not plausible: Visa no
#: longer issues them. 7068 #83 (embossed FreeSans Bold, unbroken 19 digits on a 692 px card tilted 12 degrees,
#: glare, blur 1.4: a "7" dropped from "...5462757266", a Luhn-valid 18-digit number two reads of the sharpened pass
#: agreed on; seven of the line's reads broke it where the 7 was printed) and 7036 #104 (above; two reads broke it
#: where its "4" was dropped, two read a digit there) are refused since reads that see a break or a digit at one
#: place of a number printed whole (17 or 18 digits) speak against it. 7051 #106 (a repaired head read differed from
#: its misreading by a 4 and a 1 swapped) and 7061 #47 (its misreading had a 1 and a 4 that Luhn cannot tell
#: swapped, so the line's darkened read was taken too, and it read the printed number, a rival the later passes
#: then read as often) are refused since a 4 worn to a 1, and back, makes a worn-digit rival: such a winner needs
#: the contrast-enhanced and darkened reads too, and any read of the rival blocks it. 7082 #121 (embossed FreeSans
#: Bold, an unbroken 19-digit line on a 588 px card with glare, blur 1.8: read as 16 digits by two reads of the
#: contrast pass, its 13th to 15th lost in a gap four pitches wide after the 12th, a Luhn-valid number of the same
#: issuer) is refused since a gap at a 4-4-4-4 space with room for a digit more counts as a dropped digit. 7087 #96
#: (embossed Liberation Sans Bold, 6-13 on a 567 px card with glare: the first four digits lost to the glare, the
#: group's last two run into the thirteen after them by every read, an 8 read 3, a Luhn-valid 15-digit number in
#: the Diners range) is refused since a number printed only in groups needs a read of its line that breaks it.
ONCE_WRONG_HELDOUT_CARDS = ((7027, 62), (7036, 104), (7037, 139), (7044, 148), (7051, 106), (7054, 104), (7061, 47),
                            (7063, 33), (7066, 120), (7068, 83), (7082, 121), (7087, 96))


@pytest.mark.parametrize(("seed", "index"), [
    *(pytest.param(seed, index, marks=pytest.mark.xfail(strict=True, reason="known wrong number on a held-apart card"))
      for seed, index in KNOWN_WRONG_HELDOUT_CARDS),
    *ONCE_WRONG_HELDOUT_CARDS,
])
def test_held_apart_cards_once_answered_wrong_are_read_right_or_refused(recognizer: Recognizer, tmp_path: Path,
                                                                       seed: int, index: int) -> None:
    printed, answer = read_generated_card(recognizer, tmp_path, "heldout", seed, index)
    assert answer.code == codes.RECOGNITION_FAILED or answer.value("卡号") == printed
