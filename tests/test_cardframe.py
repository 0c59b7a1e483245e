"""The card's outline in a photo: found where the generator drew it, on hard cards of a fixed seed.

The outline feeds the last-resort read of the ISO number band and the photo-quality checks, so an outline
merged with a background shape the card touches, or none at all for a blurred card on a background of nearly
its own colour, costs those cards their number. The hard level draws both often.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from worker.recognizer.cardframe import find_card_quad
from worker.recognizer.imageio import decode_image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench.outline import overlap  # noqa: E402  (intersection over union of two quads)

SEED = 601
CARDS = 13
#: Card 0003 (a dark card in low light, its edges lost in noise) is found by neither finder; of the other
#: twelve, the finder that took the best closed contour alone placed five below :data:`MIN_OVERLAP` (two of
#: them not found at all).
MIN_FOUND = 11
MIN_OVERLAP = 0.9


@pytest.fixture(scope="module")
def hard_cards(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from scripts.make_cards import generate

    folder = tmp_path_factory.mktemp("hard-cards")
    return [{**label, "path": folder / label["file"]} for label in generate(folder, CARDS, "hard", SEED)]


def test_the_outline_is_found_on_hard_cards(hard_cards: list[dict[str, Any]]) -> None:
    overlaps = {}
    for label in hard_cards:
        image = decode_image(label["path"].read_bytes(), max_side=4096, max_pixels=40_000_000)
        quad = find_card_quad(np.ascontiguousarray(image.pixels[:, :, ::-1]))
        truth = np.array(label["card_quad"], np.float32) / image.scale
        overlaps[label["file"]] = 0.0 if quad is None else round(overlap(quad, truth), 3)
    found = [name for name, value in overlaps.items() if value >= MIN_OVERLAP]
    assert len(found) >= MIN_FOUND, overlaps


def test_a_card_touching_a_background_shape_is_not_merged_with_it(hard_cards: list[dict[str, Any]]) -> None:
    """Card 0002 overlaps a light rectangle of the background: the outer contour of the edges runs around
    both, and its four corners make a quadrilateral of card proportions that is not the card."""
    label = hard_cards[2]
    image = decode_image(label["path"].read_bytes(), max_side=4096, max_pixels=40_000_000)
    quad = find_card_quad(np.ascontiguousarray(image.pixels[:, :, ::-1]))
    assert quad is not None
    assert overlap(quad, np.array(label["card_quad"], np.float32) / image.scale) >= MIN_OVERLAP


def test_no_outline_in_a_photo_without_a_card() -> None:
    rng = np.random.default_rng(5)
    noise = rng.integers(90, 110, size=(480, 640, 3), dtype=np.uint8)
    assert find_card_quad(cv2.GaussianBlur(noise, (0, 0), 3)) is None
