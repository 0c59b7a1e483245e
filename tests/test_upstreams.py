"""Upstreams: dispatch by URL, the legacy upstream over real HTTP, the local recognizer in-process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pydantic import SecretStr, ValidationError

from tests.fakes import FakeUpstream, Reply
from worker.api.errors import ApiError, ConfigError
from worker.api.legacy import codes
from worker.api.legacy.signing import Credential
from worker.upstreams import UpstreamSettings, open_upstream
from worker.upstreams.legacy import LegacyUpstream
from worker.upstreams.local import LocalUpstream

APPID, SECRET_ID, SECRET_KEY = "1250000001", "AKIDupstreamtest", "upstream-test-secret-key"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")


def legacy_settings(url: str, **overrides: object) -> UpstreamSettings:
    values: dict[str, object] = {"url": url, "appid": APPID, "bucket": "cards", "secret_id": SECRET_ID,
                                 "secret_key": SECRET_KEY, "timeout_s": 2.0}
    values.update(overrides)
    return UpstreamSettings.model_validate(values)


def test_settings_validate() -> None:
    assert UpstreamSettings().kind == "local"
    with pytest.raises(ValidationError):
        UpstreamSettings(url="ftp://host/ocr")
    with pytest.raises(ValidationError):
        UpstreamSettings(secret=SECRET_KEY)  # type: ignore[call-arg]
    settings = legacy_settings("http://127.0.0.1:1/ocr/bankcard")
    assert SECRET_KEY not in repr(settings) and SECRET_KEY not in settings.model_dump_json()


def test_legacy_upstream_signs_and_answers() -> None:
    credential = Credential(APPID, SECRET_ID, SECRET_KEY)
    with FakeUpstream(credentials=[credential]) as fake:
        fake.script(b"img", [Reply(code=codes.RATE_LIMITED), Reply(number="6225760000123450")])
        upstream = open_upstream(legacy_settings(fake.url))
        assert isinstance(upstream, LegacyUpstream) and upstream.name == "legacy" and upstream.accepts_urls
        with pytest.raises(ApiError) as caught:
            upstream.recognize(b"img")
        assert caught.value.transient
        assert upstream.recognize(b"img").value("卡号") == "6225760000123450"
        assert upstream.recognize(url="https://images.example/a.jpg").ok
        assert fake.requests[-1].fields["url"] == "https://images.example/a.jpg"
        assert SECRET_KEY not in repr(upstream.client)
        upstream.close()


def test_legacy_upstream_with_a_wrong_key_halts() -> None:
    with FakeUpstream(credentials=[Credential(APPID, SECRET_ID, SECRET_KEY)]) as fake:
        upstream = open_upstream(legacy_settings(fake.url, secret_key="wrong", send_url_when_public=False))
        assert not upstream.accepts_urls
        with pytest.raises(ApiError) as caught:
            upstream.recognize(b"img")
        assert caught.value.code == codes.SIGNATURE_FAILED
        assert caught.value.disposition is codes.Disposition.HALT
        upstream.close()


def test_legacy_upstream_configuration_errors() -> None:
    url = "http://127.0.0.1:1/ocr/bankcard"
    with pytest.raises(ConfigError, match="secret_key"):
        LegacyUpstream(legacy_settings(url, secret_key=None))
    with pytest.raises(ConfigError, match="appid"):
        LegacyUpstream(legacy_settings(url, appid=""))
    unsigned = LegacyUpstream(legacy_settings(url, secret_id=None, secret_key=None))
    assert unsigned.client._signatures is None
    unsigned.close()
    assert isinstance(legacy_settings(url).secret_key, SecretStr)


def luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        number = prefix + check
        total = 0
        for index, char in enumerate(reversed(number)):
            digit = int(char) * (2 if index % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def plain_card(number: str) -> bytes:
    """A clean, flat card face: enough for the recognizer, with no dependency on the card generator."""
    image = Image.new("RGB", (856, 540), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    draw.text((70, 300), " ".join(number[i:i + 4] for i in range(0, len(number), 4)),
              font=ImageFont.truetype(str(FONT), 56), fill=(240, 240, 240))
    draw.text((380, 400), "08/28", font=ImageFont.truetype(str(FONT), 36), fill=(240, 240, 240))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.skipif(not FONT.exists(), reason=f"{FONT} is not installed")
def test_local_upstream_reads_a_card_and_raises_failure_codes() -> None:
    upstream = open_upstream(UpstreamSettings())
    assert isinstance(upstream, LocalUpstream) and upstream.name == "local" and not upstream.accepts_urls
    number = luhn_complete("622576000012345")
    answer = upstream.recognize(plain_card(number))
    assert answer.value("卡号") == number
    assert answer.value("银行信息") == "招商银行(03080000)"
    for image, code in ((b"", codes.IMAGE_EMPTY), (b"not an image at all", codes.IMAGE_DECODE_FAILED)):
        with pytest.raises(ApiError) as caught:
            upstream.recognize(image)
        assert caught.value.code == code and not caught.value.transient
    with pytest.raises(ApiError) as caught:
        upstream.recognize(url="https://images.example/a.jpg")
    assert caught.value.code == codes.INVALID_PARAMETER
    upstream.close()
