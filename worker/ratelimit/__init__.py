"""Rate limiting for upstream calls, chosen by backend name.

Every upstream call, retries included, takes one token first, so retries count against the quota.

>>> limiter = open_limiter(RateLimitSettings(backend="local", rate=10, burst=10))
>>> limiter.acquire(timeout=0)
True
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from worker.ratelimit.errors import RateLimitUnavailable
from worker.ratelimit.local import TokenBucket, Unlimited
from worker.ratelimit.settings import RateLimitSettings

__all__ = ["RateLimitSettings", "RateLimitUnavailable", "RateLimiter", "TokenBucket", "Unlimited", "open_limiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """Hands out one token per upstream call."""

    def acquire(self, timeout: float | None = None) -> bool:
        """Block until a token is taken (True) or ``timeout`` seconds pass first (False); 0 only tries.

        A shared limiter whose store is unreachable raises :class:`RateLimitUnavailable` instead.
        """
        ...


def open_limiter(settings: RateLimitSettings) -> RateLimiter:
    """The limiter ``settings.backend`` names.

    Parameters:
        settings: backend, rate, burst, and for ``redis`` the URL and key of the shared budget.
    """
    if settings.backend == "none":
        return Unlimited()
    if settings.backend == "redis":
        from worker.ratelimit.redis import RedisGCRA

        return RedisGCRA(settings.redis_url, rate=settings.rate, burst=settings.burst, key=settings.key)
    return TokenBucket(settings.rate, settings.burst)
