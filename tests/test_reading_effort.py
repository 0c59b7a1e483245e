"""What a card the reads cannot answer is spared: the way up it was not printed, and band reads that could
not be answered.

A refused card runs every pass, and each pass read it both ways up; once a pass has read clearly more text
one way, later passes and the number band read it only that way. The number band's contrast-enhanced strips
are read only when something could still make a band answer of them.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from worker.recognizer import RecognizerSettings, get_recognizer, numberband, reader
from worker.recognizer.cardnumber import Candidate
from worker.recognizer.geometry import View
from worker.recognizer.service import Recognizer

#: A clean card of ``scripts/make_cards.py`` (level, seed, index): its bank name, expiry and holder read well.
CLEAN_CARD = ("clean", 31, 0)


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return get_recognizer(RecognizerSettings(threads=1))


@pytest.fixture(scope="module")
def numberless_card(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The clean card with its number painted over in the colour just above it: every other line still reads,
    but nothing gives a number, so every pass and the number band run."""
    from scripts.cards.numbers import build_pools
    from scripts.make_cards import make_card
    from worker.recognizer.bins import default_table

    folder = tmp_path_factory.mktemp("numberless")
    table = default_table()
    level, seed, index = CLEAN_CARD
    label = make_card(folder, index, level, seed, build_pools(table), table, None)
    image = cv2.imread(str(folder / label["file"]), cv2.IMREAD_COLOR)
    quad = np.asarray(label["number_quad"], dtype=np.float32)
    height = float(np.linalg.norm(quad[3] - quad[0]))
    grown = quad + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * 0.4 * height
    above = quad[:2].mean(axis=0) - np.array([0.0, 0.8 * height], np.float32)
    colour = image[int(above[1]), int(above[0])].tolist()
    cv2.fillPoly(image, [np.rint(grown).astype(np.int32)], colour)
    return image


def _spied_reading(monkeypatch: pytest.MonkeyPatch, recognizer: Recognizer,
                   image: np.ndarray) -> tuple[Any, list[str], list[tuple[bool, ...]]]:
    """The answer for ``image``, the tags of the views read (``pass<i>:turn<t>``) and the band's sides."""
    views: list[str] = []
    band_sides: list[tuple[bool, ...]] = []
    read_view, read_band = reader._read_view, reader.read_number_band

    def spy_view(engine: Any, view: Any, detections: Any, acceptable: Any, pool: Any, line_reads: Any,
                 tag: str) -> Any:
        views.append(tag)
        return read_view(engine, view, detections, acceptable, pool, line_reads, tag)

    def spy_band(*args: Any, upside_down: tuple[bool, ...] = (False, True)) -> Any:
        band_sides.append(upside_down)
        return read_band(*args, upside_down=upside_down)

    monkeypatch.setattr(reader, "_read_view", spy_view)
    monkeypatch.setattr(reader, "read_number_band", spy_band)
    answer = recognizer.recognize(cv2.imencode(".png", image)[1].tobytes())
    return answer, views, band_sides


@pytest.mark.parametrize("printed_turns", [0, 2])
def test_after_a_pass_read_the_card_both_ways_later_passes_read_it_the_way_it_was_printed(
        monkeypatch: pytest.MonkeyPatch, recognizer: Recognizer, numberless_card: np.ndarray,
        printed_turns: int) -> None:
    """The card upright, then turned 180 degrees: the band is then read upside down only."""
    image = np.ascontiguousarray(np.rot90(numberless_card, printed_turns))
    answer, views, band_sides = _spied_reading(monkeypatch, recognizer, image)
    assert answer.code != 0
    first_pass = [tag for tag in views if tag.startswith("pass0:")]
    later = [tag for tag in views if not tag.startswith("pass0:")]
    assert sorted(first_pass) == ["pass0:turn0", "pass0:turn2"]
    assert later, "the later passes ran"
    assert all(tag.endswith(f":turn{printed_turns}") for tag in later), views
    assert band_sides == [(printed_turns == 2,)]


def test_the_way_up_stays_open_unless_one_way_read_clearly_more_text() -> None:
    assert reader._settled_orientation({0: 30.0, 2: 6.0}) == 0
    assert reader._settled_orientation({1: 4.0, 3: 25.0}) == 3
    assert reader._settled_orientation({0: 30.0, 2: 27.0}) is None  # both ways read about as much: open
    assert reader._settled_orientation({0: 8.0, 2: 0.5}) is None  # too little text to tell
    assert reader._settled_orientation({0: 30.0}) is None  # read one way only


class _CountingEngine:
    """The real engine, counting the crops it is given to read."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.crops_read = 0

    def read(self, crops: list[np.ndarray], **options: Any) -> Any:
        self.crops_read += len(crops)
        return self._engine.read(crops, **options)


def _blank_card_view() -> tuple[View, np.ndarray]:
    page = np.full((540, 860, 3), 90, np.uint8)
    card = np.array([[30, 40], [830, 40], [830, 500], [30, 500]], np.float32)
    cv2.fillPoly(page, [card.astype(np.int32)], (200, 190, 180))
    return View.of(page, quarter_turns=0, scale=1.0, original_size=(860, 540)), card


def test_band_strips_that_propose_nothing_are_not_read_again_contrast_enhanced(recognizer: Recognizer) -> None:
    view, card = _blank_card_view()
    engine = _CountingEngine(recognizer.engine)
    assert numberband.read_number_band(engine, view, card, recognizer.acceptable, [], []) is None  # type: ignore[arg-type]
    strips = 5 * 2  # five plain strips each way up, no contrast-enhanced ones
    assert engine.crops_read == strips


def test_band_strips_are_read_contrast_enhanced_when_a_read_outside_the_band_proposed_a_number(
        recognizer: Recognizer) -> None:
    view, card = _blank_card_view()
    engine = _CountingEngine(recognizer.engine)
    outside = Candidate("6225760000000008", 0.9, 0.8, False, "pass0:turn0:line0:straight")
    assert numberband.read_number_band(engine, view, card, recognizer.acceptable, [outside], []) is None  # type: ignore[arg-type]
    assert engine.crops_read == 5 * 2 * 2  # plain and contrast-enhanced, each way up
