"""POST /ocr/bankcard over real HTTP on loopback: every bad input gets its code and a JSON body, and the
server stays up. Authentication, limits, encodings and the answer's shape."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
import structlog

from tests.test_server_harness import (
    APPID,
    BUCKET,
    OTHER_APPID,
    OTHER_SECRET_ID,
    OTHER_SECRET_KEY,
    SECRET_ID,
    SECRET_KEY,
    Server,
    animated_gif,
    answer_of,
    authorization,
    png_bytes,
    raw_post,
    serving,
)
from worker.api.legacy import codes
from worker.api.legacy.signing import sign_plaintext
from worker.api.server.settings import ServeSettings


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving(ServeSettings()) as running_server:
        yield running_server


def _assert_code(server: Server, response, code: int, *, status: int = 200) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    answer = answer_of(response)
    assert answer.code == code, answer
    assert answer.message
    assert answer.data.items == []
    assert server.healthy()


# --- authentication -------------------------------------------------------------------------------------------

def test_no_authorization_is_code_4(server: Server) -> None:
    response = server.post_images([png_bytes()])
    _assert_code(server, response, codes.SIGNATURE_EMPTY)
    assert answer_of(response).message == "签名为空"


def test_garbage_authorization_is_code_5(server: Server) -> None:
    for garbage in ("not base64 at all!", base64.b64encode(b"short").decode(),
                    base64.b64encode(b"x" * 20 + b"no pairs here").decode()):
        _assert_code(server, server.post_images([png_bytes()], auth=garbage), codes.SIGNATURE_INVALID)


def test_signature_of_another_appid_is_code_6(server: Server) -> None:
    other = authorization(OTHER_APPID, OTHER_SECRET_ID, OTHER_SECRET_KEY)
    response = server.post_images([png_bytes()], auth=other, appid=APPID)
    _assert_code(server, response, codes.APPID_BUCKET_URL_MISMATCH)
    assert answer_of(response).message == codes.message_for(codes.APPID_BUCKET_URL_MISMATCH)


def test_signature_for_another_bucket_is_code_6(server: Server) -> None:
    response = server.post_images([png_bytes()], auth=authorization(bucket="otherbucket"), bucket=BUCKET)
    _assert_code(server, response, codes.APPID_BUCKET_URL_MISMATCH)


def test_unknown_appid_secret_id_and_wrong_key(server: Server) -> None:
    unknown_appid = authorization("999", SECRET_ID, SECRET_KEY)
    _assert_code(server, server.post_images([png_bytes()], auth=unknown_appid, appid="999"), codes.APPID_UNKNOWN)
    unknown_id = authorization(APPID, "AKIDnobody", SECRET_KEY)
    _assert_code(server, server.post_images([png_bytes()], auth=unknown_id), codes.SECRET_ID_UNKNOWN)
    borrowed = authorization(APPID, OTHER_SECRET_ID, OTHER_SECRET_KEY)
    _assert_code(server, server.post_images([png_bytes()], auth=borrowed), codes.APPID_MISMATCH)
    wrong_key = authorization(APPID, SECRET_ID, "not-the-key")
    _assert_code(server, server.post_images([png_bytes()], auth=wrong_key), codes.SIGNATURE_FAILED)


def test_expired_signature_is_code_9(server: Server) -> None:
    expired = authorization(now=int(time.time()) - 7200, ttl=3600)
    _assert_code(server, server.post_images([png_bytes()], auth=expired), codes.SIGNATURE_EXPIRED)


def test_replayed_one_time_signature_is_code_13(server: Server) -> None:
    now = int(time.time())
    one_time = sign_plaintext(f"a={APPID}&b={BUCKET}&k={SECRET_ID}&e=0&t={now}&r=4242&u=0&f=card.jpg", SECRET_KEY)
    first = answer_of(server.post_images([b""], auth=one_time))
    assert first.code == codes.IMAGE_EMPTY  # got past the signature check
    _assert_code(server, server.post_images([b""], auth=one_time), codes.REPLAY_ATTACK)


@pytest.mark.parametrize("template", [
    "a={a}&b={b}&k={k}&e={e}&t={t}&r=11162&u=0&f=",        # the official field order
    "a={a}&b={b}&k={k}&e={e}&t={t}&r=11162&f=",            # official Python SDK: no u
    "a={a}&b={b}&k={k}&t={t}&e={e}",                       # official Java SDK: t before e, no r, u, f
    "a={a}&k={k}&e={e}&t={t}&r=2081660421&f=&b={b}",       # documentation example: b last
    "a={a}&k={k}&e={e}.25&t={t}.75&r=490258943",           # no b, no f, float times from str(time.time())
])
def test_every_real_client_variant_verifies(server: Server, template: str) -> None:
    now = int(time.time())
    plaintext = template.format(a=APPID, b=BUCKET, k=SECRET_ID, e=now + 600, t=now)
    answer = answer_of(server.post_images([b""], auth=sign_plaintext(plaintext, SECRET_KEY)))
    assert answer.code == codes.IMAGE_EMPTY, answer  # past the signature: the empty image is what is refused


# --- malformed requests -------------------------------------------------------------------------------------------

def test_wrong_content_type_is_code_3(server: Server) -> None:
    response = server.post_json(b"appid=1&url=x", auth=authorization(), content_type="text/plain")
    _assert_code(server, response, codes.BAD_REQUEST)
    no_type = server.client.post("/ocr/bankcard", content=b"{}", headers={"Authorization": authorization()})
    _assert_code(server, no_type, codes.BAD_REQUEST)


def test_invalid_json_is_code_3(server: Server) -> None:
    _assert_code(server, server.post_json(b'{"appid": "1252821871", "url": ', auth=authorization()),
                 codes.BAD_REQUEST)
    _assert_code(server, server.post_json(b"[1, 2]", auth=authorization()), codes.BAD_REQUEST)


def test_text_json_is_accepted_and_a_wrongly_typed_field_is_code_21(server: Server) -> None:
    response = server.post_json({"appid": APPID, "bucket": BUCKET, "url": 42}, auth=authorization(),
                                content_type="text/json")
    _assert_code(server, response, codes.INVALID_PARAMETER)


def test_truncated_multipart_is_code_3(server: Server) -> None:
    boundary = "--------------acebdf13572468"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"appid\";\r\n\r\n{APPID}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"c.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + png_bytes()[:200]
    response = server.client.post("/ocr/bankcard", content=body, headers={
        "Authorization": authorization(), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    _assert_code(server, response, codes.BAD_REQUEST)
    assert "truncated" in answer_of(response).message


def test_body_over_the_cap_is_413_code_20(server: Server) -> None:
    seven_mb = b"\xff\xd8\xff" + b"\x00" * (7 * 1024 * 1024)
    response = server.post_images([seven_mb], auth=authorization())
    _assert_code(server, response, codes.IMAGE_TOO_LARGE, status=413)


def test_chunked_body_growing_past_the_cap_is_413_code_20(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"appid": "1252821871", "url": "'
        for _ in range(7 * 16):
            yield b"a" * 65536
        yield b'"}'

    response = server.client.post("/ocr/bankcard", content=chunks(), headers={
        "Authorization": authorization(), "Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    _assert_code(server, response, codes.IMAGE_TOO_LARGE, status=413)


def test_unknown_path_and_method_keep_the_json_shape(server: Server) -> None:
    _assert_code(server, server.client.get("/ocr/bankcard"), codes.BAD_REQUEST, status=405)
    _assert_code(server, server.client.post("/ocr/idcard"), codes.BAD_REQUEST, status=404)


# --- missing or too many inputs ---------------------------------------------------------------------------------

def test_missing_appid_is_code_minus_1301(server: Server) -> None:
    _assert_code(server, server.post_images([png_bytes()], auth=authorization(), appid=None), codes.PARAMETER_EMPTY)
    response = server.post_json({"bucket": BUCKET, "url": "http://example.com/a.jpg"}, auth=authorization())
    _assert_code(server, response, codes.PARAMETER_EMPTY)


def test_neither_image_nor_url_is_code_18(server: Server) -> None:
    _assert_code(server, server.post_images([], auth=authorization()), codes.NO_IMAGE_OR_URL)
    _assert_code(server, server.post_json({"appid": APPID, "bucket": BUCKET}, auth=authorization()),
                 codes.NO_IMAGE_OR_URL)


def test_empty_url_is_code_17(server: Server) -> None:
    response = server.post_json({"appid": APPID, "bucket": BUCKET, "url": "  "}, auth=authorization())
    _assert_code(server, response, codes.URL_EMPTY)


def test_zero_byte_image_is_code_minus_1300(server: Server) -> None:
    answer = answer_of(server.post_images([b""], auth=authorization()))
    assert answer.code == codes.IMAGE_EMPTY
    assert server.healthy()


def test_animated_gif_is_code_minus_1102(server: Server) -> None:
    answer = answer_of(server.post_images([animated_gif()], auth=authorization()))
    assert answer.code == codes.IMAGE_DECODE_FAILED
    assert "animated" in answer.message


def test_undecodable_image_is_code_minus_1102(server: Server) -> None:
    answer = answer_of(server.post_images([b"\x89PNG\r\n\x1a\n" + b"\x00" * 64], auth=authorization()))
    assert answer.code == codes.IMAGE_DECODE_FAILED


def test_21_images_is_code_19(server: Server) -> None:
    response = server.post_images([b"GIF89a"] * 21, auth=authorization())
    _assert_code(server, response, codes.TOO_MANY_IMAGES)


def test_several_images_answer_an_array_in_order(server: Server) -> None:
    response = server.post_images([b"", animated_gif(), b"not an image"], auth=authorization())
    assert response.status_code == 200
    documents = response.json()
    assert isinstance(documents, list)
    assert [d["code"] for d in documents] == [codes.IMAGE_EMPTY, codes.IMAGE_DECODE_FAILED, codes.IMAGE_DECODE_FAILED]
    assert all(set(d) == {"code", "message", "data"} for d in documents)


# --- observability --------------------------------------------------------------------------------------------

def test_healthz_and_metrics(server: Server) -> None:
    assert server.healthy()
    server.post_images([b""], auth=authorization())
    metrics = server.client.get("/metrics")
    assert metrics.status_code == 200
    assert 'cardpipe_server_requests_total{code="-1300",encoding="multipart/form-data"}' in metrics.text


def test_one_log_line_per_request_without_secrets(server: Server) -> None:
    auth = authorization()
    with structlog.testing.capture_logs() as logs:
        server.post_images([b""], auth=auth)
        server.post_images([b""], auth=authorization(APPID, SECRET_ID, "wrong-key"))
    lines = [entry for entry in logs if entry.get("event") == "ocr_request"]
    assert [line["code"] for line in lines] == [codes.IMAGE_EMPTY, codes.SIGNATURE_FAILED]
    assert all(line["appid"] == APPID and "latency_ms" in line and "bytes" in line for line in lines)
    dumped = json.dumps(logs, default=str)
    assert auth not in dumped and SECRET_KEY not in dumped and "wrong-key" not in dumped


def test_declared_oversize_is_refused_before_any_body_byte_is_sent(server: Server) -> None:
    """The client sends only the headers: an answer can only come if the server never waits for the body."""
    head, body = raw_post(server, f"Content-Type: application/json\r\nContent-Length: {7 * 1024 * 1024}\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert body["code"] == codes.IMAGE_TOO_LARGE
    assert server.healthy()


def test_overlong_fields_are_code_minus_1304(server: Server) -> None:
    long_url = "http://example.com/" + "a" * 5000
    _assert_code(server, server.post_json({"appid": APPID, "bucket": BUCKET, "url": long_url}, auth=authorization()),
                 codes.PARAMETER_TOO_LONG)
    _assert_code(server, server.post_json({"appid": "1" * 2000, "url": "http://example.com/a.jpg"},
                                          auth=authorization()), codes.PARAMETER_TOO_LONG)
