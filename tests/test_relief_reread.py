"""The relief re-read: a number line whose plain, contrast-enhanced (and darkened) reads found no number is
read once more with its shading summed back into strokes (:func:`worker.recognizer.renderings.relief`).

Raised digits in the card's own colour show only shading, and the readers learned the light of their training
cards. The cards here are tuning-side cards of ``scripts/make_cards.py`` that were refused before the relief
read and are read right with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.generated_cards import read_generated_card
from worker.recognizer import RecognizerSettings, get_recognizer
from worker.recognizer.renderings import relief
from worker.recognizer.service import Recognizer

#: (level, seed, index): embossed lines no earlier read of any pass gave a number for.
EMBOSSED_TUNING_CARDS = (("severe", 20060, 33), ("severe", 20060, 34))


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return get_recognizer(RecognizerSettings(threads=1))


@pytest.mark.parametrize(("level", "seed", "index"), EMBOSSED_TUNING_CARDS)
def test_an_embossed_line_no_other_read_gave_a_number_for_is_read_in_relief(
        recognizer: Recognizer, tmp_path: Path, level: str, seed: int, index: int) -> None:
    printed, answer = read_generated_card(recognizer, tmp_path, level, seed, index)
    assert answer.code == 0, answer.message
    assert answer.value("卡号") == printed


def _embossed_bar(light_from_left: bool) -> tuple[np.ndarray, slice, slice]:
    """A raised vertical bar on a flat card, shown only by its shading: the side facing the light brighter,
    the other darker, the bar's top as bright as the card around it. Also the bar's and the card's columns."""
    height = np.zeros((64, 240), np.float32)
    height[8:56, 100:112] = 1.0
    slope = np.diff(height, axis=1, prepend=0.0)
    shade = 128.0 + (80.0 if light_from_left else -80.0) * slope
    gray = np.clip(shade, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2), slice(101, 111), slice(20, 80)


@pytest.mark.parametrize("light_from_left", [True, False])
def test_relief_fills_a_raised_stroke_lit_from_either_side(light_from_left: bool) -> None:
    image, bar, card = _embossed_bar(light_from_left)
    rows = slice(16, 48)
    plain = image[rows, :, 0].astype(float)
    assert abs(plain[:, bar].mean() - plain[:, card].mean()) < 1.0  # the bar's face is the card's colour
    out = relief(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    filled = out[rows, :, 0].astype(float)
    assert abs(filled[:, bar].mean() - filled[:, card].mean()) > 40.0  # the whole face stands out
