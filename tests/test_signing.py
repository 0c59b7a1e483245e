"""The legacy signature against the published test vectors and every real client's variant."""

from __future__ import annotations

import base64

import pytest

from worker.api.errors import ApiError
from worker.api.legacy import codes, signing

KEY_A = "nwOKDouy5JctNOlnere4gkVoOUz5EYAb"
KEY_B = "bLcPnl88WU30VY57ipRhSePfPdOfSruK"

VECTORS = [
    (KEY_A,
     "a=1252821871&b=tencentyun&k=AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK&e=1438669115&t=1436077115&r=11162&u=0&f=",
     "p2Y5iIYyBmQNfUvPe3e1sxEN/rZhPTEyNTI4MjE4NzEmYj10ZW5jZW50eXVuJms9QUtJRGdhb09ZaDJrT21KZldWZEg0bHBmeFNjRzJ6UExQR29LJmU9MTQzODY2OTExNSZ0PTE0MzYwNzcxMTUmcj0xMTE2MiZ1PTAmZj0="),
    (KEY_A,
     "a=1252821871&b=tencentyun&k=AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK&e=1438669115&t=1436077115&r=11162&u=0&f=tencentyunSignTest",
     "Tt9IYBG4j1TpO/9M6M9TokVJrKhhPTEyNTI4MjE4NzEmYj10ZW5jZW50eXVuJms9QUtJRGdhb09ZaDJrT21KZldWZEg0bHBmeFNjRzJ6UExQR29LJmU9MTQzODY2OTExNSZ0PTE0MzYwNzcxMTUmcj0xMTE2MiZ1PTAmZj10ZW5jZW50eXVuU2lnblRlc3Q="),
    (KEY_A,
     "a=1252821871&b=tencentyun&k=AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK&e=0&t=1436077115&r=11162&u=0&f=tencentyunSignTest",
     "ewXflzgpQON2bmrX6uJ5Yr0zuOphPTEyNTI4MjE4NzEmYj10ZW5jZW50eXVuJms9QUtJRGdhb09ZaDJrT21KZldWZEg0bHBmeFNjRzJ6UExQR29LJmU9MCZ0PTE0MzYwNzcxMTUmcj0xMTE2MiZ1PTAmZj10ZW5jZW50eXVuU2lnblRlc3Q="),
    (KEY_B,
     "a=200001&b=newbucket&k=AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv&e=1437995704&t=1437995644&r=2081660421&f=",
     "wHgvVkXpcZ3d+G0rOkAJml3R5NdhPTIwMDAwMSZiPW5ld2J1Y2tldCZrPUFLSURVZkxVRVVpZ1FpWHFtN0NWU3NwS0pudWFpSUt0eHFBdiZlPTE0Mzc5OTU3MDQmdD0xNDM3OTk1NjQ0JnI9MjA4MTY2MDQyMSZmPQ=="),
    (KEY_B,
     "a=200001&b=newbucket&k=AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv&e=1470737000&t=1470736940&r=490258943&f=",
     "v6+um3VE3lxGz97PmnSg6+/V9PZhPTIwMDAwMSZiPW5ld2J1Y2tldCZrPUFLSURVZkxVRVVpZ1FpWHFtN0NWU3NwS0pudWFpSUt0eHFBdiZlPTE0NzA3MzcwMDAmdD0xNDcwNzM2OTQwJnI9NDkwMjU4OTQzJmY9"),
]

CRED_A = signing.Credential("1252821871", "AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK", KEY_A)
CRED_B = signing.Credential("200001", "AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv", KEY_B)


@pytest.mark.parametrize(("key", "plaintext", "expected"), VECTORS)
def test_published_vectors_sign_byte_for_byte(key: str, plaintext: str, expected: str) -> None:
    assert signing.sign_plaintext(plaintext, key) == expected


def test_sign_builds_the_official_plaintext() -> None:
    auth = signing.sign(CRED_A.appid, CRED_A.secret_id, KEY_A, bucket="tencentyun", now=1436077115,
                        ttl=1438669115 - 1436077115, nonce=11162)
    assert auth == VECTORS[0][2]


@pytest.mark.parametrize(("key", "plaintext", "expected"), [v for v in VECTORS if "&e=0&" not in v[1]])
def test_published_multi_vectors_verify_at_their_signing_time(key: str, plaintext: str, expected: str) -> None:
    now = float(signing.parse(expected).fields["t"])
    verifier = signing.Verifier([CRED_A, CRED_B], clock=lambda: now)
    fields = signing.parse(expected).fields
    assert verifier.verify(expected, appid=fields["a"], bucket=fields["b"]).secret_id == fields["k"]


def _variant(cred: signing.Credential, plaintext: str) -> str:
    return signing.sign_plaintext(plaintext, cred.secret_key)


@pytest.mark.parametrize(
    "template",
    [
        "a={a}&b=bkt&k={k}&e={e}&t={t}&r=123&f=",  # official Python SDK, no u
        "a={a}&b=bkt&k={k}&t={t}&e={e}",  # official Java SDK: t before e, no r/u/f
        "a={a}&k={k}&e={e}&t={t}&r=77&f=&b=bkt",  # b last
        "a={a}&k={k}&e={e}.25&t={t}.5&r=9",  # no b, no f, float times
    ],
)
def test_every_real_client_variant_verifies(template: str) -> None:
    now = 1_700_000_000
    text = template.format(a=CRED_A.appid, k=CRED_A.secret_id, e=now + 600, t=now)
    verifier = signing.Verifier([CRED_A], clock=lambda: now + 1)
    assert verifier.verify(_variant(CRED_A, text), appid=CRED_A.appid, bucket="bkt") == CRED_A


def _code(verifier: signing.Verifier, auth: str | None, appid: str = CRED_A.appid, bucket: str | None = None) -> int:
    with pytest.raises(ApiError) as info:
        verifier.verify(auth, appid=appid, bucket=bucket)
    return info.value.code


def test_each_failure_has_its_code() -> None:
    now = 1_700_000_000
    verifier = signing.Verifier([CRED_A, CRED_B], clock=lambda: now)
    good = signing.sign(CRED_A.appid, CRED_A.secret_id, KEY_A, now=now, ttl=60)
    assert _code(verifier, None) == codes.SIGNATURE_EMPTY
    assert _code(verifier, "") == codes.SIGNATURE_EMPTY
    assert _code(verifier, "!!not base64!!") == codes.SIGNATURE_INVALID
    assert _code(verifier, base64.b64encode(b"short").decode()) == codes.SIGNATURE_INVALID
    assert _code(verifier, base64.b64encode(b"x" * 20 + b"garbage").decode()) == codes.SIGNATURE_INVALID
    assert _code(verifier, good, appid=CRED_B.appid) == codes.APPID_BUCKET_URL_MISMATCH
    unknown_app = signing.sign("999", CRED_A.secret_id, KEY_A, now=now)
    assert _code(verifier, unknown_app, appid="999") == codes.APPID_UNKNOWN
    unknown_id = signing.sign(CRED_A.appid, "AKIDnope", KEY_A, now=now)
    assert _code(verifier, unknown_id) == codes.SECRET_ID_UNKNOWN
    foreign_id = signing.sign(CRED_A.appid, CRED_B.secret_id, KEY_B, now=now)
    assert _code(verifier, foreign_id) == codes.APPID_MISMATCH
    wrong_key = signing.sign(CRED_A.appid, CRED_A.secret_id, KEY_B, now=now)
    assert _code(verifier, wrong_key) == codes.SIGNATURE_FAILED
    expired = signing.sign(CRED_A.appid, CRED_A.secret_id, KEY_A, now=now - 120, ttl=60)
    assert _code(verifier, expired) == codes.SIGNATURE_EXPIRED
    bucketed = signing.sign(CRED_A.appid, CRED_A.secret_id, KEY_A, bucket="one", now=now)
    assert _code(verifier, bucketed, bucket="two") == codes.APPID_BUCKET_URL_MISMATCH


def test_one_time_signature_is_accepted_once() -> None:
    verifier = signing.Verifier([CRED_A], clock=lambda: 1436077115)
    one_time = VECTORS[2][2]
    assert verifier.verify(one_time, appid=CRED_A.appid) == CRED_A
    assert _code(verifier, one_time) == codes.REPLAY_ATTACK


def test_credential_repr_hides_the_secret() -> None:
    assert KEY_A not in repr(CRED_A)
