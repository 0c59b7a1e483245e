"""BankCardOCR of API 3.0 as an upstream: the vendor's ``ocr.tencentcloudapi.com``, or a ``cardpipe serve``.

The outcome keeps the 3.0 answer as it came (CardNo, BankInfo, ValidDate, CardType, CardName, CardCategory,
WarningCode, QualityValue, RequestId); a failure is a :class:`~worker.api.v3.errors.V3Error` whose 3.0 code
becomes the dead letter's code, or halts the pipeline for ``AuthFailure.*``.

>>> upstream = V3Upstream(UpstreamSettings(url="http://127.0.0.1:8080", protocol="v3",
...                                        secret_id="AKID...", secret_key="..."))        # doctest: +SKIP
>>> upstream.recognize(image_bytes).to_wire()["BankInfo"]                                # doctest: +SKIP
'招商银行(03080000)'
"""

from __future__ import annotations

from worker.api.errors import ConfigError
from worker.api.v3.client import V3Client
from worker.api.v3.schema import BankCardOcrRequest, BankCardOcrResponse
from worker.upstreams.settings import UpstreamSettings


class V3Upstream:
    """Calls BankCardOCR (API 3.0) with one pooled, thread-safe client.

    Parameters:
        settings: endpoint, region, key pair (required: API 3.0 has no unsigned calls), timeouts, pool size.
    """

    name = "v3"

    def __init__(self, settings: UpstreamSettings) -> None:
        secret_id = settings.secret_id.get_secret_value() if settings.secret_id else ""
        secret_key = settings.secret_key.get_secret_value() if settings.secret_key else ""
        if not secret_id or not secret_key:
            raise ConfigError("upstream.protocol v3 needs upstream.secret_id and upstream.secret_key "
                              "(CARDPIPE_UPSTREAM__SECRET_ID / CARDPIPE_UPSTREAM__SECRET_KEY, or their _file keys)")
        self.accepts_urls = settings.send_url_when_public
        checks = settings.quality_checks
        options = BankCardOcrRequest(EnableCopyCheck=checks, EnableReshootCheck=checks, EnableBorderCheck=checks,
                                     EnableQualityValue=checks)
        self.client = V3Client(settings.url, secret_id=secret_id, secret_key=secret_key, region=settings.region,
                               options=options, timeout_s=settings.timeout_s,
                               connect_timeout_s=settings.connect_timeout_s, max_connections=settings.max_connections)

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardOcrResponse:
        """See :meth:`worker.api.v3.client.V3Client.recognize`."""
        return self.client.recognize(image, url=url)

    def close(self) -> None:
        self.client.close()
