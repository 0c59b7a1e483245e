"""The strip below the number line is searched for the date boxes the page's detection missed.

Real engine, real pixels: a page with a number line and a date under it, where the page's boxes (given) hold
only the number, as on the embossed cards whose small date the page's detection found no box for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.test_expiry_confirmation import CARD, page_view, print_line, read_as
from worker.recognizer.datestrip import boxes_below_number
from worker.recognizer.engine import OcrEngine
from worker.recognizer.expiryreads import read_expiry
from worker.recognizer.geometry import View, below, map_quad, straighten

NUMBER = "6225 7600 0000 0005"


def card_page(date_line: str) -> tuple[View, np.ndarray, np.ndarray]:
    """A light card-coloured page with the number printed large and ``date_line`` small under it, from the
    number's middle; the number's quad and the date line's."""
    page = Image.new("RGB", (760, 300), CARD)
    draw = ImageDraw.Draw(page)
    number_quad = print_line(draw, NUMBER, (40, 80), 40, 3)
    date_quad = print_line(draw, date_line, (300, 150), 24, 3)
    return page_view(page), number_quad, date_quad


def test_the_area_below_a_line_follows_its_axes() -> None:
    line = np.array([[100, 50], [300, 50], [300, 70], [100, 70]], np.float32)
    strip = below(line, 0.5, 1.0, 0.0, 2.0)
    assert np.allclose(strip, [[200, 70], [300, 70], [300, 110], [200, 110]])
    turned = np.array([[0, 0], [0, 200], [-20, 200], [-20, 0]], np.float32)  # the same line, running down
    assert np.allclose(below(turned, 0.5, 1.0, 0.0, 2.0), [[-20, 100], [-20, 200], [-60, 200], [-60, 100]])


def test_a_quad_found_in_a_straightened_crop_maps_back_to_the_image() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    quad = np.array([[40, 60], [240, 80], [236, 120], [36, 100]], np.float32)
    crop, to_image = straighten(image, quad, min_height=96)
    height, width = crop.shape[:2]
    assert height >= 96
    whole = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    assert np.allclose(map_quad(whole, to_image), quad, atol=0.01)


def test_the_strip_shows_the_date_and_its_label_as_boxes(engine: OcrEngine) -> None:
    view, number_quad, date_quad = card_page("VALID THRU 08/28")
    boxes = boxes_below_number(engine, view, number_quad)
    dated = [box for box in boxes if "08/28" in box.read.full.text]
    assert dated, [box.read.full.text for box in boxes]
    centre = dated[0].centre
    assert date_quad[:, 0].min() <= centre[0] <= date_quad[:, 0].max()
    assert date_quad[:, 1].min() <= centre[1] <= date_quad[:, 1].max()


def test_a_date_no_page_box_holds_is_found_below_the_number(engine: OcrEngine) -> None:
    view, number_quad, _ = card_page("VALID THRU 08/28")
    boxes = [read_as(number_quad, NUMBER)]
    assert read_expiry(engine, view, boxes) is None  # the page's boxes alone show no date
    decision = read_expiry(engine, view, boxes, number_quad)
    assert decision is not None and decision.text == "08/2028"


@pytest.mark.parametrize("date_line", ["MEMBER SINCE 08/18", "VISA"])
def test_the_strip_answers_no_expiry_where_it_shows_none(engine: OcrEngine, date_line: str) -> None:
    view, number_quad, _ = card_page(date_line)
    assert read_expiry(engine, view, [read_as(number_quad, NUMBER)], number_quad) is None


@pytest.mark.parametrize(("level", "seed", "index", "grouping", "expiry"), [
    # embossed 11/29 under VALID THRU: the page's box on it read "1/29", its re-reads no date at all
    ("hard", 7002, 74, (6, 13), "11/2029"),
    # 07/35 under MONTH/YEAR on a severe card: only the number line's box reached the date
    ("severe", 7003, 55, None, "07/2035"),
])
def test_generated_cards_whose_date_had_no_box_answer_it(tmp_path: Path, level: str, seed: int, index: int,
                                                         grouping: tuple[int, ...] | None, expiry: str) -> None:
    from tests.generated_cards import read_generated_card
    from worker.recognizer import RecognizerSettings, get_recognizer

    number, answer = read_generated_card(get_recognizer(RecognizerSettings()), tmp_path, level, seed, index,
                                         grouping)
    assert answer.value("卡号") == number
    assert answer.value("有效期") == expiry
