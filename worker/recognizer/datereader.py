"""A second reader for printed dates: a head trained on the expiry dates of generated cards, over PP-OCR's
features (the same backbone output the number head reads, see :mod:`worker.recognizer.numberreader`).

Why: the general recogniser reads embossed and foil dates with their month's leading 0 as 9 or 8 ("93/34"
for 03/34) or the slash as 7, consistently across crops, so its own re-reads cannot recover them; a head
fine-tuned on card dates in every style reads them as dates. Its classes are the digits and the separators a
date and a date range use.
"""

from __future__ import annotations

from pathlib import Path

from worker.recognizer.numberreader import TrainedHead

#: The head's classes, index 0 is the CTC blank.
DATE_CHARSET = ("blank", *"0123456789", "/", "-", " ")
DATE_MODEL_PATH = Path(__file__).resolve().parent / "data" / "date_reader.onnx"


class DateReader(TrainedHead):
    """The trained date head."""

    charset = DATE_CHARSET
    model_path = DATE_MODEL_PATH
