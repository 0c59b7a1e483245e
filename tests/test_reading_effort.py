"""What a card the reads cannot answer is spared: band reads that could not be answered.

The number band's contrast-enhanced strips are read only when something could still make a band answer of
them.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from worker.recognizer import RecognizerSettings, get_recognizer, reader
from worker.recognizer.cardnumber import Candidate
from worker.recognizer.geometry import View
from worker.recognizer.service import Recognizer

@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return get_recognizer(RecognizerSettings(threads=1))


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
    assert reader._read_number_band(engine, view, card, recognizer.acceptable, [], []) is None  # type: ignore[arg-type]
    strips = 5 * 2  # five plain strips each way up, no contrast-enhanced ones
    assert engine.crops_read == strips


def test_band_strips_are_read_contrast_enhanced_when_a_read_outside_the_band_proposed_a_number(
        recognizer: Recognizer) -> None:
    view, card = _blank_card_view()
    engine = _CountingEngine(recognizer.engine)
    outside = Candidate("6225760000000008", 0.9, 0.8, False, "pass0:turn0:line0:straight")
    assert reader._read_number_band(engine, view, card, recognizer.acceptable, [outside], []) is None  # type: ignore[arg-type]
    assert engine.crops_read == 5 * 2 * 2  # plain and contrast-enhanced, each way up
