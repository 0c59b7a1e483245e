"""The sharpened page: a third detection pass for blurred digits the first two did not find.

Blurred digits the detector finds in neither the plain nor the contrast-enhanced page are often found in the
page sharpened (an unsharp mask about a blurred stroke wide). The card here was refused before (a tuning-side
card of ``scripts/make_cards.py``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.generated_cards import read_generated_card
from worker.recognizer import RecognizerSettings, get_recognizer
from worker.recognizer.renderings import sharpened
from worker.recognizer.service import Recognizer

#: (level, seed, index, grouping): a blurred embossed line that neither the plain nor the contrast-enhanced
#: page's detection gave the reads a number needs.
BLURRED_UNDETECTED_TUNING_CARDS = (("hard", 7002, 41, (6, 13)),)


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return get_recognizer(RecognizerSettings(threads=1))


@pytest.mark.parametrize(("level", "seed", "index", "grouping"), BLURRED_UNDETECTED_TUNING_CARDS)
def test_a_blurred_number_no_earlier_pass_detected_is_found_in_the_sharpened_page(
        recognizer: Recognizer, tmp_path: Path, level: str, seed: int, index: int,
        grouping: tuple[int, ...] | None) -> None:
    printed, answer = read_generated_card(recognizer, tmp_path, level, seed, index, grouping)
    assert answer.code == 0, answer.message
    assert answer.value("卡号") == printed


def test_sharpening_steepens_a_blurred_edge_and_leaves_flat_card_alone() -> None:
    step = np.zeros((64, 200, 3), np.uint8)
    step[:, 100:] = 200
    blurred = cv2.GaussianBlur(step, (0, 0), 1.5)  # a stroke's edge blurred as on a hard card
    out = sharpened(blurred, radius=2.0)
    assert out.shape == blurred.shape and out.dtype == np.uint8
    rise = np.diff(blurred[32, :, 0].astype(int)).max()
    assert np.diff(out[32, :, 0].astype(int)).max() > 1.3 * rise
    flat = np.full((64, 200, 3), 120, np.uint8)
    assert np.array_equal(sharpened(flat, radius=2.0), flat)
    assert np.array_equal(sharpened(flat, radius=4.0), flat)
