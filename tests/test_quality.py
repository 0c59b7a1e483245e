"""The quality signals of API 3.0 on generated cards made for each detector (scripts/make_quality_cards.py).

Each detector is checked on a photo with its defect and on the same photo without it; the precision and recall
over a larger set are in docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from worker.api.legacy.schema import BankCardResponse, CardField, Item, ItemCoord
from worker.recognizer import quality
from worker.recognizer.imageio import decode_image


@functools.cache
def _set() -> dict[str, tuple[bytes, quality.CardView]]:
    import tempfile

    from scripts.make_quality_cards import generate

    with tempfile.TemporaryDirectory() as folder:
        labels = generate(folder, 1, 5)
        found = {}
        for label in labels:
            data = (Path(folder) / label["file"]).read_bytes()
            image = decode_image(data)
            found[label["effect"]] = (data, quality.CardView.of(np.ascontiguousarray(image.pixels[:, :, ::-1]),
                                                                image.scale))
        return found


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple[bytes, quality.CardView]]:
    return _set()


@pytest.mark.parametrize(("text", "invalid"), [
    ("", False), ("12/2026", False), ("01/2030", False), ("11/2026", True), ("08/2019", True), ("13/2030", True),
    ("ab/2030", True),
])
def test_the_date_warning_is_an_ended_or_impossible_month(text: str, invalid: bool) -> None:
    assert quality.date_invalid(text, dt.date(2026, 12, 2)) is invalid


def test_a_grayscale_copy_is_a_photocopy_and_the_photo_is_not(photos: dict[str, Any]) -> None:
    assert quality.is_photocopy(photos["copy"][1].photo)
    assert not quality.is_photocopy(photos["none"][1].photo)


def test_a_screen_reshoot_has_moire_and_the_photo_has_none(photos: dict[str, Any]) -> None:
    assert quality.moire_score(photos["screen"][1].photo) >= quality.MOIRE_MIN_SCORE
    assert quality.moire_score(photos["none"][1].photo) < quality.MOIRE_MIN_SCORE


def test_a_blur_lowers_the_quality_value_below_the_apis_threshold(photos: dict[str, Any]) -> None:
    assert quality.quality_value(photos["blur"][1].card_as_photographed) < 50 <= \
        quality.quality_value(photos["none"][1].card_as_photographed)


def test_assess_returns_crops_as_jpegs_and_the_asked_signals(photos: dict[str, Any]) -> None:
    data, view = photos["copy"]
    height, width = view.photo.shape[:2]
    number = Item(item=CardField.CARD_NUMBER, itemstring="6225760000000008",
                  itemcoord=ItemCoord(x=int(width * 0.2 * view.scale), y=int(height * 0.5 * view.scale),
                                      width=int(width * 0.5 * view.scale), height=int(height * 0.06 * view.scale)))
    answer = BankCardResponse.success("s", [number, Item(item=CardField.EXPIRY, itemstring="01/2020")])
    wanted = quality.QualityRequest(border_cut_image=True, card_no_image=True, copy_check=True, quality_value=True)
    fields = quality.assess(data, answer, wanted, today=dt.date(2026, 12, 2)).response_fields()
    assert quality.PHOTOCOPY in fields["WarningCode"] and quality.DATE_INVALID in fields["WarningCode"]
    assert 0 <= fields["QualityValue"] <= 100
    import base64

    card = Image.open(io.BytesIO(base64.b64decode(fields["BorderCutImage"])))
    assert (card.format, card.size) == ("JPEG", (856, 540))
    line = Image.open(io.BytesIO(base64.b64decode(fields["CardNoImage"])))
    assert line.format == "JPEG" and line.width > 3 * line.height
    nothing = quality.assess(data, answer, quality.QualityRequest(), today=dt.date(2019, 1, 1)).response_fields()
    assert nothing == {"WarningCode": []}


def test_a_blown_out_highlight_is_glare_and_the_photo_has_none(photos: dict[str, Any]) -> None:
    assert quality.glare_share(photos["glare"][1].card) > 0
    assert quality.glare_share(photos["none"][1].card) == 0


def test_the_border_check_is_accepted_and_raises_nothing(photos: dict[str, Any]) -> None:
    data, _view = photos["border"]
    answer = BankCardResponse.success("s", [Item(item=CardField.CARD_NUMBER, itemstring="6225760000000008")])
    report = quality.assess(data, answer, quality.QualityRequest(border_check=True))
    assert quality.BORDER_INCOMPLETE not in report.warnings
