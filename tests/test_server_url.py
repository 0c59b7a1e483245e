"""url mode over real HTTP: downloads from a loopback web server when allowed, refusal of internal addresses
by default (request forgery), timeouts, redirects and the size cap, all as code -1308."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from tests.test_server_harness import (
    APPID,
    BUCKET,
    Server,
    animated_gif,
    answer_of,
    authorization,
    serving,
    static_site,
)
from worker.api.legacy import codes
from worker.api.server.fetch import refusal_reason
from worker.api.server.settings import ServeSettings


@pytest.fixture(scope="module")
def guarded() -> Iterator[Server]:
    """A server with the default policy: internal addresses refused."""
    with serving(ServeSettings()) as server:
        yield server


@pytest.fixture(scope="module")
def permissive() -> Iterator[Server]:
    """A server that may fetch from loopback, with a short download deadline and a 64 KB cap."""
    settings = ServeSettings(allow_private_urls=True, url_fetch_timeout_s=0.5, max_body_bytes=64 * 1024)
    with serving(settings) as server:
        yield server


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with static_site({"/animated.gif": animated_gif(), "/big.jpg": b"\xff\xd8\xff" + b"\x00" * (100 * 1024),
                      "/empty.jpg": b""}) as base_url:
        yield base_url


def _url_request(server: Server, url: object, *, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return server.post_json({"appid": APPID, "bucket": BUCKET, "url": url}, auth=authorization(),
                            content_type=content_type)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/card.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/card.jpg",
    "http://localhost/card.jpg",
    "http://10.1.2.3/card.jpg",
    "http://0.0.0.0/card.jpg",
])
def test_internal_addresses_are_refused_by_default(guarded: Server, url: str) -> None:
    answer = answer_of(_url_request(guarded, url))
    assert answer.code == codes.IMAGE_DOWNLOAD_FAILED
    assert "not allowed" in answer.message
    assert guarded.healthy()


def test_the_guard_also_refuses_loopback_sites_that_exist(guarded: Server, site: str) -> None:
    answer = answer_of(_url_request(guarded, f"{site}/animated.gif"))
    assert answer.code == codes.IMAGE_DOWNLOAD_FAILED


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "http://", "not a url"])
def test_non_http_urls_are_refused(guarded: Server, url: str) -> None:
    assert answer_of(_url_request(guarded, url)).code == codes.IMAGE_DOWNLOAD_FAILED


def test_a_url_that_hangs_times_out(permissive: Server, site: str) -> None:
    answer = answer_of(_url_request(permissive, f"{site}/hang"))
    assert answer.code == codes.IMAGE_DOWNLOAD_FAILED
    assert "within 0.5 s" in answer.message
    assert permissive.healthy()


def test_downloaded_image_reaches_the_recognizer(permissive: Server, site: str) -> None:
    answer = answer_of(_url_request(permissive, f"{site}/animated.gif", content_type="text/json"))
    assert answer.code == codes.IMAGE_DECODE_FAILED  # downloaded, then refused as the recognizer refuses a GIF


def test_redirects_are_followed_a_bounded_number_of_times(permissive: Server, site: str) -> None:
    followed = answer_of(_url_request(permissive, f"{site}/redirect-to/animated.gif"))
    assert followed.code == codes.IMAGE_DECODE_FAILED
    looping = answer_of(_url_request(permissive, f"{site}/loop"))
    assert looping.code == codes.IMAGE_DOWNLOAD_FAILED
    assert "redirects" in looping.message


def test_http_errors_and_oversized_downloads_are_minus_1308(permissive: Server, site: str) -> None:
    missing = answer_of(_url_request(permissive, f"{site}/missing.jpg"))
    assert missing.code == codes.IMAGE_DOWNLOAD_FAILED and "404" in missing.message
    big = answer_of(_url_request(permissive, f"{site}/big.jpg"))
    assert big.code == codes.IMAGE_DOWNLOAD_FAILED and "limit" in big.message


def test_an_empty_download_is_minus_1300(permissive: Server, site: str) -> None:
    assert answer_of(_url_request(permissive, f"{site}/empty.jpg")).code == codes.IMAGE_EMPTY


def test_url_wins_over_the_image_part(permissive: Server, site: str) -> None:
    response = permissive.post_images([b""], auth=authorization(), url=f"{site}/animated.gif")
    assert answer_of(response).code == codes.IMAGE_DECODE_FAILED  # the gif at the url, not the empty part


def test_a_list_of_urls_answers_an_array_in_order(permissive: Server, site: str) -> None:
    response = _url_request(permissive, [f"{site}/animated.gif", f"{site}/missing.jpg", f"{site}/empty.jpg"])
    assert [d["code"] for d in response.json()] == [codes.IMAGE_DECODE_FAILED, codes.IMAGE_DOWNLOAD_FAILED,
                                                     codes.IMAGE_EMPTY]
    too_many = answer_of(_url_request(permissive, [f"{site}/empty.jpg"] * 21))
    assert too_many.code == codes.TOO_MANY_IMAGES


@pytest.mark.parametrize(("address", "refused"), [
    ("8.8.8.8", False), ("2606:4700:4700::1111", False), ("127.0.0.53", True), ("::1", True),
    ("192.168.1.1", True), ("172.16.0.1", True), ("100.64.0.1", True), ("169.254.1.1", True),
    ("224.0.0.1", True), ("240.0.0.1", True), ("fe80::1", True), ("fd00:ec2::254", True), ("::", True),
    ("::ffff:169.254.169.254", True),
])
def test_refusal_policy(address: str, refused: bool) -> None:
    assert (refusal_reason(ipaddress.ip_address(address)) is not None) is refused


async def _public_resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address("93.184.216.34")]


@pytest.mark.anyio
async def test_requests_are_pinned_to_the_checked_address() -> None:
    """The connection goes to the address that passed the check; the name stays in Host and in TLS SNI."""
    from worker.api.server.fetch import ImageFetcher

    async with ImageFetcher.make_client(1.0) as client:
        fetcher = ImageFetcher(client, max_bytes=1024, timeout_s=1.0, resolver=_public_resolver)
        request = await fetcher._guarded_request(httpx.URL("https://cards.example:8443/a.jpg?sig=1"))
    assert request.url == httpx.URL("https://93.184.216.34:8443/a.jpg?sig=1")
    assert request.headers["host"] == "cards.example:8443"
    assert request.extensions["sni_hostname"] == "cards.example"
