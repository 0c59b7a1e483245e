"""The expiry is answered only when a second read of its own pixels shows the same date.

A box's first read can be sure and wrong; the date chosen from it is re-read from the image, cropped to the
date alone, and dropped when that read shows another date. Real engine, real pixels: the box's first read is
given (a misread of what is printed) so the test says exactly what was read where.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.generated_cards import read_labelled_card
from tests.test_expiry import decoded
from worker.recognizer.engine import LineRead, OcrEngine
from worker.recognizer.expiry import ExpiryDecision
from worker.recognizer.expiryreads import read_again, read_expiry
from worker.recognizer.geometry import View
from worker.recognizer.layout import TextBox
from worker.recognizer.service import Recognizer

FONT = Path(__file__).resolve().parent.parent / "scripts" / "fonts" / "DejaVuSansMono-Bold.ttf"


#: The page's card colour and the ink printed on it.
CARD = (226, 222, 210)
INK = (30, 30, 34)


def print_line(draw: ImageDraw.ImageDraw, text: str, origin: tuple[int, int], size: int, pad: int) -> np.ndarray:
    """Print ``text`` dark at ``origin`` in the test font at ``size``; the quad around it, ``pad`` px wider on
    every side."""
    font = ImageFont.truetype(str(FONT), size)
    left, top, right, bottom = draw.textbbox(origin, text, font=font)
    draw.text(origin, text, font=font, fill=INK)
    return np.array([[left - pad, top - pad], [right + pad, top - pad], [right + pad, bottom + pad],
                     [left - pad, bottom + pad]], np.float32)


def page_view(page: Image.Image) -> View:
    """The upright view of a drawn RGB page, at its own scale."""
    bgr = np.ascontiguousarray(np.asarray(page)[:, :, ::-1])
    return View.of(bgr, quarter_turns=0, scale=1.0, original_size=page.size)


def printed(text: str) -> tuple[View, np.ndarray]:
    """A light card-coloured page with ``text`` printed dark, and the quad around the text."""
    page = Image.new("RGB", (640, 160), CARD)
    quad = print_line(ImageDraw.Draw(page), text, (40, 60), 36, 4)
    return page_view(page), quad


def confirmed(engine: OcrEngine, view: View, decision: ExpiryDecision) -> bool:
    """Whether the re-reads of the date's own pixels confirm ``decision`` as it is (no expiry label: no date
    read in its place)."""
    return read_again(engine, view, decision, expiry_label=False) is decision


def read_as(quad: np.ndarray, text: str) -> TextBox:
    digits = "".join(c for c in text if c.isdigit() or c == " ")
    return TextBox(quad=quad, read=LineRead(full=decoded(text), digits=decoded(digits), date=decoded(text)))


def test_a_date_its_pixels_show_again_is_answered(engine: OcrEngine) -> None:
    view, quad = printed("VALID THRU 08/28")
    decision = read_expiry(engine, view, [read_as(quad, "VALID THRU 08/28")])
    assert decision is not None and decision.text == "08/2028"


@pytest.mark.parametrize("misread", ["VALID THRU 03/23", "VALID THRU 08/29", "VALID THRU 2028/03"])
def test_a_date_its_pixels_do_not_show_is_not_answered_but_the_date_they_show(engine: OcrEngine,
                                                                               misread: str) -> None:
    view, quad = printed("VALID THRU 08/28")
    decision = read_expiry(engine, view, [read_as(quad, misread)])
    assert decision is not None and decision.text == "08/2028"


def test_no_date_in_the_reads_answers_none_without_rereading_the_number(engine: OcrEngine) -> None:
    view, quad = printed("6225 7600 0000 0005")
    assert read_expiry(engine, view, [read_as(quad, "6225 7600 0000 0005")]) is None


def beside_a_stacked_label(top: str, bottom: str) -> tuple[View, np.ndarray]:
    """A page with the date 03/27 and, left of it, a label printed small on two lines (as cards print VALID /
    THRU or MEMBER / SINCE, often too small for the detector), or on one when ``bottom`` is empty; the quad is
    the date's alone."""
    page = Image.new("RGB", (640, 160), CARD)
    draw = ImageDraw.Draw(page)
    label_font = ImageFont.truetype(str(FONT), 13)
    quad = print_line(draw, "03/27", (200, 60), 36, 4)
    left, middle = float(quad[0, 0]) + 4, float(quad[:, 1].mean())
    lines = ((top, middle - 15), (bottom, middle + 1)) if bottom else ((top, middle - 8),)
    for text, y in lines:
        width = draw.textlength(text, font=label_font)
        draw.text((left - 8 - width, y), text, font=label_font, fill=INK)
    return page_view(page), quad


@pytest.mark.parametrize(("top", "bottom"), [("MEMBER", "SINCE"), ("VALID", "FROM"), ("MEMBER SINCE", "")])
def test_a_lone_date_under_a_distractor_label_the_detector_missed_is_not_answered(
        engine: OcrEngine, top: str, bottom: str) -> None:
    view, quad = beside_a_stacked_label(top, bottom)
    assert read_expiry(engine, view, [read_as(quad, "03/27")]) is None


@pytest.mark.parametrize(("top", "bottom"), [("VALID", "THRU"), ("GOOD", "THRU"), ("", "")])
def test_a_lone_date_under_an_expiry_label_or_none_is_answered(engine: OcrEngine, top: str, bottom: str) -> None:
    view, quad = beside_a_stacked_label(top, bottom)
    decision = read_expiry(engine, view, [read_as(quad, "03/27")])
    assert decision is not None and decision.text == "03/2027"


def with_text_after(date: str, after: str) -> tuple[View, np.ndarray]:
    """A page with ``date`` printed and ``after`` printed further along its line, and the quad of the date
    alone: a range's valid-from half and its thru half, with no box of the page's detection around the second."""
    page = Image.new("RGB", (720, 160), CARD)
    draw = ImageDraw.Draw(page)
    quad = print_line(draw, date, (40, 60), 36, 4)
    print_line(draw, after, (int(quad[1, 0]) + 20, 60), 36, 4)
    return page_view(page), quad


@pytest.mark.parametrize(("date", "after", "expected"), [
    ("2021/06", "- 2024/10", "10/2024"), ("04/29", "- 07/33", "07/2033"), ("10/29", "05/34", "05/2034")])
def test_a_later_date_after_a_date_on_its_line_is_answered_in_its_place(engine: OcrEngine, date: str, after: str,
                                                                        expected: str) -> None:
    # tuning card relit 40101 #69: "2021/06 - 2024/10" with the thru half under the network's logo and no box of
    # its own, the valid-from half answered; hard 502 #75: a member-since date answered beside its expiry
    view, quad = with_text_after(date, after)
    decision = read_expiry(engine, view, [read_as(quad, date)])
    assert decision is not None and decision.text == expected


def with_labelled_date_far_after(date: str, label: tuple[str, str], later: str, gap: int) -> tuple[View, np.ndarray]:
    """A page with ``date``, then ``gap`` px along its line a small two-line label and the ``later`` date after
    it, as cards print "MEMBER SINCE 01/23  EXPIRES END 10/24"; the quad of the first date alone."""
    page = Image.new("RGB", (720, 160), CARD)
    draw = ImageDraw.Draw(page)
    quad = print_line(draw, date, (40, 60), 36, 4)
    label_font = ImageFont.truetype(str(FONT), 13)
    left, middle = int(quad[1, 0]) + gap, float(quad[:, 1].mean())
    width = max(draw.textlength(line, font=label_font) for line in label)
    for line, y in zip(label, (middle - 15, middle + 1), strict=True):
        draw.text((left, y), line, font=label_font, fill=INK)
    print_line(draw, later, (left + int(width) + 10, 60), 36, 4)
    return page_view(page), quad


def test_an_expiry_printed_far_along_a_member_since_dates_line_is_answered(engine: OcrEngine) -> None:
    # tuning card severe 20060 #14: "MEMBER SINCE 01/23  EXPIRES END 10/24", the expiry too faint for a box of
    # the page's detection and past the first seven heights right of the member-since date, which was answered
    view, quad = with_labelled_date_far_after("01/23", ("EXPIRES", "END"), "10/24", 220)
    decision = read_expiry(engine, view, [read_as(quad, "01/23")])
    assert decision is not None and decision.text == "10/2024"


@pytest.mark.parametrize(("date", "after", "expected"), [("2024/10", "", "10/2024"), ("10/24", "- 05/19", "10/2024"),
                                                          ("05/34", "123", "05/2034")])
def test_a_date_with_nothing_later_after_it_is_answered(engine: OcrEngine, date: str, after: str,
                                                        expected: str) -> None:
    view, quad = with_text_after(date, after)
    decision = read_expiry(engine, view, [read_as(quad, date)])
    assert decision is not None and decision.text == expected


class ScriptedReads:
    """Stands in for the recogniser's reads of the confirming crops, in the order they are asked for, so the
    vote among them is checked on exactly the reads given (the reads themselves are the engine's concern,
    checked on real pixels above)."""

    def __init__(self, texts: list[str], head: list[tuple[str, float]] | None = None) -> None:
        self.texts = list(texts)
        self.head = list(head) if head is not None else None

    def read(self, crops: list[np.ndarray], *, number: bool = False, expiry: bool = False) -> list[LineRead]:
        taken, self.texts = self.texts[:len(crops)], self.texts[len(crops):]
        assert len(taken) == len(crops), "more crops read than scripted"
        heads: list[tuple[str, float] | None] = [None] * len(crops)
        if self.head is not None and expiry:
            heads, self.head = list(self.head[:len(crops)]), self.head[len(crops):]
        return [LineRead(full=decoded(text), digits=decoded(text), date=decoded(text),
                         expiry=decoded(*head) if head is not None else None)
                for text, head in zip(taken, heads, strict=True)]


def decision_03_29() -> tuple[View, ExpiryDecision]:
    view, quad = printed("03/29")
    return view, ExpiryDecision(3, 2029, 0.9, quad)


@pytest.mark.parametrize(("reads", "expected"), [
    # the first plain and contrast-enhanced reads show no date; most of the ten at other scales show it
    (["", "", "03/29", "03/21", "03/29", "", "03/29", "0329", "", "", "03/29", ""], True),
    # the first reads show another date: a rival, whatever the others show
    (["03/21", "", "03/29", "03/29", "03/29", "", "03/29", "", "", "", "03/29", ""], False),
    # shown twice, but another date more often
    (["", "", "03/29", "03/21", "03/29", "03/21", "03/21", "", "", "", "", ""], False),
    # as often as another date: a tie confirms nothing
    (["", "", "03/29", "03/21", "03/29", "03/21", "", "", "", "", "", ""], False),
    # shown once
    (["", "", "03/29", "", "", "", "", "", "", "", "", ""], False),
])
def test_a_date_the_first_reads_missed_is_confirmed_only_by_most_reads(reads: list[str], expected: bool) -> None:
    view, decision = decision_03_29()
    assert confirmed(ScriptedReads(reads), view, decision) is expected  # type: ignore[arg-type]


def test_a_date_the_first_read_shows_is_confirmed_without_more_reads() -> None:
    view, decision = decision_03_29()
    assert confirmed(ScriptedReads(["03/29", ""]), view, decision)  # type: ignore[arg-type]


@pytest.mark.parametrize(("general", "head", "expected"), [
    # the general reads garble the date, the date head reads it surely: confirmed
    (["0329", "83/29"], [("03/29", 0.9), ("03/29", 0.8)], True),
    # the general reads show it, but the date head surely reads another date in the same pixels: a rival
    (["03/29", "03/29"], [("03/21", 0.9), ("", 0.9)], False),
    # one of the head's reads shows it, the other surely another: a rival, whatever the first showed
    (["", ""], [("03/29", 0.9), ("03/21", 0.9)], False),
    # the head unsure of its date (a character below HEAD_MIN_CHAR_CONF): the general reads decide
    (["03/29", ""], [("03/21", 0.4), ("", 0.9)], True),
    (["0329", "83/29"], [("03/29", 0.4), ("03/29", 0.5)], False),
])
def test_the_date_head_confirms_or_vetoes_a_date_where_it_reads_one_surely(
        general: list[str], head: list[tuple[str, float]], expected: bool) -> None:
    view, decision = decision_03_29()
    reads = ScriptedReads(general + [""] * 10, head + [("", 0.9)] * 10)
    assert confirmed(reads, view, decision) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("general", "head", "expected"), [
    # the date head reads another date surely in both first crops, and most reads at other scales show it too:
    # that date is what the pixels print (the page's read of the box had misread it)
    (["05/29", "05/29"], [("03/21", 0.9), ("03/21", 0.9)] + [("03/21", 0.9)] * 3 + [("", 0.9)] * 7, (3, 2021)),
    # ...but not when the reads at other scales do not show it most
    (["", ""], [("03/21", 0.9), ("03/21", 0.9)] + [("03/21", 0.9)] + [("", 0.9)] * 9, None),
    (["", ""], [("03/21", 0.9), ("03/21", 0.9)] + [("03/21", 0.9), ("03/29", 0.9)] * 2 + [("", 0.9)] * 6, None),
    # nor when the two first crops' sure reads differ, or one of them shows no date
    (["", ""], [("03/21", 0.9), ("03/27", 0.9)] + [("03/21", 0.9)] * 10, None),
    (["", ""], [("03/21", 0.9), ("", 0.9)] + [("03/21", 0.9)] * 10, None),
    # nor when a first read is unsure of the other date
    (["", ""], [("03/21", 0.9), ("03/21", 0.5)] + [("03/21", 0.9)] * 10, None),
    # the date itself, confirmed, is answered as it is
    (["03/29", ""], [("", 0.9), ("", 0.9)], (3, 2029)),
])
def test_a_date_its_pixels_surely_show_as_another_is_read_again_as_that_date(
        general: list[str], head: list[tuple[str, float]], expected: tuple[int, int] | None) -> None:
    view, decision = decision_03_29()
    reads = ScriptedReads(general + [""] * 10, head)
    again = read_again(reads, view, decision, expiry_label=True)  # type: ignore[arg-type]
    assert (None if again is None else (again.month, again.year)) == expected
    if again is not None:
        assert again.quad is decision.quad and confirmed(
            ScriptedReads(general + [""] * 10, head), view, decision) is (expected == (3, 2029))  # type: ignore[arg-type]


def test_an_unlabelled_date_its_pixels_show_as_another_is_not_answered() -> None:
    """An unlabelled date may be a member-since date whose label no read made out: read right, it is still not
    the expiry (held-apart 7082 #53, "MEMBER SINCE 09/23" misread "09/2027", its own crop read 09/23)."""
    view, decision = decision_03_29()
    reads = ScriptedReads(["", ""] + [""] * 10, [("03/21", 0.9)] * 12)
    assert read_again(reads, view, decision, expiry_label=False) is None  # type: ignore[arg-type]


#: Tuning-side generated cards (level, seed, card index) whose date, printed under its expiry label, the page's
#: read of its box misread (05/2034 for 06/34 on hard 502 #3, 09/2039 for 09/33 on severe 20060 #44: embossed,
#: blurred), and whose own crop the date head reads surely as printed, plain and contrast-enhanced, and at most
#: other scales.
MISREAD_DATE_TUNING_CARDS = (("hard", 502, 3), ("severe", 20060, 44))


@pytest.mark.parametrize(("level", "seed", "index"), MISREAD_DATE_TUNING_CARDS)
def test_a_date_the_pages_read_misread_is_answered_as_its_own_crop_shows_it(
        recognizer: Recognizer, tmp_path: Path, level: str, seed: int, index: int) -> None:
    label, answer = read_labelled_card(recognizer, tmp_path, level, seed, index)
    assert answer.value("有效期") == label["valid_date"]
