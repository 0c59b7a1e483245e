"""A client for the legacy bank-card OCR API (the vendor's endpoint, or ``cardpipe serve``).

It speaks the seed protocol exactly: a multipart form with ``appid``, ``bucket`` and ``image`` (filename
``image.jpg``), or a JSON body ``{"appid", "bucket", "url"}``, with a multi-effective signature in
``Authorization``. Every answer other than code 0 becomes an :class:`ApiError` whose code and HTTP status
say whether trying again may help; the client itself never retries (the pipeline does, under the rate
limiter, so that every attempt is paid for with a token).

One pool of keep-alive connections (libcurl, :mod:`worker.api.curl`) serves every thread; one signature is
reused until 80% of its lifetime has passed, then replaced. Why libcurl rather than httpx, which the rest of
cardpipe uses: this call is made once per image, and on the same request urllib3 spends 3.0x libcurl's CPU
and httpx 5.2x (``scripts/bench/upstream_call.py``), which was the largest part of a worker's own CPU per
message. A proxy named by the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) is
used as httpx would, and https verifies with the same certificates as httpx (certifi, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``).

>>> client = LegacyClient("http://127.0.0.1:8080/ocr/bankcard", appid="1250000000",
...                       credential=Credential("1250000000", "AKID...", "secret"))      # doctest: +SKIP
>>> client.recognize(open("card.jpg", "rb").read()).value("卡号")                         # doctest: +SKIP
'6225760000000008'
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from worker.api.curl import CurlPool, HttpError, HttpTimeout
from worker.api.errors import UPSTREAM_BODY_CHARS, UPSTREAM_TEXT_CHARS, ApiError
from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse
from worker.api.legacy.signing import MAX_TTL_SECONDS, Credential, sign
from worker.observability import public_text

#: The API refuses request bodies over 6 MB; refusing locally saves a paid call and a token.
MAX_IMAGE_BYTES = 6 * 1024 * 1024
#: Share of a signature's lifetime after which a fresh one is made, so none expires in flight.
RESIGN_AT = 0.8


class SignatureCache:
    """Hands out one signature until ``RESIGN_AT`` of its ``ttl`` has passed, then signs anew.

    Parameters:
        credential: the key pair; the secret stays inside this object.
        bucket: the ``b`` field.
        ttl: signature lifetime in seconds.
        clock: unix time; injectable for tests.
    """

    def __init__(self, credential: Credential, *, bucket: str = "", ttl: int = 3600,
                 clock: Callable[[], float] = time.time) -> None:
        if not 0 < ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"signature ttl must be within 1..{MAX_TTL_SECONDS} seconds, got {ttl}")
        self._credential = credential
        self._bucket = bucket
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._value = ""
        self._renew_at = float("-inf")

    def __repr__(self) -> str:
        return f"SignatureCache(credential={self._credential!r}, ttl={self._ttl})"

    def current(self) -> str:
        """A signature with at least 20% of its lifetime left."""
        with self._lock:
            now = self._clock()
            if now >= self._renew_at:
                issued = int(now)
                credential = self._credential
                self._value = sign(credential.appid, credential.secret_id, credential.secret_key,
                                   bucket=self._bucket, ttl=self._ttl, now=issued)
                self._renew_at = issued + self._ttl * RESIGN_AT
            return self._value


def multipart_body(boundary: str, appid: str, bucket: str, image: bytes) -> bytes:
    """The seed's multipart form (``appid``, ``bucket``, ``image`` as ``image.jpg``) as one bytes object.

    Why not httpx's ``files=``: its encoder streams the form as a dozen small writes, each a system call and a
    TCP segment, and costs more than the rest of the call; one buffer goes out in one or two. The boundary is
    random per request, as httpx makes it, so an image cannot be crafted to contain it.
    """
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"appid\"\r\n\r\n{appid}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"bucket\"\r\n\r\n{bucket}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"image.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n")
    return b"".join((head.encode("utf-8"), image, f"\r\n--{boundary}--\r\n".encode("ascii")))


def _parse_answer(payload: Any) -> BankCardResponse | None:
    """The seed's JSON object (or a one-element array of it, as multi-image servers answer), else None."""
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), int) or "message" not in payload:
        return None
    try:
        return BankCardResponse.model_validate(payload)
    except ValidationError:
        return None


def interpret(status: int, content: bytes) -> BankCardResponse:
    """Turn one HTTP answer into a code-0 response or the :class:`ApiError` it stands for.

    Parameters:
        status: the HTTP status.
        content: the body.
    """
    try:
        answer = _parse_answer(json.loads(content))
    except ValueError:  # not JSON, or not UTF-8
        answer = None
    if answer is None:
        excerpt = public_text(content, UPSTREAM_BODY_CHARS)
        if status == 429:
            raise ApiError(codes.RATE_LIMITED, f"HTTP 429 without an API body: {excerpt!r}", http_status=status)
        if codes.is_transient_http_status(status):
            raise ApiError(codes.SERVER_INTERNAL_ERROR, f"HTTP {status} without an API body: {excerpt!r}",
                           http_status=status)
        if 200 <= status < 300:
            raise ApiError(codes.UNPACK_FAILED, f"HTTP {status} with a body that is not the API's JSON: {excerpt!r}",
                           http_status=status)
        raise ApiError(codes.BAD_REQUEST, f"HTTP {status} without an API body (is the URL the bank-card API?): "
                                          f"{excerpt!r}", http_status=status)
    if answer.code != codes.OK:
        raise ApiError(answer.code, public_text(answer.message, UPSTREAM_TEXT_CHARS) or None, http_status=status)
    if not 200 <= status < 300:
        raise ApiError(codes.SERVER_INTERNAL_ERROR, f"code 0 with HTTP {status}", http_status=status)
    return answer


class LegacyClient:
    """Calls ``POST <url>`` with the seed protocol; safe to share between threads.

    Parameters:
        url: the endpoint, e.g. ``http://recognition.image.myqcloud.com/ocr/bankcard``.
        appid: the account's AppID, sent in every body.
        bucket: the ``bucket`` field (and the signature's ``b``).
        credential: signs requests; None sends no Authorization (a server that does not check).
        signature_ttl_s: lifetime of each signature; it is renewed after 80% of it.
        timeout_s: the longest a call may take, from connecting to the whole answer read;
            connect_timeout_s: connect timeout.
        max_connections: the pool size; at least the number of threads calling.
    """

    def __init__(
        self,
        url: str,
        *,
        appid: str,
        bucket: str = "",
        credential: Credential | None = None,
        signature_ttl_s: int = 3600,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        max_connections: int = 32,
    ) -> None:
        self.url = url
        self.appid = appid
        self.bucket = bucket
        self._signatures = SignatureCache(credential, bucket=bucket, ttl=signature_ttl_s) if credential else None
        self._http = CurlPool(url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                              max_connections=max_connections, pool_timeout_s=timeout_s)

    def __repr__(self) -> str:
        return f"LegacyClient(url={self.url!r}, appid={self.appid!r}, signed={self._signatures is not None})"

    def _headers(self, content_type: str) -> list[str]:
        headers = ["User-Agent: cardpipe", f"Content-Type: {content_type}"]
        if self._signatures:
            headers.append(f"Authorization: {self._signatures.current()}")
        return headers

    def _send(self, image: bytes | None, url: str | None) -> tuple[int, bytes]:
        """One POST, its status and whole body. No retries and no redirects followed: the pipeline retries,
        under the rate limiter, and a redirect is an answer that is not the API's (a permanent error)."""
        if url is not None:
            body = json.dumps({"appid": self.appid, "bucket": self.bucket, "url": url}, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")
            headers = self._headers("application/json")
        else:
            boundary = os.urandom(16).hex()
            body = multipart_body(boundary, self.appid, self.bucket, image or b"")
            headers = self._headers(f"multipart/form-data; boundary={boundary}")
        return self._http.post(body, headers)

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardResponse:
        """Recognise one card from its bytes, or from a URL the API fetches itself.

        Parameters:
            image: the image bytes (at most 6 MB).
            url: an image URL; when given, it is sent instead of ``image`` (the API uses the url when both are).

        Returns:
            The code-0 answer with the five items.

        Raises:
            ApiError: the answer's non-zero code; 15/-5208 with the HTTP status for 429/5xx without a body;
                203 for timeouts, 202 for refused or broken connections, 201 for a 200 that is not the API's
                JSON (all transient); 18 or 20 for a request not worth sending.
        """
        if url is None:
            if not image:
                raise ApiError(codes.NO_IMAGE_OR_URL, "neither image bytes nor a url to send")
            if len(image) > MAX_IMAGE_BYTES:
                raise ApiError(codes.IMAGE_TOO_LARGE, f"image is {len(image)} bytes; the API takes at most "
                                                      f"{MAX_IMAGE_BYTES}")
        elif not url:
            raise ApiError(codes.URL_EMPTY)
        try:
            status, content = self._send(image, url)
        except HttpTimeout as exc:  # connect or call timeout; no free connection in time
            raise ApiError(codes.INTERNAL_TIMEOUT, f"timeout calling {self.url}: "
                                                   f"{public_text(str(exc), UPSTREAM_TEXT_CHARS)}") from exc
        except HttpError as exc:  # refused, unresolvable, reset, dropped, broken answer, TLS failure
            raise ApiError(codes.LINK_FAILED, f"{type(exc).__name__} calling {self.url}: "
                                              f"{public_text(str(exc), UPSTREAM_TEXT_CHARS)}") from exc
        return interpret(status, content)

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> LegacyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
