"""What every request handler shares: settings, verifiers for both protocols, limits, the pool, the recognizer.

It is built once at start-up; the recognizer, pool and download client are filled in by the ASGI lifespan,
and a handler refuses work until :attr:`ServerState.ready`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker.api.legacy import signing
from worker.api.legacy.schema import BankCardResponse
from worker.api.server.fetch import ImageFetcher
from worker.api.server.limits import AppidRateLimits
from worker.api.server.pool import RecognitionPool
from worker.api.server.settings import ServeSettings
from worker.api.v3.tc3 import Tc3Verifier


class RecognizesCards(Protocol):
    """What the server needs from a recognizer (:class:`worker.recognizer.Recognizer` is one)."""

    def recognize(self, data: bytes, *, session_id: str | None = None) -> BankCardResponse: ...


@dataclass
class ServerState:
    """Everything a request needs, built once at start-up.

    Attributes:
        verifier: the legacy multi-effective signature's verifier.
        tc3: API 3.0's TC3-HMAC-SHA256 verifier, over the same credentials.
        pending: requests in progress, both protocols together.
    """

    settings: ServeSettings
    verifier: signing.Verifier
    tc3: Tc3Verifier
    limits: AppidRateLimits
    recognizer: RecognizesCards | None = None
    pool: RecognitionPool | None = None
    fetcher: ImageFetcher | None = None
    pending: int = 0

    @property
    def ready(self) -> bool:
        return self.recognizer is not None and self.pool is not None and self.fetcher is not None
