"""Expiry parsing and selection: labels, distractors, impossible months, MM/YY -> MM/YYYY."""

from __future__ import annotations

import numpy as np
import pytest

from worker.recognizer.ctc import Decoded, DecodedChar
from worker.recognizer.engine import LineRead
from worker.recognizer.expiry import find_expiry, format_expiry, label_kind, parse_dates
from worker.recognizer.layout import TextBox


def decoded(text: str, conf: float = 0.95) -> Decoded:
    n = max(len(text), 1)
    return Decoded(chars=tuple(DecodedChar(ch, conf, (i + 0.5) / n, "", 0.0) for i, ch in enumerate(text)))


def box(text: str, x: float, y: float, width: float | None = None, height: float = 20.0,
        date_text: str | None = None) -> TextBox:
    width = width if width is not None else 12.0 * len(text)
    quad = np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]], np.float32)
    digits = "".join(c if c.isdigit() or c == " " else "" for c in text)
    return TextBox(quad=quad, read=LineRead(full=decoded(text), digits=decoded(digits),
                                            date=decoded(date_text if date_text is not None else text)))


@pytest.mark.parametrize(("text", "expected"), [
    ("08/28", [(8, 2028)]),
    ("VALID THRU 12/30", [(12, 2030)]),
    ("01-2027", [(1, 2027)]),
    ("03 / 29", [(3, 2029)]),
    ("13/28", []),          # no month 13
    ("00/28", []),          # no month 0
    ("6225 7600 0000 0005", []),
    ("108/28", []),         # a digit glued before is not a month
    ("MEMBER SINCE 05/19  VALID THRU 05/29", [(5, 2019), (5, 2029)]),
    ("08/2028", [(8, 2028)]),                   # MM/YYYY
    ("2024/12", [(12, 2024)]),                  # YYYY/MM, as 19-digit debit cards print it
    ("有效期至 2031.07", [(7, 2031)]),
    ("28/08", [(8, 2028)]),                     # YY/MM: 28 cannot be a month
    ("11/12", [(11, 2012)]),                    # both readings possible: MM/YY, the common form
    ("2024/13", []),                            # no month 13 in YYYY/MM either
    ("13/28", []),                              # neither MM/YY nor YY/MM
    ("2019/05-2029/05", [(5, 2019), (5, 2029)]),  # valid-from and thru, year first
    ("06/2019-05/2029", [(6, 2019), (5, 2029)]),  # the same, month first: never read as 2019-05
    ("05/19-05/29", [(5, 2019), (5, 2029)]),    # never read as YY/MM 19-05
    ("62258800123456789 2030/06", [(6, 2030)]),
    ("12/172024/02", [(12, 2017), (2, 2024)]),  # two dates read as one token: split where YYYY/MM starts
    ("08/2308/25", [(8, 2023), (8, 2025)]),     # two MM/YY read as one token: split where a month starts
    ("06/202605/31", [(6, 2026), (5, 2031)]),   # an MM/YYYY and an MM/YY
    ("108/2308/25", [(8, 2025)]),               # a digit glued before the first is still not a month
])
def test_parse_dates(text: str, expected: list[tuple[int, int]]) -> None:
    assert [(d.month, d.year) for d in parse_dates(text)] == expected


@pytest.mark.parametrize(("text", "kind"), [
    ("VALID THRU", "expiry"), ("GOOD THRU", "expiry"), ("有效期", "expiry"), ("有效期至", "expiry"),
    ("MONTH/YEAR", "expiry"), ("EXPIRES", "expiry"), ("valid thru", "expiry"),
    ("MEMBER SINCE", "distractor"), ("VALID FROM", "distractor"), ("MEMBER SINCE 05/19 VALID THRU", "expiry"),
    ("VALID THRU 05/29 MEMBER SINCE", "distractor"), ("CHINA UNIONPAY", None), ("", None),
])
def test_label_kind(text: str, kind: str | None) -> None:
    assert label_kind(text) == kind


def test_years_too_far_ahead_are_misreads() -> None:
    assert parse_dates("08/81", latest_year=2041) == []
    assert [(d.month, d.year) for d in parse_dates("08/2041", latest_year=2041)] == [(8, 2041)]
    assert parse_dates("08/2042", latest_year=2041) == []
    assert [(d.month, d.year) for d in parse_dates("08/08")] == [(8, 2008)]


def test_two_digit_years_become_four_digit() -> None:
    assert format_expiry(8, 2028) == "08/2028"
    assert format_expiry(12, 2008) == "12/2008"


def test_label_on_the_same_line_wins_over_a_later_unlabelled_date() -> None:
    boxes = [box("VALID THRU 08/28", 300, 400), box("11/35", 100, 100)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "08/2028"


def test_member_since_on_the_same_line_is_rejected() -> None:
    boxes = [box("MEMBER SINCE 03/29", 100, 400), box("VALID THRU 08/28", 400, 400)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "08/2028"


def test_a_distractor_alone_is_no_expiry() -> None:
    assert find_expiry([box("MEMBER SINCE 03/19", 100, 400)]) is None
    assert find_expiry([box("VALID FROM 03/19", 100, 400)]) is None


def test_label_in_a_box_to_the_left() -> None:
    boxes = [box("GOOD THRU", 200, 400), box("09/27", 320, 400), box("MEMBER SINCE", 200, 300), box("01/30", 360, 300)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "09/2027"


def test_a_label_labels_the_date_after_it_not_one_beyond_that_date() -> None:
    # MEMBER SINCE 01/29 and VALID THRU 07/30 on one tilted line, the second label misread inside the date's
    # box, whose larger box centres it below the first label: that label is "above" it, but labels 01/29
    boxes = [box("MEMBER SINCE", 270, 640, width=126, height=22), box("01/29", 386, 650, width=120, height=37),
             box("YALU 07/30", 545, 680, width=176, height=46)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "07/2030"


def test_label_above_the_date() -> None:
    boxes = [box("有效期", 300, 370, height=16), box("06/31", 300, 392)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "06/2031"


def test_unlabelled_dates_pick_the_latest() -> None:
    boxes = [box("04/22", 100, 400), box("10/29", 300, 400, height=40)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "10/2029"


def test_impossible_month_is_not_an_expiry() -> None:
    assert find_expiry([box("VALID THRU 15/28", 300, 400)]) is None


def test_digits_only_date_decode_recovers_a_misread_digit() -> None:
    # the general decode read "O8/28" (letter O); the digit-and-separator decode has it right
    boxes = [box("VALID THRU O8/28", 300, 400, date_text="1  08/28")]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "08/2028"


def test_a_distractor_seen_through_the_date_decode_is_still_rejected() -> None:
    boxes = [box("MEMBER SINCE O3/31", 100, 400, date_text="      1     03/31"), box("VALID THRU 08/28", 400, 400)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "08/2028"


def test_the_date_box_covers_only_the_date_part_of_its_line() -> None:
    line = box("VALID THRU 08/28", 300, 400, width=320)
    decision = find_expiry([line])
    assert decision is not None
    xs = decision.quad[:, 0]
    assert xs.min() > 300 + 320 * 0.5   # the label's part is excluded
    assert xs.max() <= 300 + 320 + 1e-3
    assert 0.0 < decision.conf <= 1.0


def test_no_dates_no_expiry() -> None:
    assert find_expiry([box("6225 7600 0000 0005", 50, 300), box("CHINA MERCHANTS BANK", 50, 50)]) is None


@pytest.mark.parametrize("label", ["有效期", "VALID THRU", "GOOD THRU", "有效期至", ""])
@pytest.mark.parametrize(("printed", "expected"), [
    ("08/28", "08/2028"), ("08/2028", "08/2028"), ("2028/08", "08/2028"), ("28/08", "08/2028"),
])
def test_every_format_under_every_label_answers_mm_yyyy(label: str, printed: str, expected: str) -> None:
    boxes = [box("6225 7600 0000 0005", 50, 300), box(f"{label} {printed}".strip(), 300, 400)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == expected


@pytest.mark.parametrize("label", ["有效期", "VALID THRU", "GOOD THRU", "有效期至", ""])
@pytest.mark.parametrize(("printed", "expected"), [
    ("05/19-05/29", "05/2029"), ("2019/05-2029/05", "05/2029"), ("05/2019 - 05/2029", "05/2029"),
    ("05/29 05/19", "05/2029"),
])
def test_of_two_dates_valid_from_and_thru_the_latest_is_the_expiry(label: str, printed: str,
                                                                   expected: str) -> None:
    decision = find_expiry([box(f"{label} {printed}".strip(), 300, 400)])
    assert decision is not None and decision.text == expected


def test_two_dates_in_separate_boxes_the_latest_wins() -> None:
    boxes = [box("2021/03", 200, 400), box("2031/03", 400, 400)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "03/2031"


def test_a_valid_from_label_between_the_dates_drops_only_the_first() -> None:
    decision = find_expiry([box("VALID FROM 2027/03 VALID THRU 2026/03", 300, 400)])
    assert decision is not None and decision.text == "03/2026"


def test_a_year_first_date_under_a_distractor_is_dropped() -> None:
    assert find_expiry([box("MEMBER SINCE 2019/05", 100, 400)]) is None


def test_a_member_since_box_with_its_own_date_does_not_label_the_thru_date_beside_it() -> None:
    # tuning card severe 20011 #23: "MEMBER SINCE 03/27" read as one box, the year-first thru date 2029/11 in
    # the next box to its right; the distractor label belongs to 03/27 alone
    boxes = [box("MEMBER SINCE 03/27", 180, 288, width=196, height=21), box("2029/11", 360, 300, width=72, height=22)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "11/2029"


def test_a_member_since_box_with_its_own_date_labels_nothing_even_read_without_a_space() -> None:
    # tuning card severe 20011 #19: the YY/MM thru date 29/10 right of "MEMBER SINCE01/22"
    boxes = [box("MEMBER SINCE01/22", 460, 538, width=220, height=23), box("29/10", 732, 530, width=60, height=24)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "10/2029"


def test_a_bare_distractor_label_still_drops_the_date_beside_it() -> None:
    boxes = [box("MEMBER SINCE", 100, 400), box("03/27", 260, 400)]
    assert find_expiry(boxes) is None


def test_the_from_half_of_a_range_whose_thru_half_is_unreadable_is_not_answered() -> None:
    # tuning card severe 20011 #20: "04/29 - 07/33" read as "04/29=07138" (the date decode "04/29.07138");
    # answering 04/2029 would be a wrong date, an empty answer is only a miss
    assert find_expiry([box("04/29=07138", 300, 400, date_text="04/29.07138")]) is None
    assert find_expiry([box("VALID THRU 05/19-O5/Z9", 300, 400, date_text="05/19-0 5/ 9")]) is None


def test_the_from_half_of_a_range_glued_to_its_unreadable_thru_half_is_not_answered() -> None:
    # tuning card relit 40101 #53: "2028/09 - 2029/12" read as one token, "2028/092029/1", in the strip below
    # the number; the glued thru half parses as no date, and 09/2028 alone would be a wrong date
    assert find_expiry([box("2028/092029/1", 300, 400)]) is None
    decision = find_expiry([box("2028/092029/12", 300, 400)])
    assert decision is not None and decision.text == "12/2029"


def test_a_range_read_whole_still_answers_its_thru_date() -> None:
    decision = find_expiry([box("04/29=07/33", 300, 400, date_text="04/29.07/33")])
    assert decision is not None and decision.text == "07/2033"


@pytest.mark.parametrize("misread", ["SINEE", "MEMOER", "VALIDFRON", "lSSUED"])
def test_a_distractor_label_read_with_one_letter_wrong_is_still_a_distractor(misread: str) -> None:
    # tuning card severe 20011 #5: no expiry printed, "MEMBER SINCE 04/25" read as "SINEE" left of "04/25"
    assert label_kind(misread) == "distractor"
    assert find_expiry([box(misread, 160, 380, width=90), box("04/25", 250, 372, width=60)]) is None


@pytest.mark.parametrize("text", ["ZHANG HAO YU", "UnionPay", "ELECTRONIC USE ONLY", "PLATINUM", "DEBIT"])
def test_ordinary_card_words_are_no_near_distractor(text: str) -> None:
    assert label_kind(text) is None


@pytest.mark.parametrize(("answer", "printed", "outcome"), [
    ("08/2028", "08/2028", "right"), ("", "", "right"), ("", "08/2028", "MISSED"),
    ("08/2025", "08/2028", "WRONG-DATE"), ("08/2025", "", "SPURIOUS"),
])
def test_the_tuning_tool_keeps_wrong_dates_apart_from_empty_answers(answer: str, printed: str, outcome: str) -> None:
    from scripts.train.tune_recognizer import expiry_outcome_of

    assert expiry_outcome_of(answer, printed) == outcome


def test_a_range_whose_from_slash_was_lost_is_not_read_as_a_year_first_date_across_its_dash() -> None:
    # tuning card severe 20021 #59: "04/22" (valid from) then "01/22-04/26" read as one box
    # "04/2201/22-04/26"; "22-04" across the range dash parsed as YY/MM gave 04/2022, a wrong date. The three
    # printed dates are found, and none across the dash
    assert [(d.month, d.year) for d in parse_dates("04/2201/22-04/26")] == [(4, 2022), (1, 2022), (4, 2026)]
    assert [(d.month, d.year) for d in parse_dates("28/08")] == [(8, 2028)]
    decision = find_expiry([box("04/2201/22-04/26", 300, 400)])
    assert decision is not None and decision.text == "04/2026"


@pytest.mark.parametrize(("top", "bottom", "answered"), [("VALID", "FROM", False), ("MEMBER", "SINCE", False),
                                                          ("VALID", "THRU", True)])
def test_a_label_stacked_on_two_lines_to_the_left_labels_the_date(top: str, bottom: str, answered: bool) -> None:
    # severe 7003 #44: "VALID / FROM" printed on two small lines left of a lone 04/26, detected as two boxes,
    # the lower one's centre a date's height below the date's: neither line alone is a label within reach
    boxes = [box("04/26", 442, 532, height=34), box(top, 345, 559, height=19), box(bottom, 352, 572, height=21)]
    decision = find_expiry(boxes)
    assert (decision is not None) is answered
    assert decision is None or decision.text == "04/2026"


def test_a_stacked_label_beyond_another_date_labels_only_that_one() -> None:
    # held-apart 7024 #54: the thru date 10/27 (its label unread), the valid-from date 10/21 below-left of it,
    # and "VALID / FROM" stacked left of 10/21
    boxes = [box("10/27", 478, 447, width=100, height=35), box("10/21", 336, 468, width=90, height=33),
             box("VALID", 296, 479, width=46, height=18), box("FROM", 298, 491, width=46, height=19)]
    decision = find_expiry(boxes)
    assert decision is not None and decision.text == "10/2027"
