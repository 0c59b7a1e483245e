"""The fake upstream speaks the seed protocol over real HTTP and follows its script."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.fakes import FakeUpstream, Reply
from worker.api.legacy import codes
from worker.api.legacy.schema import FIELD_ORDER, BankCardResponse
from worker.api.legacy.signing import Credential, sign

APPID, SECRET_ID, SECRET_KEY = "1250000000", "AKIDfakeupstream", "fake-upstream-secret-key"


def post_image(url: str, image: bytes, *, appid: str = APPID, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, data={"appid": appid, "bucket": "test"}, files={"image": ("image.jpg", image, "image/jpeg")},
                      headers=headers or {}, timeout=10)


def test_success_body_is_the_seed_format() -> None:
    with FakeUpstream() as fake:
        response = post_image(fake.url, b"\xff\xd8card")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0 and body["message"] == "OK"
    assert [item["item"] for item in body["data"]["items"]] == list(FIELD_ORDER)
    parsed = BankCardResponse.model_validate(body)
    assert parsed.value("卡号") == "6225760000000000"
    assert parsed.value("银行信息") == "招商银行(03080000)"
    assert set(body["data"]["items"][0]) >= {"itemcoord", "itemconf", "itemstring", "coords", "words", "candword"}


def test_script_is_followed_per_image_then_default() -> None:
    with FakeUpstream(default=Reply(number="6214830000000000")) as fake:
        fake.script(b"A", [Reply(code=codes.RATE_LIMITED), Reply(http_status=503, code=codes.SERVER_INTERNAL_ERROR)])
        first, second, third = (post_image(fake.url, b"A") for _ in range(3))
        other = post_image(fake.url, b"B")
        assert (first.status_code, first.json()["code"]) == (200, 15)
        assert (second.status_code, second.json()["code"]) == (503, -5208)
        assert third.json()["data"]["items"][0]["itemstring"] == "6214830000000000"
        assert other.json()["code"] == 0
        assert fake.calls_for(b"A") == 3 and fake.calls_for(b"B") == 1 and fake.total_calls == 4
        recorded = fake.requests[0]
        assert recorded.fields == {"appid": APPID, "bucket": "test"}
        assert recorded.image == b"A" and recorded.image_filename == "image.jpg"
        assert recorded.answered_code == 15


def test_json_url_requests_are_scripted_by_url() -> None:
    with FakeUpstream() as fake:
        fake.script("http://images.example/1.jpg", [Reply(code=codes.IMAGE_DECODE_FAILED)])
        response = httpx.post(fake.url, json={"appid": APPID, "bucket": "", "url": "http://images.example/1.jpg"})
        assert response.json()["code"] == -1102
        assert fake.calls_for("http://images.example/1.jpg") == 1
        assert fake.requests[0].url == "http://images.example/1.jpg"


def test_raw_body_override_and_binary_image_round_trip() -> None:
    image = bytes(range(256)) * 64 + b"\r\n--not-a-boundary\r\n"
    with FakeUpstream() as fake:
        fake.script(image, [Reply(body=b"<html>bad gateway</html>", http_status=502)])
        response = post_image(fake.url, image)
        assert response.status_code == 502 and response.content == b"<html>bad gateway</html>"
        assert fake.requests[0].image == image


def test_protocol_errors_answer_codes() -> None:
    with FakeUpstream() as fake:
        assert httpx.post(fake.url, content=b"x", headers={"Content-Type": "text/plain"}).json()["code"] == 3
        assert httpx.post(fake.url, data={"appid": APPID}).json()["code"] == codes.NO_IMAGE_OR_URL
        assert post_image(fake.url, b"img", appid="").json()["code"] == codes.PARAMETER_EMPTY
        assert httpx.post(fake.url, content=b"{", headers={"Content-Type": "application/json"}).json()["code"] == 3


@pytest.mark.parametrize(("authorization", "expected"), [
    (None, codes.SIGNATURE_EMPTY),
    ("not base64!", codes.SIGNATURE_INVALID),
    (sign(APPID, SECRET_ID, "wrong-key"), codes.SIGNATURE_FAILED),
    (sign("999", SECRET_ID, SECRET_KEY), codes.APPID_UNKNOWN),
    (sign(APPID, "AKIDother", SECRET_KEY), codes.SECRET_ID_UNKNOWN),
    (sign(APPID, SECRET_ID, SECRET_KEY, now=1_000_000, ttl=60), codes.SIGNATURE_EXPIRED),
    (sign(APPID, SECRET_ID, SECRET_KEY, bucket="other"), codes.APPID_BUCKET_URL_MISMATCH),
    (sign(APPID, SECRET_ID, SECRET_KEY, bucket="test"), codes.OK),
])
def test_signatures_are_verified_when_credentials_are_given(authorization: str | None, expected: int) -> None:
    credential = Credential(APPID, SECRET_ID, SECRET_KEY)
    with FakeUpstream(credentials=[credential]) as fake:
        response = post_image(fake.url, b"img", headers={"Authorization": authorization} if authorization else None)
        assert response.status_code == 200
        assert response.json()["code"] == expected
        # A refused request never reaches the script: it is not counted against the image.
        assert fake.calls_for(b"img") == (1 if expected == codes.OK else 0)


def test_delay_and_drop() -> None:
    with FakeUpstream() as fake:
        fake.script(b"slow", [Reply(delay=1.0)])
        fake.script(b"gone", [Reply(drop=True)])
        with pytest.raises(httpx.ReadTimeout):
            post_image_with_timeout(fake.url, b"slow", timeout=0.2)
        with pytest.raises(httpx.RemoteProtocolError):
            post_image_with_timeout(fake.url, b"gone", timeout=5)
        assert fake.calls_for(b"slow") == 1 and fake.calls_for(b"gone") == 1


def post_image_with_timeout(url: str, image: bytes, *, timeout: float) -> httpx.Response:
    return httpx.post(url, data={"appid": APPID}, files={"image": ("image.jpg", image)}, timeout=timeout)


def test_oversized_body_is_refused_without_reading_it() -> None:
    with FakeUpstream() as fake:
        response = post_image(fake.url, b"\0" * (6 * 1024 * 1024 + 1))
        assert response.status_code == 413
        assert response.json()["code"] == codes.IMAGE_TOO_LARGE


def _raw_request(url: str, image: bytes) -> bytes:
    """One keep-alive multipart POST as the bytes a client puts on the wire."""
    request = httpx.Request("POST", url, data={"appid": APPID, "bucket": "test"},
                            files={"image": ("image.jpg", image, "image/jpeg")})
    head = f"POST {request.url.raw_path.decode()} HTTP/1.1\r\nHost: {request.url.netloc.decode()}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in request.headers.items() if name.lower() != "host")
    return head.encode("latin-1") + b"\r\n" + request.read()


def test_each_answer_leaves_in_one_piece_on_a_keep_alive_connection() -> None:
    """An answer written as headers, then body, waits for the client's delayed ACK (~40 ms) under Nagle's
    algorithm: the "zero-latency" fake would then cost more than the pipeline it measures. Counted here: how
    many of 50 answers on one connection arrive in more than one piece (none may)."""
    with FakeUpstream() as fake:
        host, port = fake.url.split("//", 1)[1].split("/", 1)[0].split(":")
        request = _raw_request(fake.url, b"\xff\xd8" + b"x" * 30_000)
        split = 0
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            for _ in range(50):
                conn.sendall(request)
                first = conn.recv(1 << 20)
                head, _, body = first.partition(b"\r\n\r\n")
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                while len(body) < length:
                    chunk = conn.recv(1 << 20)
                    assert chunk, "the server closed the keep-alive connection"
                    body += chunk
                    split += 1
                assert json.loads(body)["code"] == 0
        assert fake.total_calls == 50
        assert split == 0
