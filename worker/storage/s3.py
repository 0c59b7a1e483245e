"""Images in S3 or an S3-compatible store (Tencent COS, MinIO), through one shared boto3 client.

A boto3 *client* is thread-safe but creating one is not, and each carries its own connection pool, so the
process makes one per endpoint settings (:func:`s3_client`) and every thread shares it.

Locations are ``s3://bucket/key`` (``cos://`` is accepted as an alias). The key is everything after the
first slash, taken literally: no percent-decoding, and ``?`` or ``#`` are part of the key, so keys with
spaces, unicode or URL punctuation arrive as they were listed.

>>> parse_location("s3://cards/2024/06/scan 1.jpg")
('cards', '2024/06/scan 1.jpg')
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
)

from worker.storage.errors import FetchedObject, FetchError, ObjectInfo
from worker.storage.settings import S3Settings

SCHEMES = ("s3", "cos")

_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchBucket", "NoSuchVersion"}
_FORBIDDEN = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
              "ExpiredToken", "InvalidToken", "AccountProblem"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "RequestTimeout",
              "ServiceUnavailable", "InternalError", "503", "500"}

_clients: dict[tuple[S3Settings, float], Any] = {}
_clients_lock = threading.Lock()


def s3_client(settings: S3Settings, *, timeout_s: float = 30.0) -> Any:
    """The process's boto3 S3 client for these settings, created on first use and shared by all threads.

    Parameters:
        settings: endpoint, region, addressing style, pool size, profile.
        timeout_s: connect and read timeout per request; botocore retries (standard mode) on top.

    >>> client = s3_client(S3Settings(endpoint_url="http://127.0.0.1:9000", addressing_style="path"))  # doctest: +SKIP
    >>> client.list_objects_v2(Bucket="cards", MaxKeys=1)                                              # doctest: +SKIP
    """
    key = (settings, timeout_s)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            config = Config(
                connect_timeout=min(timeout_s, 10.0),
                read_timeout=timeout_s,
                retries={"mode": "standard", "max_attempts": 3},
                max_pool_connections=settings.max_pool_connections,
                s3={"addressing_style": settings.addressing_style},
            )
            session = boto3.session.Session(profile_name=settings.profile)
            client = session.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
                                    config=config)
            _clients[key] = client
        return client


def parse_location(location: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` (or ``cos://``) into bucket and key, literally."""
    scheme, sep, rest = location.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise FetchError("bad_location", f"not an s3:// or cos:// location: {location!r}")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise FetchError("bad_location", f"no bucket in {location!r}")
    if not key:
        raise FetchError("bad_location", f"no object key in {location!r}")
    return bucket, key


def _translate(location: str, exc: Exception) -> FetchError:
    """One botocore failure as a FetchError with the right code and transience."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _NOT_FOUND or status == 404:
            return FetchError("not_found", f"{location!r} does not exist ({code or status})")
        if code in _FORBIDDEN or status == 403:
            return FetchError("forbidden", f"access to {location!r} was refused ({code or status})")
        if code in _THROTTLED or status >= 500 or status == 429:
            return FetchError("unavailable", f"the store is unavailable for {location!r} ({code or status})")
        return FetchError("bad_location", f"the store refused {location!r} ({code or status})")
    if isinstance(exc, NoCredentialsError):
        return FetchError("forbidden", "no S3 credentials found (environment, profile or instance role)")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return FetchError("timeout", f"timed out fetching {location!r}")
    return FetchError("unavailable", f"cannot reach the store for {location!r}: {type(exc).__name__}")


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


class S3Storage:
    """Fetches ``s3://bucket/key`` objects, refusing oversized ones before reading them.

    Parameters:
        client: a boto3 S3 client (usually :func:`s3_client`).
        max_bytes: objects larger than this are ``too_large``; at most ``max_bytes + 1`` bytes are ever read.
    """

    def __init__(self, client: Any, *, max_bytes: int) -> None:
        self.client = client
        self.max_bytes = max_bytes

    def head(self, location: str) -> ObjectInfo:
        """Size, ETag and version id from a HEAD request."""
        bucket, key = parse_location(location)
        try:
            answer = self.client.head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(location, exc) from exc
        return ObjectInfo(size=int(answer.get("ContentLength", 0)), etag=_etag(answer.get("ETag")),
                          version=answer.get("VersionId"))

    def fetch(self, location: str) -> FetchedObject:
        """The object's bytes; the declared length is checked before the body is read, and the read is capped."""
        bucket, key = parse_location(location)
        try:
            answer = self.client.get_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(location, exc) from exc
        body = answer["Body"]
        try:
            size = int(answer.get("ContentLength", 0))
            if size > self.max_bytes:
                raise FetchError("too_large", f"{location!r} is {size} bytes; the limit is {self.max_bytes}")
            data = body.read(self.max_bytes + 1)
        except (BotoCoreError, OSError) as exc:
            raise _translate(location, exc) from exc
        finally:
            body.close()
        if len(data) > self.max_bytes:
            raise FetchError("too_large", f"{location!r} is larger than the limit of {self.max_bytes} bytes")
        if not data:
            raise FetchError("empty", f"{location!r} is empty")
        return FetchedObject(data=data, etag=_etag(answer.get("ETag")), version=answer.get("VersionId"),
                             content_type=answer.get("ContentType"))
