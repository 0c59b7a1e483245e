"""Download a url-mode image without becoming a request-forgery gateway.

A server that fetches any url a caller names can be pointed at its own network: the cloud metadata service
(169.254.169.254, fd00:ec2::254), an admin port on loopback, a database on a private subnet. So, unless
``allow_private_urls`` is set:

* only ``http`` and ``https`` urls are fetched;
* the host is resolved here, and every address it resolves to must be globally routable (not loopback,
  private, link-local, multicast, reserved, shared or unspecified; IPv4-mapped IPv6 is unwrapped first);
* the connection goes to the address that was checked (the url's host is kept in ``Host`` and in TLS SNI, so
  certificates are still verified against the name), which defeats DNS rebinding between check and connect;
* redirects are followed by hand, at most :data:`MAX_REDIRECTS`, and every hop goes through the same checks;
* proxies from the environment are ignored, since a proxy would connect to an address never checked.

The whole download, redirects included, must finish within the timeout and fit in the size cap; it is
streamed and abandoned at the cap. Every failure is code -1308 with the reason.

>>> refusal_reason(ipaddress.ip_address("169.254.169.254"))
'a cloud metadata address'
>>> refusal_reason(ipaddress.ip_address("::ffff:10.0.0.1"))
'a private address'
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import anyio
import httpx

from worker.api.errors import ApiError
from worker.api.legacy import codes

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver: TypeAlias = Callable[[str, int], Awaitable[list[IPAddress]]]

MAX_REDIRECTS = 5
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def download_failed(reason: str) -> ApiError:
    return ApiError(codes.IMAGE_DOWNLOAD_FAILED, f"image download failed: {reason}")


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched by default, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for reason, flag in (("a loopback address", address.is_loopback),
                         ("an unspecified address", address.is_unspecified),
                         ("a link-local address", address.is_link_local),
                         ("a multicast address", address.is_multicast),
                         ("a private address", address.is_private),
                         ("a reserved address", address.is_reserved)):
        if flag:
            return reason
    if not address.is_global:
        return "an address that is not globally routable"
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise download_failed(f"host {host!r} does not resolve ({exc})") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise download_failed(f"host {host!r} has no address")
    return found


class ImageFetcher:
    """Fetches url-mode images under the guard described in the module docstring.

    Parameters:
        client: an ``httpx.AsyncClient`` made by :meth:`make_client` (no redirects, no environment proxies).
        max_bytes: the largest image accepted.
        timeout_s: the deadline for the whole download.
        allow_private: skip the address checks (for a server on a private network that fetches from it).
        resolver: host name resolution; :func:`resolve` by default.

    >>> fetcher = ImageFetcher(ImageFetcher.make_client(5.0), max_bytes=6 << 20, timeout_s=5.0)  # doctest: +SKIP
    >>> data = await fetcher.fetch("https://example.com/card.jpg")                              # doctest: +SKIP
    """

    def __init__(self, client: httpx.AsyncClient, *, max_bytes: int, timeout_s: float, allow_private: bool = False,
                 resolver: Resolver = resolve) -> None:
        self._client = client
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._allow_private = allow_private
        self._resolve = resolver

    @staticmethod
    def make_client(timeout_s: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=httpx.Timeout(timeout_s),
                                 headers={"User-Agent": "cardpipe-serve"})

    async def fetch(self, url: str) -> bytes:
        """The image's bytes; raise :class:`ApiError` -1308 saying why not."""
        try:
            with anyio.fail_after(self._timeout_s):
                return await self._follow(url)
        except TimeoutError as exc:
            raise download_failed(f"no complete answer within {self._timeout_s:g} s") from exc

    async def _follow(self, url: str) -> bytes:
        target = self._parse(url)
        for _hop in range(MAX_REDIRECTS + 1):
            request = await self._guarded_request(target)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise download_failed(f"{type(exc).__name__} while fetching from {target.host}") from exc
            try:
                if response.status_code in _REDIRECT_STATUSES and "location" in response.headers:
                    target = self._parse(str(target.join(response.headers["location"])))
                    continue
                if not 200 <= response.status_code < 300:
                    raise download_failed(f"{target.host} answered HTTP {response.status_code}")
                return await self._read(response)
            finally:
                await response.aclose()
        raise download_failed(f"more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _parse(url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise download_failed("the url is not a valid url") from exc
        if target.scheme not in ("http", "https"):
            raise download_failed(f"scheme {target.scheme or 'none'!r} is not http or https")
        if not target.host:
            raise download_failed("the url has no host")
        return target

    async def _guarded_request(self, target: httpx.URL) -> httpx.Request:
        """A request for ``target``, pinned to a checked address unless private urls are allowed."""
        if self._allow_private:
            return self._client.build_request("GET", target)
        port = target.port or (443 if target.scheme == "https" else 80)
        addresses = await self._resolve(target.host, port)
        for address in addresses:
            reason = refusal_reason(address)
            if reason is not None:
                raise download_failed(f"host {target.host} resolves to {reason}, which is not allowed")
        pinned = target.copy_with(host=str(addresses[0]))
        return self._client.build_request("GET", pinned, headers={"Host": target.netloc.decode("ascii")},
                                          extensions={"sni_hostname": target.host})

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise download_failed(f"the image is {declared} bytes, over the limit of {self._max_bytes}")
        buffer = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                buffer += chunk
                if len(buffer) > self._max_bytes:
                    raise download_failed(f"the image is larger than the limit of {self._max_bytes} bytes")
        except httpx.HTTPError as exc:
            raise download_failed(f"{type(exc).__name__} while reading the image") from exc
        return bytes(buffer)
