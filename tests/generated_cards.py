"""One card of ``scripts/make_cards.py``'s sets, drawn alone and read: for tests pinned to a particular card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from worker.api.legacy.schema import BankCardResponse
from worker.recognizer.bins import default_table
from worker.recognizer.geometry import crop_quad, pad_quad, quad_size
from worker.recognizer.service import Recognizer


def read_generated_card(recognizer: Recognizer, folder: Path, level: str, seed: int, index: int,
                        grouping: tuple[int, ...] | None = None) -> tuple[str, BankCardResponse]:
    """The printed number of card ``index`` of ``scripts/make_cards.py``'s set (level, seed), and the answer
    the recognizer gives for it: one card drawn alone into ``folder``, as the whole set would draw it."""
    label, answer = read_labelled_card(recognizer, folder, level, seed, index, grouping)
    return label["number"], answer


def read_labelled_card(recognizer: Recognizer, folder: Path, level: str, seed: int, index: int,
                       grouping: tuple[int, ...] | None = None) -> tuple[dict[str, Any], BankCardResponse]:
    """As :func:`read_generated_card`, with the card's whole label (its printed expiry, ``valid_date``, too)."""
    from scripts.cards.numbers import build_pools
    from scripts.make_cards import make_card

    table = default_table()
    label = make_card(folder, index, level, seed, build_pools(table), table, None, grouping)
    return label, recognizer.recognize((folder / label["file"]).read_bytes())


def labelled_crop(path: Path, label: dict[str, Any], quad_key: str, along: float, min_height: int) -> np.ndarray:
    """The crop of a generated card around one of its labelled quads (``number_quad``, ``expiry_quad``), padded
    ``along`` its height at either end and 0.15 of it across, as the recognizer's re-reads crop a line."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    quad = np.asarray(label[quad_key], dtype=np.float32)
    height = quad_size(quad)[1]
    return crop_quad(image, pad_quad(quad, along * height, 0.15 * height), min_height=min_height)
