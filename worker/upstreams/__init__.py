"""Upstreams: whatever answers the bank-card API for the pipeline, behind one interface.

``local://`` is the in-process recognizer (the default: no account, no network); an ``http(s)://`` URL is
the legacy API, the vendor's or a ``cardpipe serve`` elsewhere. Every upstream returns only code-0
answers and raises :class:`~worker.api.errors.ApiError` for everything else, so the pipeline decides
retry, halt or dead letter from the code alone.

>>> upstream = open_upstream(UpstreamSettings(url="http://127.0.0.1:8080/ocr/bankcard", appid="1"))
>>> upstream.name
'legacy'
>>> upstream.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from worker.api.legacy.schema import BankCardResponse
from worker.upstreams.settings import UpstreamSettings

if TYPE_CHECKING:
    from worker.recognizer import RecognizerSettings

__all__ = ["Upstream", "UpstreamSettings", "open_upstream"]


class Upstream(Protocol):
    """Answers the bank-card API for one image.

    Attributes:
        name: ``local`` or ``legacy``, for logs and metrics.
        accepts_urls: whether :meth:`recognize` may be given ``url=`` instead of bytes.
    """

    name: str
    accepts_urls: bool

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardResponse:
        """The code-0 answer, or :class:`~worker.api.errors.ApiError` with the code (transient or not)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_upstream(settings: UpstreamSettings, *,
                  recognizer_settings: RecognizerSettings | None = None) -> Upstream:
    """The upstream ``settings.url`` names.

    Parameters:
        settings: ``local://`` or the legacy API's URL, with appid, keys and timeouts.
        recognizer_settings: for ``local://``, the recognizer's settings (models load on first use).
    """
    if settings.kind == "local":
        from worker.upstreams.local import LocalUpstream

        return LocalUpstream(recognizer_settings)
    from worker.upstreams.legacy import LegacyUpstream

    return LegacyUpstream(settings)
