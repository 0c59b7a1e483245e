"""The in-process recognizer as an upstream: no network, no account, no quota.

Building one loads the OCR models (about a second), once per process.

>>> upstream = LocalUpstream()                                    # doctest: +SKIP
>>> upstream.recognize(open("card.jpg", "rb").read()).value("卡号")  # doctest: +SKIP
'6225760000000008'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from worker.api.errors import ApiError
from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse

if TYPE_CHECKING:
    from worker.recognizer import RecognizerSettings


class RecognizesCards(Protocol):
    def recognize(self, data: bytes, *, session_id: str | None = None) -> BankCardResponse: ...


class LocalUpstream:
    """Answers with :class:`worker.recognizer.Recognizer`, loaded once per process.

    Parameters:
        recognizer_settings: the recognizer's settings; None shares whatever recognizer the process loaded.
        recognizer: an already-built recognizer to use instead (the server and the pipeline share one).
    """

    name = "local"
    #: The recognizer reads bytes only; the pipeline fetches every image itself.
    accepts_urls = False

    def __init__(self, recognizer_settings: RecognizerSettings | None = None, *,
                 recognizer: RecognizesCards | None = None) -> None:
        if recognizer is None:
            from worker.recognizer import get_recognizer

            recognizer = get_recognizer(recognizer_settings)
        self._recognizer = recognizer

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardResponse:
        """The recognizer's answer when it is code 0, else :class:`ApiError` with its code and reason."""
        if image is None:
            if url is not None:
                raise ApiError(codes.INVALID_PARAMETER, "the local recognizer reads image bytes, not URLs")
            raise ApiError(codes.NO_IMAGE_OR_URL)
        answer = self._recognizer.recognize(image)
        if answer.code != codes.OK:
            raise ApiError(answer.code, answer.message)
        return answer

    def close(self) -> None:
        """Nothing to release: the recognizer is shared by the process."""
