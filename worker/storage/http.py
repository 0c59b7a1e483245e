"""Images behind plain ``http(s)://`` URLs, streamed with a size cap through one pooled httpx client.

>>> storage = HttpStorage(timeout_s=10, max_bytes=6 * 1024 * 1024)          # doctest: +SKIP
>>> storage.fetch("https://images.example/card.jpg").content_type           # doctest: +SKIP
'image/jpeg'
"""

from __future__ import annotations

import httpx

from worker.api.legacy.codes import is_transient_http_status
from worker.storage.errors import FetchedObject, FetchError, ObjectInfo

SCHEMES = ("http", "https")


def _status_error(location: str, status: int) -> FetchError:
    if status in {404, 410}:
        return FetchError("not_found", f"{location!r} answered HTTP {status}")
    if status in {401, 403}:
        return FetchError("forbidden", f"{location!r} answered HTTP {status}")
    if is_transient_http_status(status):
        return FetchError("unavailable", f"{location!r} answered HTTP {status}")
    return FetchError("bad_location", f"{location!r} answered HTTP {status}")


def _declared_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


class HttpStorage:
    """Fetches images by URL (redirects followed), never holding more than ``max_bytes + 1`` of a body.

    Parameters:
        timeout_s: connect, read and write timeout.
        max_bytes: bodies larger than this are ``too_large``; a declared Content-Length over it is refused
            before any of the body is read.
        client: an httpx client to use instead of building one (shared pools, tests).
    """

    def __init__(self, *, timeout_s: float, max_bytes: int, client: httpx.Client | None = None) -> None:
        self.max_bytes = max_bytes
        self.client = client or httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=True,
                                             limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))

    def head(self, location: str) -> ObjectInfo:
        """Size (when the server declares it) and ETag from a HEAD request."""
        try:
            response = self.client.head(location)
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"timed out asking {location!r}") from exc
        except httpx.InvalidURL as exc:
            raise FetchError("bad_location", f"not a valid URL: {location!r}") from exc
        except httpx.HTTPError as exc:
            raise FetchError("unavailable", f"cannot reach {location!r}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _status_error(location, response.status_code)
        return ObjectInfo(size=_declared_length(response), etag=response.headers.get("etag"))

    def fetch(self, location: str) -> FetchedObject:
        """The body's bytes; raises :class:`FetchError` for errors, oversized or empty bodies."""
        try:
            with self.client.stream("GET", location) as response:
                if response.status_code >= 400:
                    raise _status_error(location, response.status_code)
                declared = _declared_length(response)
                if declared is not None and declared > self.max_bytes:
                    raise FetchError("too_large", f"{location!r} is {declared} bytes; the limit is {self.max_bytes}")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise FetchError("too_large", f"{location!r} is larger than the limit of {self.max_bytes}"
                                                      " bytes")
                etag = response.headers.get("etag")
                content_type = response.headers.get("content-type")
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"timed out fetching {location!r}") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError("bad_location", f"not a fetchable URL: {location!r}") from exc
        except httpx.HTTPError as exc:
            raise FetchError("unavailable", f"cannot fetch {location!r}: {type(exc).__name__}") from exc
        if not data:
            raise FetchError("empty", f"{location!r} has an empty body")
        return FetchedObject(data=bytes(data), etag=etag, content_type=content_type)

    def close(self) -> None:
        self.client.close()
