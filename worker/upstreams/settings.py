"""Settings for the upstream that answers the bank-card API.

>>> UpstreamSettings().url
'local://'
>>> UpstreamSettings(url="http://127.0.0.1:8080/ocr/bankcard", appid="1250000000").kind
'legacy'
>>> UpstreamSettings(url="https://ocr.tencentcloudapi.com", protocol="v3", region="ap-guangzhou").kind
'v3'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from worker.api.legacy.signing import MAX_TTL_SECONDS

LOCAL_URL = "local://"


class UpstreamSettings(BaseModel):
    """Which upstream to call and how.

    Parameters:
        url: ``local://`` for the in-process recognizer; an ``http(s)://.../ocr/bankcard`` URL for the legacy
            API (the vendor's ``http://recognition.image.myqcloud.com/ocr/bankcard``, or ``cardpipe serve``);
            with ``protocol: v3``, the API 3.0 endpoint (``https://ocr.tencentcloudapi.com``, or
            ``http://host:port`` of ``cardpipe serve``).
        protocol: ``legacy`` (the default) or ``v3`` (BankCardOCR of API 3.0, TC3-HMAC-SHA256 signatures).
        region: API 3.0's ``X-TC-Region`` (e.g. ``ap-guangzhou``); v3 only.
        quality_checks: v3 only: ask for the copy, re-shoot and border warnings and the quality score, so each
            result keeps WarningCode and QualityValue.
        appid, bucket: sent in every request body and signed (legacy only).
        secret_id, secret_key: the API key pair; set them from the environment or a file, never in YAML.
        signature_ttl_s: lifetime of each signature; it is renewed after 80% of it.
        timeout_s, connect_timeout_s: the longest one call may take, from connecting to its whole answer, and
            the longest its connect may take.
        max_connections: HTTP connections kept open; at least the number of worker threads.
        send_url_when_public: send ``http(s)://`` image locations as ``{"url": ...}`` and let the API fetch
            them, instead of downloading and uploading the bytes.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = LOCAL_URL
    protocol: Literal["legacy", "v3"] = "legacy"
    region: str = ""
    quality_checks: bool = True
    appid: str = ""
    bucket: str = ""
    secret_id: SecretStr | None = None
    secret_key: SecretStr | None = None
    signature_ttl_s: int = Field(default=3600, ge=60, le=MAX_TTL_SECONDS)
    timeout_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    max_connections: int = Field(default=32, ge=1)
    send_url_when_public: bool = True

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        value = value.strip()
        if value != LOCAL_URL and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"upstream url must be {LOCAL_URL!r} or an http(s):// URL, got {value!r}")
        return value

    @property
    def kind(self) -> Literal["local", "legacy", "v3"]:
        """``local`` for the in-process recognizer, else the protocol spoken to the HTTP endpoint."""
        return "local" if self.url == LOCAL_URL else self.protocol
