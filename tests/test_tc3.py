"""TC3-HMAC-SHA256 as the published algorithm states it: signing steps, the verifier's checks in order, the
clock-skew window and the replay guard."""

from __future__ import annotations

import hashlib

import pytest

from worker.api.legacy.signing import Credential
from worker.api.v3 import codes, tc3
from worker.api.v3.errors import V3Error

CREDENTIAL = Credential("1250000000", "AKIDtest", "secret-key")
NOW = 1764633600  # 2025-12-02 00:00:00 UTC
BODY = b'{"ImageUrl": "https://example.com/card.jpg"}'


def _request(headers: dict[str, str], body: bytes = BODY) -> tc3.SignedRequest:
    lowered = {name.lower(): value for name, value in headers.items()}
    return tc3.SignedRequest(method="POST", uri="/", query="", headers=lowered, payload=body)


def _signed(timestamp: int = NOW, secret_key: str = CREDENTIAL.secret_key, host: str = "127.0.0.1:8080",
            service: str = "ocr") -> dict[str, str]:
    return tc3.sign_headers(secret_id=CREDENTIAL.secret_id, secret_key=secret_key, host=host, service=service,
                            action="BankCardOCR", version="2018-11-19", payload=BODY, timestamp=timestamp)


def _verify(headers: dict[str, str], *, clock: float = NOW, verifier: tc3.Tc3Verifier | None = None,
            body: bytes = BODY) -> Credential:
    verifier = verifier or tc3.Tc3Verifier([CREDENTIAL], clock=lambda: clock)
    parsed = tc3.parse_authorization(headers.get("Authorization"))
    timestamp = verifier.parse_timestamp(headers.get("X-TC-Timestamp"))
    return verifier.verify(_request(headers, body), parsed, timestamp)


def _code(call: object) -> str:
    with pytest.raises(V3Error) as raised:
        call()  # type: ignore[operator]
    return str(raised.value.code)


def test_the_signature_follows_the_published_steps() -> None:
    headers = _signed()
    canonical = "\n".join(["POST", "/", "", "content-type:application/json\nhost:127.0.0.1:8080\n",
                           "content-type;host", hashlib.sha256(BODY).hexdigest()])
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(NOW), "2025-12-02/ocr/tc3_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    expected = tc3.signature(secret_key="secret-key", date="2025-12-02", service="ocr", to_sign=to_sign)
    assert headers["Authorization"] == ("TC3-HMAC-SHA256 Credential=AKIDtest/2025-12-02/ocr/tc3_request, "
                                        f"SignedHeaders=content-type;host, Signature={expected}")
    assert _verify(headers) == CREDENTIAL


def test_five_minutes_of_skew_either_way_and_no_more() -> None:
    assert _verify(_signed(), clock=NOW + 300) == CREDENTIAL
    assert _verify(_signed(), clock=NOW - 300) == CREDENTIAL
    assert _code(lambda: _verify(_signed(), clock=NOW + 301)) == codes.AUTH_SIGNATURE_EXPIRE
    assert _code(lambda: _verify(_signed(), clock=NOW - 301)) == codes.AUTH_SIGNATURE_EXPIRE


def test_each_check_gives_its_code() -> None:
    assert _code(lambda: _verify({**_signed(), "Authorization": "Basic abc"})) == codes.AUTH_INVALID_AUTHORIZATION
    no_host = _signed()["Authorization"].replace("content-type;host", "content-type")
    assert _code(lambda: _verify({**_signed(), "Authorization": no_host})) == codes.AUTH_INVALID_AUTHORIZATION
    assert _code(lambda: _verify({**_signed(), "X-TC-Timestamp": "soon"})) == codes.INVALID_PARAMETER_VALUE
    other = tc3.Tc3Verifier([Credential("1", "AKIDother", "k")], clock=lambda: NOW)
    assert _code(lambda: _verify(_signed(), verifier=other)) == codes.AUTH_SECRET_ID_NOT_FOUND
    assert _code(lambda: _verify(_signed(secret_key="wrong"))) == codes.AUTH_SIGNATURE_FAILURE
    assert _code(lambda: _verify(_signed(service="cvm"))) == codes.AUTH_SIGNATURE_FAILURE
    assert _code(lambda: _verify(_signed(), body=BODY + b" ")) == codes.AUTH_SIGNATURE_FAILURE
    assert _code(lambda: _verify({**_signed(), "Host": "elsewhere:8080"})) == codes.AUTH_SIGNATURE_FAILURE


def test_the_credential_date_must_be_the_timestamps_utc_date() -> None:
    headers = _signed()
    yesterday = headers["Authorization"].replace("2025-12-02", "2025-12-01")
    assert _code(lambda: _verify({**headers, "Authorization": yesterday})) == codes.AUTH_SIGNATURE_FAILURE


def test_header_values_signed_as_sent_or_lower_cased_both_verify() -> None:
    sent = {"content-type": "Application/JSON", "host": "127.0.0.1:8080"}
    for lower in (False, True):
        canonical = tc3.canonical_request(method="POST", uri="/", query="", headers=sent,
                                          signed_headers=("content-type", "host"), payload=BODY, lower_values=lower)
        authorization = tc3.authorization(secret_id=CREDENTIAL.secret_id, secret_key=CREDENTIAL.secret_key,
                                          timestamp=NOW, service="ocr", canonical=canonical,
                                          signed_headers=("content-type", "host"))
        headers = {"Authorization": authorization, "X-TC-Timestamp": str(NOW), "Content-Type": "Application/JSON",
                   "Host": "127.0.0.1:8080"}
        assert _verify(headers) == CREDENTIAL


def test_a_signature_is_accepted_once_unless_forgotten() -> None:
    clock = [float(NOW)]
    verifier = tc3.Tc3Verifier([CREDENTIAL], clock=lambda: clock[0])
    headers = _signed()
    _verify(headers, verifier=verifier, clock=clock[0])
    assert _code(lambda: _verify(headers, verifier=verifier)) == codes.AUTH_SIGNATURE_FAILURE
    verifier.replays.forget(tc3.parse_authorization(headers["Authorization"]).signature)
    assert _verify(headers, verifier=verifier) == CREDENTIAL


def test_the_replay_memory_forgets_what_has_expired_anyway() -> None:
    clock = [0.0]
    guard = tc3.ReplayGuard(window_s=600, clock=lambda: clock[0])
    assert guard.first_use("a") and not guard.first_use("a")
    clock[0] = 601.0
    assert guard.first_use("b")
    assert guard.first_use("a"), "a signature older than the window is refused by its timestamp, not remembered"
