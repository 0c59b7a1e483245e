"""Detection inside the card's region: less to read, the same text found, and no trust in an outline that cuts
through text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from worker.recognizer.cardframe import find_card_quad
from worker.recognizer.cardregion import REGION_MARGIN, DetectionRegion
from worker.recognizer.detection import detection_size
from worker.recognizer.engine import Detection, OcrEngine
from worker.recognizer.geometry import quad_size
from worker.recognizer.imageio import decode_image
from worker.recognizer.reader import FIRST_PASS_SIDE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Hard cards of this seed are photographed small (a quarter of the photo or less), clean ones fill it.
SEED = 601
DETECTOR = {"max_side": FIRST_PASS_SIDE, "box_thresh": 0.5, "unclip_ratio": 1.5}


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine.load(threads=2)


def _page(label: dict[str, Any], folder: Path) -> tuple[np.ndarray, float]:
    image = decode_image((folder / label["file"]).read_bytes(), max_side=1280, max_pixels=60_000_000)
    return np.ascontiguousarray(image.pixels[:, :, ::-1]), image.scale


@pytest.fixture(scope="module")
def hard_card(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The first hard card of the seed whose outline is found (so the region is the card's)."""
    from scripts.make_cards import generate

    folder = tmp_path_factory.mktemp("region-hard")
    for label in generate(folder, 4, "hard", SEED):
        page, scale = _page(label, folder)
        card = find_card_quad(page)
        if card is not None and np.abs(card - np.asarray(label["card_quad"]) / scale).max() < 20:
            return {**label, "page": page, "scale": scale, "card": card}
    pytest.fail("no hard card of the seed had its outline found")


def _on_number_line(detections: list[Detection], card: dict[str, Any]) -> list[Detection]:
    """The detected boxes whose centre lies on the card's labelled number line (its bounding box, in the
    working image's pixels)."""
    number_quad = np.asarray(card["number_quad"], np.float32) / card["scale"]
    low, high = number_quad.min(axis=0), number_quad.max(axis=0)
    return [d for d in detections if np.all((d.quad.mean(axis=0) >= low) & (d.quad.mean(axis=0) <= high))]


def test_the_region_of_a_small_card_is_read_in_a_fraction_of_the_page_and_finds_its_number_line(
        engine: OcrEngine, hard_card: dict[str, Any]) -> None:
    page, card = hard_card["page"], hard_card["card"]
    region = DetectionRegion.around(card, page.shape)
    page_width, page_height = detection_size(page, FIRST_PASS_SIDE)  # type: ignore[misc]
    factor = FIRST_PASS_SIDE / max(page.shape[:2])
    region_area = (region.right - region.left) * (region.bottom - region.top) * factor ** 2
    assert region_area < 0.6 * page_width * page_height
    found = region.detect(engine, page, **DETECTOR)
    assert found is not None
    assert _on_number_line(found, hard_card)
    # every box in page pixels, inside the region
    for detection in found:
        assert detection.quad[:, 0].min() >= region.left - 1 and detection.quad[:, 0].max() <= region.right + 1
        assert detection.quad[:, 1].min() >= region.top - 1 and detection.quad[:, 1].max() <= region.bottom + 1


def test_an_outline_that_cuts_through_the_number_line_is_not_trusted(engine: OcrEngine,
                                                                     hard_card: dict[str, Any]) -> None:
    """An outline around the left half of the card (a panel of its artwork, say) cuts the number line: the
    region answers None, and the reader detects on the whole page instead."""
    page, card = hard_card["page"], hard_card["card"]
    half = card.copy()
    half[1] = (card[0] + card[1]) / 2
    half[2] = (card[3] + card[2]) / 2
    # no margin would save it: the cut runs through the middle of the line
    assert REGION_MARGIN < 0.25
    region = DetectionRegion.around(half, page.shape)
    assert region.detect(engine, page, **DETECTOR) is None


def test_the_region_holds_the_card_and_a_margin_within_the_page() -> None:
    small = np.array([[500, 300], [800, 300], [800, 489], [500, 489]], np.float32)
    region = DetectionRegion.around(small, (877, 1280, 3))
    assert (region.left, region.top, region.right, region.bottom) == (482, 282, 818, 507)
    close_up = np.array([[10, 5], [1270, 5], [1270, 870], [10, 870]], np.float32)
    region = DetectionRegion.around(close_up, (877, 1280, 3))
    assert (region.left, region.top, region.right, region.bottom) == (0, 0, 1280, 877)


def test_the_region_is_detected_at_the_pages_scale(engine: OcrEngine, hard_card: dict[str, Any]) -> None:
    """Neither shrunk (fine text would merge) nor enlarged (the saving would go): a box the region finds has
    the height the whole page's detection gives it."""
    page = hard_card["page"]
    region = DetectionRegion.around(hard_card["card"], page.shape)
    in_region = region.detect(engine, page, **DETECTOR)
    in_page = engine.detect(page, **DETECTOR)
    assert in_region is not None

    def number_height(found: list[Detection]) -> float:
        return max(quad_size(d.quad)[1] for d in _on_number_line(found, hard_card))

    assert number_height(in_region) == pytest.approx(number_height(in_page), rel=0.15)


#: Hard card 66 of seed 7006: a 19-digit number whose outline is found short of the card's right side, the
#: region's side through the last digit. The detector's box stopped 19 px before that side, and its four
#: reads agreed on the 18 digits left, a Luhn-valid number of the same bank.
CUT_CARD = ("hard", 7006, 66)


@pytest.fixture(scope="module")
def cut_card(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from scripts.cards.numbers import build_pools
    from scripts.make_cards import make_card
    from worker.recognizer.bins import default_table

    folder = tmp_path_factory.mktemp("region-cut")
    level, seed, index = CUT_CARD
    table = default_table()
    label = make_card(folder, index, level, seed, build_pools(table), table, None)
    return {**label, "path": folder / label["file"]}


def test_a_box_ending_short_of_a_region_side_through_a_digit_is_not_trusted(
        engine: OcrEngine, cut_card: dict[str, Any]) -> None:
    page, _ = _page(cut_card, cut_card["path"].parent)
    card = find_card_quad(page)
    assert card is not None
    region = DetectionRegion.around(card, page.shape)
    number_quad = np.asarray(cut_card["number_quad"], np.float32)
    assert region.right < number_quad[:, 0].max() * page.shape[1] / cut_card["width"]  # the side cuts the line
    assert region.detect(engine, page, **DETECTOR) is None


def test_the_card_cut_by_its_region_is_read_whole(cut_card: dict[str, Any]) -> None:
    from worker.recognizer.service import get_recognizer
    from worker.recognizer.settings import RecognizerSettings

    answer = get_recognizer(RecognizerSettings(threads=2)).recognize(cut_card["path"].read_bytes())
    assert answer.code == 0 and answer.value("卡号") == cut_card["number"]


def test_a_region_without_text_sends_the_pass_to_the_whole_page(engine: OcrEngine,
                                                                hard_card: dict[str, Any]) -> None:
    """An outline found on a textless shape of the background (a blank sheet, a screen) holds no text: the
    pass must read the whole page, not give up on the card."""
    from worker.recognizer.reader import _detections

    page, card = hard_card["page"], hard_card["card"]
    height, width = page.shape[:2]
    blank = np.array([[0, 0], [0.18 * width, 0], [0.18 * width, 0.12 * height], [0, 0.12 * height]], np.float32)
    assert blank[:, 0].max() < card[:, 0].min() or blank[:, 1].max() < card[:, 1].min()  # away from the card
    region = DetectionRegion.around(blank, page.shape)
    assert region.detect(engine, page, **DETECTOR) == []
    found, later_region = _detections(engine, page, region, DETECTOR)
    assert _on_number_line(found, hard_card)
    assert later_region == region  # a textless region may still hold text in the contrast-enhanced pass


def test_a_region_that_cut_text_is_not_read_again_by_later_passes(engine: OcrEngine,
                                                                  cut_card: dict[str, Any]) -> None:
    """An outline whose region cut through text is wrong: the next, more permissive pass would only find the
    same text cut again and pay one detector call for it before reading the page."""
    from worker.recognizer.reader import _detections

    page, _ = _page(cut_card, cut_card["path"].parent)
    region = DetectionRegion.around(find_card_quad(page), page.shape)
    found, later_region = _detections(engine, page, region, DETECTOR)
    assert later_region is None
    assert len(found) == len(engine.detect(page, **DETECTOR))  # the whole page's boxes
