"""The legacy API's error codes, and what each one means for a caller.

Every part of cardpipe that produces or interprets a code goes through this table, so the recognizer,
the server, the client and the pipeline agree on a code's message and on whether it is worth retrying.

>>> is_transient(15), is_transient(-1102)
(True, False)
>>> Disposition.of(5)
<Disposition.HALT: 'halt'>
"""

from __future__ import annotations

import enum

OK = 0

BAD_REQUEST = 3
SIGNATURE_EMPTY = 4
SIGNATURE_INVALID = 5
APPID_BUCKET_URL_MISMATCH = 6
SIGNATURE_ENCODE_FAILED = 7
SIGNATURE_DECODE_FAILED = 8
SIGNATURE_EXPIRED = 9
APPID_UNKNOWN = 10
SECRET_ID_UNKNOWN = 11
APPID_MISMATCH = 12
REPLAY_ATTACK = 13
SIGNATURE_FAILED = 14
RATE_LIMITED = 15
BUCKET_UNKNOWN = 16
URL_EMPTY = 17
NO_IMAGE_OR_URL = 18
TOO_MANY_IMAGES = 19
IMAGE_TOO_LARGE = 20
INVALID_PARAMETER = 21
PACK_FAILED = 200
UNPACK_FAILED = 201
LINK_FAILED = 202
INTERNAL_TIMEOUT = 203
IMAGE_DECODE_FAILED = -1102
IMAGE_EMPTY = -1300
PARAMETER_EMPTY = -1301
PARAMETER_TOO_LONG = -1304
IMAGE_DOWNLOAD_FAILED = -1308
SERVER_INTERNAL_ERROR = -5208
PREPROCESS_ERROR = -9010
RECOGNITION_FAILED = -9011

MESSAGES: dict[int, str] = {
    OK: "OK",
    BAD_REQUEST: "错误的请求",
    SIGNATURE_EMPTY: "签名为空",
    SIGNATURE_INVALID: "签名串错误",
    APPID_BUCKET_URL_MISMATCH: "APPID /存储桶/ url 不匹配",
    SIGNATURE_ENCODE_FAILED: "签名编码失败（内部错误）",
    SIGNATURE_DECODE_FAILED: "签名解码失败（内部错误）",
    SIGNATURE_EXPIRED: "签名过期",
    APPID_UNKNOWN: "APPID 不存在",
    SECRET_ID_UNKNOWN: "SecretId 不存在",
    APPID_MISMATCH: "APPID 不匹配",
    REPLAY_ATTACK: "重放攻击",
    SIGNATURE_FAILED: "签名失败",
    RATE_LIMITED: "操作太频繁，触发频控",
    BUCKET_UNKNOWN: "存储桶不存在",
    URL_EMPTY: "url 为空",
    NO_IMAGE_OR_URL: "没有图片或 url",
    TOO_MANY_IMAGES: "图片数过多，单次请求最多支持 20 个 url 或文件",
    IMAGE_TOO_LARGE: "图片过大",
    INVALID_PARAMETER: "无效的参数",
    PACK_FAILED: "内部打包失败",
    UNPACK_FAILED: "内部解包失败",
    LINK_FAILED: "内部链接失败",
    INTERNAL_TIMEOUT: "内部处理超时",
    IMAGE_DECODE_FAILED: "SDK_IMAGE_DECODE_FAILED",
    IMAGE_EMPTY: "ERROR_IMAGE_EMPTY",
    PARAMETER_EMPTY: "ERROR_PARAMETER_EMPTY",
    PARAMETER_TOO_LONG: "ERROR_PARAMETER_TOO_LONG",
    IMAGE_DOWNLOAD_FAILED: "ERROR_DOWNLOAD_IMAGE_FAILED",
    SERVER_INTERNAL_ERROR: "OCR_SERVER_INTERN_ERROR",
    PREPROCESS_ERROR: "CREDITCARD_OCR_PREPROCESS_ERROR",
    RECOGNITION_FAILED: "CREDITCARD_OCR_RECOG_FAILED",
}

#: Codes worth another attempt: the same request can succeed later (quota, upstream hiccups).
TRANSIENT_CODES: frozenset[int] = frozenset(
    {RATE_LIMITED, 107, 108, PACK_FAILED, UNPACK_FAILED, LINK_FAILED, INTERNAL_TIMEOUT, 213,
     SERVER_INTERNAL_ERROR}
)

#: Codes that say the caller's credentials or configuration are wrong: every later message would fail
#: the same way, so a worker stops instead of dead-lettering its backlog.
HALT_CODES: frozenset[int] = frozenset(range(4, 15))

#: HTTP statuses that are worth another attempt whatever the body says.
TRANSIENT_HTTP_STATUSES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})


class Disposition(enum.Enum):
    """What a caller does with an outcome code."""

    SUCCESS = "success"
    RETRY = "retry"
    HALT = "halt"
    DEAD_LETTER = "dead_letter"

    @classmethod
    def of(cls, code: int) -> Disposition:
        if code == OK:
            return cls.SUCCESS
        if code in TRANSIENT_CODES:
            return cls.RETRY
        if code in HALT_CODES:
            return cls.HALT
        return cls.DEAD_LETTER


def is_transient(code: int) -> bool:
    """True when retrying the same request may succeed."""
    return code in TRANSIENT_CODES


def is_transient_http_status(status: int) -> bool:
    """True for HTTP statuses that mean "try again" (429 and the 5xx family)."""
    return status in TRANSIENT_HTTP_STATUSES or 500 <= status <= 599


def message_for(code: int) -> str:
    """The table's message for a code, or a generic one for codes the table does not list."""
    return MESSAGES.get(code, f"error {code}")
