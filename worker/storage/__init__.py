"""Fetching image bytes from wherever a task says they are, chosen by the location's scheme.

- ``/data/a.jpg`` or ``file:///data/a.jpg``: local files, confined to ``local_roots``;
- ``s3://bucket/key`` or ``cos://bucket/key``: S3, COS or MinIO through one shared boto3 client;
- ``http://...`` or ``https://...``: any web server, through httpx.

Every store refuses objects over ``max_bytes`` without reading them and raises :class:`FetchError` with a
code (``not_found``, ``too_large``, ``empty``, ``forbidden``, ``bad_location``, ``timeout``,
``unavailable``) and whether trying again may help.

>>> storage = open_storage(StorageSettings(local_roots=[Path("/data")]))   # doctest: +SKIP
>>> storage.fetch("s3://cards/2024/0001.jpg").etag                         # doctest: +SKIP
'9b2cf535f27731c974343645a3985328'
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from worker.storage.errors import FetchedObject, FetchError, ObjectInfo
from worker.storage.settings import S3Settings, StorageSettings

__all__ = [
    "FetchError", "FetchedObject", "ObjectInfo", "S3Settings", "Storage", "StorageRouter", "StorageSettings",
    "open_storage", "s3_client", "scheme_of",
]


class Storage(Protocol):
    """Reads an image by location."""

    def fetch(self, location: str) -> FetchedObject:
        """The object's bytes and metadata, or :class:`FetchError`."""
        ...

    def head(self, location: str) -> ObjectInfo:
        """Size, ETag and version without downloading (for stable task ids), or :class:`FetchError`."""
        ...


def s3_client(settings: S3Settings, *, timeout_s: float = 30.0) -> Any:
    """The shared, thread-safe boto3 S3 client for these settings (see :func:`worker.storage.s3.s3_client`)."""
    from worker.storage.s3 import s3_client as make

    return make(settings, timeout_s=timeout_s)


def scheme_of(location: str) -> str:
    """``local``, ``s3`` or ``http`` for a location; raises ``bad_location`` for any other scheme.

    >>> scheme_of("cos://bucket-1250000000/a.jpg"), scheme_of("./a.jpg"), scheme_of("https://x/a.jpg")
    ('s3', 'local', 'http')
    """
    if not location or not location.strip():
        raise FetchError("bad_location", "the location is empty")
    scheme, sep, _ = location.partition("://")
    if not sep:
        return "local"
    scheme = scheme.lower()
    if scheme == "file":
        return "local"
    if scheme in {"s3", "cos"}:
        return "s3"
    if scheme in {"http", "https"}:
        return "http"
    raise FetchError("bad_location", f"unsupported location scheme {scheme!r} in {location!r}")


class StorageRouter:
    """Sends each location to the store its scheme names; stores are built on first use and then shared.

    Parameters:
        settings: roots, size cap, timeout and the S3 endpoint.
    """

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self._stores: dict[str, Storage] = {}
        self._lock = threading.Lock()

    def _build(self, scheme: str) -> Storage:
        settings = self.settings
        if scheme == "local":
            from worker.storage.local import LocalStorage

            return LocalStorage(settings.local_roots, max_bytes=settings.max_bytes)
        if scheme == "s3":
            from worker.storage.s3 import S3Storage

            return S3Storage(s3_client(settings.s3, timeout_s=settings.timeout_s), max_bytes=settings.max_bytes)
        from worker.storage.http import HttpStorage

        return HttpStorage(timeout_s=settings.timeout_s, max_bytes=settings.max_bytes)

    def store_for(self, location: str) -> Storage:
        """The store that handles ``location``."""
        scheme = scheme_of(location)
        with self._lock:
            store = self._stores.get(scheme)
            if store is None:
                store = self._stores[scheme] = self._build(scheme)
            return store

    def fetch(self, location: str) -> FetchedObject:
        return self.store_for(location).fetch(location)

    def head(self, location: str) -> ObjectInfo:
        return self.store_for(location).head(location)


def open_storage(settings: StorageSettings) -> StorageRouter:
    """A storage that fetches local paths, ``file://``, ``s3://``/``cos://`` and ``http(s)://`` locations.

    Parameters:
        settings: roots for local paths, the size cap, the timeout and the S3/COS endpoint.
    """
    return StorageRouter(settings)

