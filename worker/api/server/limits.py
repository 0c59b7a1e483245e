"""The per-appid request rate: one token bucket for each known appid.

Buckets exist only for appids that hold a credential, and a request reaches this check only after its
signature verified, so a flood of made-up appids can neither create buckets nor spend a real appid's tokens.
Each request costs one token whatever its number of images; the pool bounds the CPU a single request uses.

>>> limits = AppidRateLimits(["1252821871"], rate=10.0, burst=2)
>>> limits.admit("1252821871"); limits.admit("1252821871")
>>> limits.admit("1252821871")
Traceback (most recent call last):
...
worker.api.errors.ApiError: [15] appid 1252821871 is over its rate of 10 requests/s (burst 2)
"""

from __future__ import annotations

from collections.abc import Iterable

from worker.api.errors import ApiError
from worker.api.legacy import codes
from worker.ratelimit.local import TokenBucket


class AppidRateLimits:
    """Token buckets keyed by appid.

    Parameters:
        appids: every appid that may call (those with a credential).
        rate: tokens added per second to each bucket.
        burst: a bucket's capacity.
    """

    def __init__(self, appids: Iterable[str], *, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = burst
        self._buckets = {appid: TokenBucket(rate, burst) for appid in set(appids)}

    def admit(self, appid: str) -> None:
        """Take one token for ``appid``; raise :class:`ApiError` 15 when its bucket is empty."""
        bucket = self._buckets.get(appid)
        if bucket is None:
            raise ApiError(codes.APPID_UNKNOWN)
        if not bucket.acquire(timeout=0):
            raise ApiError(codes.RATE_LIMITED,
                           f"appid {appid} is over its rate of {self._rate:g} requests/s (burst {self._burst})")
