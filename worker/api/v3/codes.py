"""API 3.0's error codes for BankCardOCR, what each one means for a caller, and the legacy codes they match.

API 3.0 names its errors (``AuthFailure.SignatureFailure``); there are two families. The common codes apply to
every 3.0 API and are published in its common error code table
(https://www.tencentcloud.com/document/api/1079/63107); the vendor's SDK does not list them per product. The
product codes are BankCardOCR's own and are listed in the SDK's ``tencentcloud.ocr.v20181119.errorcodes``.
``cardpipe serve`` emits only codes of those two lists, and the pipeline maps them to its dispositions:

* ``AuthFailure.*`` halts the pipeline (the credentials are wrong for every message, like legacy 4-14);
* ``RequestLimitExceeded`` and ``InternalError`` are worth another attempt;
* everything else is permanent for that image: a dead letter whose code is the 3.0 code.

>>> disposition_of("AuthFailure.SecretIdNotFound"), disposition_of("RequestLimitExceeded.UinLimitExceeded")
(<Disposition.HALT: 'halt'>, <Disposition.RETRY: 'retry'>)
>>> from_legacy(-9011)
'FailedOperation.OcrFailed'
"""

from __future__ import annotations

from worker.api.legacy import codes as legacy
from worker.api.legacy.codes import Disposition

# --- common codes (every 3.0 API) -------------------------------------------------------------------------
AUTH_INVALID_AUTHORIZATION = "AuthFailure.InvalidAuthorization"
AUTH_SECRET_ID_NOT_FOUND = "AuthFailure.SecretIdNotFound"
AUTH_SIGNATURE_EXPIRE = "AuthFailure.SignatureExpire"
AUTH_SIGNATURE_FAILURE = "AuthFailure.SignatureFailure"
INTERNAL_ERROR = "InternalError"
INVALID_ACTION = "InvalidAction"
INVALID_PARAMETER = "InvalidParameter"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"
MISSING_PARAMETER = "MissingParameter"
NO_SUCH_VERSION = "NoSuchVersion"
REQUEST_LIMIT_EXCEEDED = "RequestLimitExceeded"
REQUEST_SIZE_LIMIT_EXCEEDED = "RequestSizeLimitExceeded"
UNKNOWN_PARAMETER = "UnknownParameter"
UNSUPPORTED_OPERATION = "UnsupportedOperation"

#: The common codes cardpipe emits, as the published common error code table spells them.
COMMON_CODES: frozenset[str] = frozenset({
    AUTH_INVALID_AUTHORIZATION, AUTH_SECRET_ID_NOT_FOUND, AUTH_SIGNATURE_EXPIRE, AUTH_SIGNATURE_FAILURE,
    INTERNAL_ERROR, INVALID_ACTION, INVALID_PARAMETER, INVALID_PARAMETER_VALUE, MISSING_PARAMETER, NO_SUCH_VERSION,
    REQUEST_LIMIT_EXCEEDED, REQUEST_SIZE_LIMIT_EXCEEDED, UNKNOWN_PARAMETER, UNSUPPORTED_OPERATION,
})

# --- BankCardOCR's own codes (the SDK's ocr errorcodes module) ---------------------------------------------
DOWNLOAD_ERROR = "FailedOperation.DownLoadError"
EMPTY_IMAGE = "FailedOperation.EmptyImageError"
IMAGE_DECODE_FAILED = "FailedOperation.ImageDecodeFailed"
NO_BANK_CARD = "FailedOperation.NoBankCardError"
OCR_FAILED = "FailedOperation.OcrFailed"
UNKNOWN_ERROR = "FailedOperation.UnKnowError"
TOO_LARGE_FILE = "LimitExceeded.TooLargeFileError"

PRODUCT_CODES: frozenset[str] = frozenset({
    DOWNLOAD_ERROR, EMPTY_IMAGE, IMAGE_DECODE_FAILED, NO_BANK_CARD, OCR_FAILED, UNKNOWN_ERROR, TOO_LARGE_FILE,
})

MESSAGES: dict[str, str] = {
    AUTH_INVALID_AUTHORIZATION: "Authorization in the request header is invalid.",
    AUTH_SECRET_ID_NOT_FOUND: "The SecretId is not found; check that the key is entered correctly.",
    AUTH_SIGNATURE_EXPIRE: "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
    AUTH_SIGNATURE_FAILURE: "The provided credentials could not be validated. Please check your signature is "
                            "correct.",
    INTERNAL_ERROR: "Internal error.",
    INVALID_ACTION: "The action does not exist.",
    INVALID_PARAMETER: "Parameter error.",
    INVALID_PARAMETER_VALUE: "Invalid parameter value.",
    MISSING_PARAMETER: "A required parameter is missing.",
    NO_SUCH_VERSION: "The API version does not exist.",
    REQUEST_LIMIT_EXCEEDED: "The number of requests exceeds the frequency limit.",
    REQUEST_SIZE_LIMIT_EXCEEDED: "The request size exceeds the upper limit.",
    UNKNOWN_PARAMETER: "Unknown parameter.",
    UNSUPPORTED_OPERATION: "Unsupported operation.",
    DOWNLOAD_ERROR: "文件下载失败",
    EMPTY_IMAGE: "图片内容为空",
    IMAGE_DECODE_FAILED: "图片解码失败",
    NO_BANK_CARD: "非银行卡",
    OCR_FAILED: "OCR识别失败",
    UNKNOWN_ERROR: "未知错误",
    TOO_LARGE_FILE: "文件内容太大",
}

#: The legacy code the recognizer or the shared server parts raise -> the 3.0 code a cloud client gets.
_FROM_LEGACY: dict[int, str] = {
    legacy.IMAGE_EMPTY: EMPTY_IMAGE,
    legacy.IMAGE_DECODE_FAILED: IMAGE_DECODE_FAILED,
    legacy.IMAGE_DOWNLOAD_FAILED: DOWNLOAD_ERROR,
    legacy.PREPROCESS_ERROR: NO_BANK_CARD,
    legacy.RECOGNITION_FAILED: OCR_FAILED,
    legacy.IMAGE_TOO_LARGE: TOO_LARGE_FILE,
    legacy.RATE_LIMITED: REQUEST_LIMIT_EXCEEDED,
    legacy.SERVER_INTERNAL_ERROR: INTERNAL_ERROR,
    legacy.BAD_REQUEST: INVALID_PARAMETER,
    legacy.INVALID_PARAMETER: INVALID_PARAMETER_VALUE,
    legacy.PARAMETER_TOO_LONG: INVALID_PARAMETER_VALUE,
}


def from_legacy(code: int) -> str:
    """The 3.0 code for a legacy code raised by the shared parts (recognizer, download guard, pool)."""
    return _FROM_LEGACY.get(code, UNKNOWN_ERROR)


def message_for(code: str) -> str:
    return MESSAGES.get(code, code)


def disposition_of(code: str) -> Disposition:
    """What the pipeline does with a 3.0 error code."""
    if code.startswith("AuthFailure"):
        return Disposition.HALT
    if code.startswith(REQUEST_LIMIT_EXCEEDED) or code.startswith(INTERNAL_ERROR):
        return Disposition.RETRY
    return Disposition.DEAD_LETTER
