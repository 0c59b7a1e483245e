"""What can go wrong fetching an image, as codes a dead letter can be filtered by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from worker.api.errors import CardpipeError

FetchErrorCode = Literal["not_found", "too_large", "empty", "forbidden", "bad_location", "timeout", "unavailable"]

#: Codes that may clear up by themselves; the others are final for that location.
TRANSIENT_FETCH_CODES: frozenset[str] = frozenset({"timeout", "unavailable"})


class FetchError(CardpipeError):
    """An image could not be fetched.

    Parameters:
        code: ``not_found``, ``too_large``, ``empty``, ``forbidden``, ``bad_location``, ``timeout`` or
            ``unavailable``.
        reason: what happened, in words an operator can act on (never containing credentials).
        transient: whether trying again later may work; by default true for ``timeout`` and ``unavailable``.

    >>> FetchError("timeout", "read timed out").transient
    True
    """

    def __init__(self, code: FetchErrorCode, reason: str, *, transient: bool | None = None) -> None:
        self.code = code
        self.reason = reason
        self.transient = code in TRANSIENT_FETCH_CODES if transient is None else transient
        super().__init__(f"[{code}] {reason}")


@dataclass(frozen=True)
class FetchedObject:
    """An image's bytes and what the store said about them."""

    data: bytes
    etag: str | None = None
    version: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class ObjectInfo:
    """Size and identity of an object, read without downloading it (for stable task ids).

    ``size`` is None when the store did not say (an HTTP server without Content-Length).
    """

    size: int | None
    etag: str | None = None
    version: str | None = None
