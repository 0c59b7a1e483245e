"""The legacy bank-card API over HTTP as an upstream (the vendor, or another host's ``cardpipe serve``).

>>> upstream = LegacyUpstream(UpstreamSettings(url="http://127.0.0.1:8080/ocr/bankcard", appid="1"))  # doctest: +SKIP
>>> upstream.recognize(image_bytes).value("银行信息")                                                 # doctest: +SKIP
'招商银行(03080000)'
"""

from __future__ import annotations

from worker.api.errors import ConfigError
from worker.api.legacy.client import LegacyClient
from worker.api.legacy.schema import BankCardResponse
from worker.api.legacy.signing import Credential
from worker.upstreams.settings import UpstreamSettings


def credential_of(settings: UpstreamSettings) -> Credential | None:
    """The key pair from the settings; both halves or neither, since half a key pair signs nothing."""
    secret_id = settings.secret_id.get_secret_value() if settings.secret_id else ""
    secret_key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if bool(secret_id) != bool(secret_key):
        missing = "secret_key" if secret_id else "secret_id"
        raise ConfigError(f"upstream.{missing} is missing: give both secret_id and secret_key, or neither")
    if not secret_id:
        return None
    if not settings.appid:
        raise ConfigError("upstream.appid is required to sign requests")
    return Credential(appid=settings.appid, secret_id=secret_id, secret_key=secret_key)


class LegacyUpstream:
    """Calls the legacy API with one pooled, thread-safe client.

    Parameters:
        settings: endpoint, appid, bucket, key pair, timeouts, pool size.
    """

    name = "legacy"

    def __init__(self, settings: UpstreamSettings) -> None:
        if not settings.appid:
            raise ConfigError("upstream.appid is required for an http(s) upstream")
        self.accepts_urls = settings.send_url_when_public
        self.client = LegacyClient(
            settings.url, appid=settings.appid, bucket=settings.bucket, credential=credential_of(settings),
            signature_ttl_s=settings.signature_ttl_s, timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s, max_connections=settings.max_connections,
        )

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardResponse:
        """See :meth:`worker.api.legacy.client.LegacyClient.recognize`."""
        return self.client.recognize(image, url=url)

    def close(self) -> None:
        self.client.close()
