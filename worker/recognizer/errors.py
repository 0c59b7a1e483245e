"""Why an image was refused, as the API's codes.

The recognizer never lets an exception escape to its caller for bad input: each stage raises one of these,
and :class:`~worker.recognizer.service.Recognizer` turns it into the API's failure answer. They derive from
:class:`~worker.api.errors.ApiError` so the code travels unchanged to a dead letter or an HTTP answer.

>>> ImageRejected(-1102, "not an image").code
-1102
"""

from __future__ import annotations

from worker.api.errors import ApiError
from worker.api.legacy import codes

#: Why an empty upload is refused (-1300), in the recognizer's answer and ``cardpipe recognize``'s alike.
EMPTY_IMAGE = "the image is empty (0 bytes)"


class RecognizerError(ApiError):
    """Base class of everything the recognizer refuses on purpose."""


class ImageRejected(RecognizerError):
    """The bytes are not an image the API accepts (-1300 empty, -1102 undecodable, animated or too large)."""


class PreprocessFailed(RecognizerError):
    """The image decoded but cannot hold a readable card (-9010), e.g. a 1x1 pixel image."""

    def __init__(self, message: str) -> None:
        super().__init__(codes.PREPROCESS_ERROR, message)


class RecognitionFailed(RecognizerError):
    """No card number passed Luhn and the issuer check (-9011): no answer rather than a wrong one."""

    def __init__(self, message: str) -> None:
        super().__init__(codes.RECOGNITION_FAILED, message)
