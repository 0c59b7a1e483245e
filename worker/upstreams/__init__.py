"""Upstreams: whatever answers the bank-card API for the pipeline, behind one interface.

``local://`` is the in-process recognizer (the default: no account, no network); an ``http(s)://`` URL is
the legacy API, the vendor's or a ``cardpipe serve`` elsewhere, or with ``protocol: v3`` API 3.0's
BankCardOCR. Every upstream returns only successful answers and raises :class:`~worker.api.errors.ApiError`
for everything else (its 3.0 subclass carries a 3.0 code), so the pipeline decides retry, halt or dead letter
from the code alone.

>>> upstream = open_upstream(UpstreamSettings(url="http://127.0.0.1:8080/ocr/bankcard", appid="1"))
>>> upstream.name
'legacy'
>>> upstream.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from worker.upstreams.settings import UpstreamSettings

if TYPE_CHECKING:
    from worker.recognizer import RecognizerSettings

__all__ = ["Answer", "Upstream", "UpstreamSettings", "open_upstream"]


class Answer(Protocol):
    """A successful answer, in its protocol's own shape: the legacy answer, or API 3.0's Response object."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict the outcome stores."""
        ...


class Upstream(Protocol):
    """Answers the bank-card API for one image.

    Attributes:
        name: ``local``, ``legacy`` or ``v3``, for logs and metrics.
        accepts_urls: whether :meth:`recognize` may be given ``url=`` instead of bytes.
    """

    name: str
    accepts_urls: bool

    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> Answer:
        """The successful answer, or :class:`~worker.api.errors.ApiError` with the code (transient or not)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_upstream(settings: UpstreamSettings, *,
                  recognizer_settings: RecognizerSettings | None = None) -> Upstream:
    """The upstream ``settings.url`` names.

    Parameters:
        settings: ``local://`` or the API's URL and protocol, with appid or region, keys and timeouts.
        recognizer_settings: for ``local://``, the recognizer's settings (models load on first use).
    """
    if settings.kind == "local":
        from worker.upstreams.local import LocalUpstream

        return LocalUpstream(recognizer_settings)
    if settings.kind == "v3":
        from worker.upstreams.v3 import V3Upstream

        return V3Upstream(settings)
    from worker.upstreams.legacy import LegacyUpstream

    return LegacyUpstream(settings)
