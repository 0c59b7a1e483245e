"""``cardpipe serve`` as API 3.0's BankCardOCR, called by the vendor's own Python SDK (unmodified) on loopback,
and our TC3 signature checked against the SDK's signing code."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.test_server_harness import (
    OTHER_APPID,
    OTHER_SECRET_ID,
    OTHER_SECRET_KEY,
    SECRET_ID,
    SECRET_KEY,
    Server,
    generated_cards,
    serving,
    static_site,
)
from worker.api.legacy.codes import Disposition
from worker.api.server.settings import CREDENTIALS_ENV, ServeSettings, load_credentials
from worker.api.v3 import codes
from worker.api.v3.client import V3Client
from worker.api.v3.errors import V3Error

pytest.importorskip("tencentcloud.ocr", reason="needs tencentcloud-sdk-python-ocr (the test extra)")
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ocr.v20181119 import errorcodes, models, ocr_client

REGION = "ap-guangzhou"


@pytest.fixture(scope="module")
def cards() -> tuple[tuple[bytes, dict[str, Any]], ...]:
    return generated_cards(2)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving(ServeSettings(allow_private_urls=True, rate_per_appid=1000, burst_per_appid=1000)) as running:
        yield running


def sdk_client(server: Server, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY) -> ocr_client.OcrClient:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=server.base_url.removeprefix("http://"),
                                                    reqTimeout=120))
    return ocr_client.OcrClient(credential.Credential(secret_id, secret_key), REGION, profile)


def bank_card_ocr(client: ocr_client.OcrClient, **fields: Any) -> models.BankCardOCRResponse:
    request = models.BankCardOCRRequest()
    request.from_json_string(json.dumps(fields))
    return client.BankCardOCR(request)


def test_sdk_reads_a_card_from_image_base64_with_the_quality_fields(server: Server, cards: Any) -> None:
    data, label = cards[0]
    answer = bank_card_ocr(sdk_client(server), ImageBase64=base64.b64encode(data).decode(), RetBorderCutImage=True,
                           RetCardNoImage=True, EnableQualityValue=True, EnableCopyCheck=True,
                           EnableReshootCheck=True, EnableBorderCheck=True)
    assert answer.CardNo == label["number"]
    assert answer.BankInfo == label["bank"]
    assert answer.ValidDate == (label["valid_date"] or "")
    assert answer.CardType and answer.CardName == label["card_name"]
    assert answer.RequestId
    assert isinstance(answer.WarningCode, list) and -9113 not in answer.WarningCode
    assert 0 <= answer.QualityValue <= 100
    for crop in (answer.BorderCutImage, answer.CardNoImage):
        image = Image.open(io.BytesIO(base64.b64decode(crop)))
        assert image.format == "JPEG" and image.width > image.height


def test_sdk_reads_a_card_from_image_url(server: Server, cards: Any) -> None:
    data, label = cards[1]
    with static_site({"/card.jpg": data}) as site:
        answer = bank_card_ocr(sdk_client(server), ImageUrl=f"{site}/card.jpg")
    assert answer.CardNo == label["number"]
    assert answer.BankInfo == label["bank"]
    assert answer.QualityValue is None and answer.BorderCutImage is None


def test_sdk_with_a_wrong_key_raises_an_auth_failure(server: Server, cards: Any) -> None:
    image = base64.b64encode(cards[0][0]).decode()
    with pytest.raises(TencentCloudSDKException) as wrong_key:
        bank_card_ocr(sdk_client(server, secret_key="not-the-key"), ImageBase64=image)
    assert wrong_key.value.get_code() == codes.AUTH_SIGNATURE_FAILURE
    assert wrong_key.value.get_request_id()
    with pytest.raises(TencentCloudSDKException) as unknown_id:
        bank_card_ocr(sdk_client(server, secret_id="AKIDunknown"), ImageBase64=image)
    assert unknown_id.value.get_code() == codes.AUTH_SECRET_ID_NOT_FOUND


def test_sdk_sees_a_recognition_failure_as_a_product_code(server: Server) -> None:
    with pytest.raises(TencentCloudSDKException) as failure:
        bank_card_ocr(sdk_client(server), ImageBase64=base64.b64encode(b"this is not an image").decode())
    assert failure.value.get_code() == codes.IMAGE_DECODE_FAILED


def test_our_signature_equals_the_sdks_for_the_same_request_and_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    from tencentcloud.common import abstract_client
    from tencentcloud.common.http.request import RequestInternal

    timestamp = 1764633600  # 2025-12-02 00:00:00 UTC
    monkeypatch.setattr(abstract_client.time, "time", lambda: float(timestamp))
    host = "ocr.tencentcloudapi.com"
    client = ocr_client.OcrClient(credential.Credential(SECRET_ID, SECRET_KEY), REGION,
                                  ClientProfile(httpProfile=HttpProfile(endpoint=host)))
    params = {"ImageBase64": base64.b64encode(b"\xff\xd8\xff card").decode(), "EnableQualityValue": True}
    sdk_request = RequestInternal(host, "POST", "/")
    client._build_req_with_tc3_signature("BankCardOCR", params, sdk_request)

    ours = V3Client(f"https://{host}", secret_id=SECRET_ID, secret_key=SECRET_KEY, region=REGION)
    headers = ours.signed_headers(sdk_request.data.encode(), timestamp=timestamp)
    assert headers["Authorization"] == sdk_request.header["Authorization"]
    for name in ("X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "X-TC-Region", "Content-Type", "Host"):
        assert headers[name] == sdk_request.header[name], name
    ours.close()


def test_every_code_we_emit_is_the_sdks_or_a_published_common_code() -> None:
    """BankCardOCR's own codes are in the SDK's ocr errorcodes module; the common codes (AuthFailure.*,
    InvalidAction, ...) apply to every 3.0 API and are published in the common error code table instead."""
    sdk_codes = {value for name, value in vars(errorcodes).items() if name.isupper() and isinstance(value, str)}
    assert sdk_codes >= codes.PRODUCT_CODES, codes.PRODUCT_CODES - sdk_codes
    defined = {value for name, value in vars(codes).items() if name.isupper() and isinstance(value, str)}
    assert defined == codes.PRODUCT_CODES | codes.COMMON_CODES
    assert set(codes.MESSAGES) == defined


def _headers_for(server: Server, body: bytes, *, timestamp: int | None = None,
                 secret: tuple[str, str] = (SECRET_ID, SECRET_KEY)) -> dict[str, str]:
    """The headers our client signs ``body`` with for ``server`` (httpx supplies the Host it signed)."""
    with V3Client(server.base_url, secret_id=secret[0], secret_key=secret[1], region=REGION) as client:
        signed = client.signed_headers(body, timestamp=int(time.time()) if timestamp is None else timestamp)
    signed.pop("Host")
    return signed


def _signed_post(server: Server, body: bytes, *, headers: dict[str, str] | None = None,
                 timestamp: int | None = None, secret: tuple[str, str] = (SECRET_ID, SECRET_KEY)) -> dict[str, Any]:
    signed = {**_headers_for(server, body, timestamp=timestamp, secret=secret), **(headers or {})}
    response = server.client.post("/", content=body, headers=signed)
    assert response.status_code == 200, response.text
    document = response.json()
    assert set(document) == {"Response"} and document["Response"]["RequestId"]
    return document["Response"]


def _error_code(answer: dict[str, Any]) -> str:
    return answer["Error"]["Code"]


@pytest.mark.parametrize(("body", "code"), [
    (b'{"ImageBase64": "not base64!"}', codes.IMAGE_DECODE_FAILED),
    (b"{}", codes.MISSING_PARAMETER),
    (b'{"ImageBase64": ""}', codes.MISSING_PARAMETER),
    (b'{"ImageBase64": "aGk=", "Colour": 1}', codes.UNKNOWN_PARAMETER),
    (b'{"ImageBase64": 12}', codes.INVALID_PARAMETER),
    (b'{"ImageBase64": "aGk=", "EnableCopyCheck": "yes"}', codes.INVALID_PARAMETER),
    (b"[1, 2]", codes.INVALID_PARAMETER),
    (b"{not json", codes.INVALID_PARAMETER),
])
def test_bad_bodies_answer_the_3_0_error(server: Server, body: bytes, code: str) -> None:
    assert _error_code(_signed_post(server, body)) == code


@pytest.mark.parametrize(("headers", "code"), [
    ({"X-TC-Action": "GeneralBasicOCR"}, codes.INVALID_ACTION),
    ({"X-TC-Version": "2017-03-12"}, codes.NO_SUCH_VERSION),
    ({"X-TC-Action": ""}, codes.MISSING_PARAMETER),
    ({"Authorization": "TC3-HMAC-SHA256 nonsense"}, codes.AUTH_INVALID_AUTHORIZATION),
    ({"Content-Type": "text/plain"}, codes.INVALID_PARAMETER),
])
def test_bad_headers_answer_the_3_0_error(server: Server, headers: dict[str, str], code: str) -> None:
    assert _error_code(_signed_post(server, b'{"ImageBase64": "aGk="}', headers=headers)) == code


def test_a_timestamp_outside_five_minutes_is_signature_expire(server: Server) -> None:
    for skew in (-301, 301):
        answer = _signed_post(server, b'{"ImageBase64": "aGk="}', timestamp=int(time.time()) + skew)
        assert _error_code(answer) == codes.AUTH_SIGNATURE_EXPIRE
    within = _signed_post(server, b'{"ImageBase64": "aGk="}', timestamp=int(time.time()) - 200)
    assert _error_code(within) == codes.IMAGE_DECODE_FAILED, "four minutes of skew are allowed"


def test_a_replayed_request_is_refused(server: Server) -> None:
    body = b'{"ImageBase64": "aGVsbG8="}'
    headers = _headers_for(server, body)
    first = server.client.post("/", content=body, headers=headers).json()["Response"]
    assert _error_code(first) == codes.IMAGE_DECODE_FAILED
    replay = server.client.post("/", content=body, headers=headers).json()["Response"]
    assert _error_code(replay) == codes.AUTH_SIGNATURE_FAILURE and "replay" in replay["Error"]["Message"]


def test_image_url_wins_over_image_base64(server: Server, cards: Any) -> None:
    data, label = cards[0]
    with static_site({"/card.jpg": data}) as site:
        body = json.dumps({"ImageBase64": "bm90IGFuIGltYWdl", "ImageUrl": f"{site}/card.jpg"}).encode()
        answer = _signed_post(server, body)
    assert answer["CardNo"] == label["number"]


def test_an_oversized_body_is_request_size_limit_exceeded_and_readable(server: Server) -> None:
    body = json.dumps({"ImageBase64": "A" * (7 * 1024 * 1024)}).encode()
    answer = _signed_post(server, body)
    assert _error_code(answer) == codes.REQUEST_SIZE_LIMIT_EXCEEDED
    assert server.healthy()


def test_get_and_unsigned_requests_answer_the_3_0_envelope(server: Server) -> None:
    got = server.client.get("/").json()["Response"]
    assert _error_code(got) == codes.UNSUPPORTED_OPERATION
    unsigned = server.client.post("/", content=b"{}", headers={
        "X-TC-Action": "BankCardOCR", "X-TC-Version": "2018-11-19", "Content-Type": "application/json"})
    assert _error_code(unsigned.json()["Response"]) == codes.AUTH_INVALID_AUTHORIZATION


def test_the_legacy_credential_store_signs_for_api_3_0() -> None:
    """``appid:secretid:secretkey`` entries serve both protocols; a SecretId not among them is not found."""
    entry = f"{OTHER_APPID}:{OTHER_SECRET_ID}:{OTHER_SECRET_KEY}"
    with serving(ServeSettings(), credentials=load_credentials(ServeSettings(), {CREDENTIALS_ENV: entry})) as other:
        unknown = _signed_post(other, b'{"ImageBase64": "aGk="}')
        known = _signed_post(other, b'{"ImageBase64": "aGk="}', secret=(OTHER_SECRET_ID, OTHER_SECRET_KEY))
    assert _error_code(unknown) == codes.AUTH_SECRET_ID_NOT_FOUND
    assert _error_code(known) == codes.IMAGE_DECODE_FAILED


def test_v3_client_maps_answers_to_errors(server: Server) -> None:
    client = V3Client(server.base_url, secret_id=SECRET_ID, secret_key="wrong")
    with pytest.raises(V3Error) as raised:
        client.recognize(b"\xff\xd8\xff not really")
    error = raised.value
    assert isinstance(error, V3Error)
    assert error.code == codes.AUTH_SIGNATURE_FAILURE and error.disposition is Disposition.HALT
    client.close()


def test_image_url_keeps_the_request_forgery_guard(cards: Any) -> None:
    with static_site({"/card.jpg": cards[0][0]}) as site, serving(ServeSettings()) as guarded:
        answer = _signed_post(guarded, json.dumps({"ImageUrl": f"{site}/card.jpg"}).encode())
    assert _error_code(answer) == codes.DOWNLOAD_ERROR and "loopback" in answer["Error"]["Message"]


def test_a_request_answered_try_again_may_be_resent_as_is() -> None:
    with serving(ServeSettings(rate_per_appid=2.0, burst_per_appid=1)) as limited:
        first = _signed_post(limited, b'{"ImageBase64": "aGk="}')
        assert _error_code(first) == codes.IMAGE_DECODE_FAILED
        body = b'{"ImageBase64": "aGVsbG8="}'
        headers = _headers_for(limited, body)
        throttled = limited.client.post("/", content=body, headers=headers).json()["Response"]
        assert _error_code(throttled) == codes.REQUEST_LIMIT_EXCEEDED
        time.sleep(0.6)
        resent = limited.client.post("/", content=body, headers=headers).json()["Response"]
        assert _error_code(resent) == codes.IMAGE_DECODE_FAILED, "a throttled request is not a replay"
