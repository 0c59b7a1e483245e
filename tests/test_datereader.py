"""The date head: loaded beside the recogniser, reading the printed expiry of generated cards, and asked for only
by the expiry's re-reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.generated_cards import labelled_crop
from worker.recognizer import RecognizerSettings, get_recognizer
from worker.recognizer.datereader import DATE_CHARSET
from worker.recognizer.engine import OcrEngine
from worker.recognizer.expiry import parse_dates
from worker.recognizer.expiryreads import EXPIRY_REREAD_HEIGHT

SEED = 61


@pytest.fixture(scope="module")
def dated_cards(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from scripts.make_cards import generate

    folder = tmp_path_factory.mktemp("dates")
    labels = generate(folder, 8, "moderate", SEED)
    return [{**label, "path": folder / label["file"]} for label in labels if label["expiry"]]


def test_the_date_head_reads_printed_dates(engine: OcrEngine, dated_cards: list[dict[str, Any]]) -> None:
    assert len(dated_cards) >= 4
    for label in dated_cards:
        crop = labelled_crop(label["path"], label, "expiry_quad", 0.6, EXPIRY_REREAD_HEIGHT)
        read = engine.read([crop], expiry=True)[0]
        assert read.expiry is not None and read.number is None
        assert set(read.expiry.text) <= set(DATE_CHARSET[1:])
        dates = [(d.month, d.year) for d in parse_dates(read.expiry.text)]
        month, year = label["valid_date"].split("/")
        assert (int(month), int(year)) in dates, (read.expiry.text, label["expiry"])


def test_plain_reads_skip_the_date_head(engine: OcrEngine) -> None:
    line = np.full((48, 200, 3), 255, dtype=np.uint8)
    read = engine.read([line])[0]
    assert read.expiry is None and read.number is None


@pytest.mark.parametrize(("index", "expiry"), [
    # embossed; no box's general read shows a date ("55724" for 05/24): the fallback's head reads find it
    (33, "05/2024"),
    # embossed; the date's confirming reads by the general reader show "801733": the head's show 01/33
    (69, "01/2033"),
    # embossed 04/32; the general reads show 06/32 again and again, the head reads 04/32 surely: no date
    # rather than a wrong one
    (18, ""),
])
def test_the_date_head_reads_embossed_dates_and_vetoes_misreads(tmp_path: Path, index: int, expiry: str) -> None:
    from tests.generated_cards import read_generated_card

    recognizer = get_recognizer(RecognizerSettings())
    number, answer = read_generated_card(recognizer, tmp_path, "hard", 7002, index, (6, 13))
    assert answer.value("卡号") == number
    assert answer.value("有效期") == expiry
