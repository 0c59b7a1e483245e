"""A client for BankCardOCR over API 3.0: the vendor's ``ocr.tencentcloudapi.com``, or ``cardpipe serve``.

Each call is ``POST /`` with a JSON body and TC3-HMAC-SHA256 headers signed at send time. An answer with an
``Error`` becomes a :class:`~worker.api.v3.errors.V3Error` carrying its 3.0 code; timeouts, broken connections,
5xx and 429 become ``InternalError`` / ``RequestLimitExceeded`` (transient). The client never retries: the
pipeline does, under the rate limiter.

Two calls with the same body in the same second would carry the same signature, which a server that refuses
replays (as ``cardpipe serve`` does) refuses; so the client waits for the next second instead of sending a
signature it already sent.

>>> client = V3Client("https://ocr.tencentcloudapi.com", secret_id="AKID...", secret_key="...",
...                   region="ap-guangzhou")                                            # doctest: +SKIP
>>> client.recognize(open("card.jpg", "rb").read()).CardNo                             # doctest: +SKIP
'6225760000000008'
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import ValidationError

from worker.api.curl import CurlPool, HttpError
from worker.api.errors import UPSTREAM_BODY_CHARS, UPSTREAM_TEXT_CHARS
from worker.api.v3 import codes, tc3
from worker.api.v3.errors import V3Error
from worker.api.v3.schema import ACTION, SERVICE, VERSION, BankCardOcrRequest, BankCardOcrResponse
from worker.observability import public_text

#: The cloud takes request bodies up to 10 MB; the base64 form of the image is 4/3 of its size.
MAX_BODY_BYTES = 10 * 1024 * 1024


def interpret(status: int, content: bytes) -> BankCardOcrResponse:
    """One HTTP answer as the success it holds, or the :class:`V3Error` it stands for."""
    try:
        document: Any = json.loads(content)
        inner = document["Response"]
        if not isinstance(inner, dict):
            raise TypeError("Response is not an object")
    except (ValueError, KeyError, TypeError):
        excerpt = public_text(content, UPSTREAM_BODY_CHARS)
        if status == 429:
            raise V3Error(codes.REQUEST_LIMIT_EXCEEDED, f"HTTP 429: {excerpt!r}", http_status=status) from None
        raise V3Error(codes.INTERNAL_ERROR, f"HTTP {status} without an API 3.0 answer: {excerpt!r}",
                      http_status=status) from None
    request_id = str(inner.get("RequestId", ""))
    error = inner.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code") or codes.INTERNAL_ERROR)
        message = public_text(str(error.get("Message") or ""), UPSTREAM_TEXT_CHARS) or None
        raise V3Error(code, message, http_status=status, request_id=request_id)
    if not 200 <= status < 300:
        raise V3Error(codes.INTERNAL_ERROR, f"HTTP {status} with a success body", http_status=status)
    try:
        return BankCardOcrResponse.model_validate(inner)
    except ValidationError as exc:
        raise V3Error(codes.INTERNAL_ERROR, f"the answer's fields have unexpected types ({exc.error_count()} "
                                            "errors)", http_status=status) from None


class _FreshSignatures:
    """Makes sure no signature is sent twice: the same body signed in the same second waits for the next one."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._second = -1
        self._sent: set[str] = set()

    def timestamp_for(self, payload: bytes) -> int:
        """A timestamp under which ``payload`` was not signed yet."""
        digest = hashlib.sha256(payload).hexdigest()
        while True:
            with self._lock:
                now = self._clock()
                second = int(now)
                if second != self._second:
                    self._second, self._sent = second, set()
                if digest not in self._sent:
                    self._sent.add(digest)
                    return second
            self._sleep(second + 1 - now)


class V3Client:
    """Calls BankCardOCR with API 3.0; safe to share between threads.

    Parameters:
        url: the endpoint, ``https://ocr.tencentcloudapi.com`` or ``http://host:port`` of ``cardpipe serve``.
        secret_id, secret_key: the key pair that signs each call.
        region: ``X-TC-Region`` (e.g. ``ap-guangzhou``); omitted when empty.
        options: the request's flags (RetBorderCutImage, EnableQualityValue, ...), sent with every call.
        timeout_s, connect_timeout_s, max_connections: as for the legacy client.
        clock, sleep: injectable for tests.
    """

    def __init__(self, url: str, *, secret_id: str, secret_key: str, region: str = "",
                 options: BankCardOcrRequest | None = None, timeout_s: float = 10.0, connect_timeout_s: float = 3.0,
                 max_connections: int = 32, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url.rstrip("/") + "/"
        self.host = httpx.URL(self.url).netloc.decode("ascii")
        self.region = region
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._options = options or BankCardOcrRequest()
        self._fresh = _FreshSignatures(clock, sleep)
        self._http = CurlPool(self.url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                              max_connections=max_connections, pool_timeout_s=timeout_s)

    def __repr__(self) -> str:
        return f"V3Client(url={self.url!r}, secret_id={self._secret_id!r}, region={self.region!r})"

    def body_for(self, image: bytes | None = None, *, url: str | None = None) -> bytes:
        """The JSON body of one call, exactly as it is sent and signed."""
        fields = self._options.model_copy(update={
            "ImageUrl": url, "ImageBase64": None if url is not None else base64.b64encode(image or b"").decode(),
        })
        return json.dumps(fields.to_wire()).encode("utf-8")

    def signed_headers(self, payload: bytes, *, timestamp: int) -> dict[str, str]:
        """The headers of a call carrying ``payload`` signed at ``timestamp``."""
        return tc3.sign_headers(secret_id=self._secret_id, secret_key=self._secret_key, host=self.host,
                                service=SERVICE, action=ACTION, version=VERSION, region=self.region,
                                payload=payload, timestamp=timestamp)

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardOcrResponse:
        """Recognise one card from its bytes, or from a URL the API fetches.

        Raises:
            V3Error: the answer's 3.0 code; ``InternalError`` (transient) for timeouts, broken connections and
                answers that are not the API's; ``MissingParameter`` / ``LimitExceeded.TooLargeFileError`` for
                a request not worth sending.
        """
        if url is None and not image:
            raise V3Error(codes.MISSING_PARAMETER, "neither image bytes nor a url to send")
        payload = self.body_for(image, url=url)
        if len(payload) > MAX_BODY_BYTES:
            raise V3Error(codes.TOO_LARGE_FILE, f"the request would be {len(payload)} bytes; the API takes at most "
                                                f"{MAX_BODY_BYTES}")
        headers = self.signed_headers(payload, timestamp=self._fresh.timestamp_for(payload))
        headers.pop("Host")  # libcurl sends the url's own Host, which is what was signed
        lines = ["User-Agent: cardpipe", *(f"{name}: {value}" for name, value in headers.items())]
        try:
            status, content = self._http.post(payload, lines)
        except HttpError as exc:  # timeouts, refused or broken connections, TLS failures: all transient
            raise V3Error(codes.INTERNAL_ERROR, f"{type(exc).__name__} calling {self.url}") from exc
        return interpret(status, content)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> V3Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
