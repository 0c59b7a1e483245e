"""The local bank-card recognizer: RapidOCR's bundled models plus the card logic, answering the legacy API.

>>> from worker.recognizer import RecognizerSettings, get_recognizer      # doctest: +SKIP
>>> answer = get_recognizer(RecognizerSettings(threads=2)).recognize(image_bytes)  # doctest: +SKIP
>>> answer.to_wire()["data"]["items"][0]["itemstring"]                   # doctest: +SKIP
'6225760000000008'

The service (and with it onnxruntime and OpenCV) is imported on first use, so that light users of this
package — the BIN table, the settings model inside the pipeline's config — do not pay for the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.recognizer.settings import RecognizerSettings

if TYPE_CHECKING:
    from worker.recognizer.service import Recognizer, get_recognizer

__all__ = ["Recognizer", "RecognizerSettings", "get_recognizer"]


def __getattr__(name: str) -> Any:
    if name in {"Recognizer", "get_recognizer"}:
        from worker.recognizer import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
