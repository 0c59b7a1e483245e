"""Settings for the rate limiter that guards every upstream call.

The quota belongs to the API account, not to one process: with many workers the ``redis`` backend shares
one budget between them; ``local`` suits a single process; ``none`` is for upstreams with no quota (the
in-process recognizer).

>>> RateLimitSettings(backend="redis", rate=20, burst=20).key
'cardpipe:ratelimit:ocr'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RateLimitSettings(BaseModel):
    """How fast upstream calls may go.

    Parameters:
        backend: ``local`` (a token bucket in this process), ``redis`` (one GCRA budget shared by every
            process that uses the same ``redis_url`` and ``key``) or ``none`` (no limit).
        rate: tokens per second; the API quota (the vendor's default is 10/s).
        burst: how many calls may go back to back after a quiet spell.
        redis_url: the Redis holding the shared budget (``redis`` backend only).
        key: the Redis key of the budget; workers sharing a quota share the key.
        acquire_timeout_s: the longest a call waits for a token before the caller gives up.
        unreachable_exit_s: how long the shared limiter's Redis may stay unreachable (no call is made
            meanwhile) before the worker stops with exit code 6.
    """

    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "redis", "none"] = "local"
    rate: float = Field(default=10.0, gt=0)
    burst: int = Field(default=10, ge=1)
    redis_url: str = "redis://127.0.0.1:6379/0"
    key: str = Field(default="cardpipe:ratelimit:ocr", min_length=1)
    acquire_timeout_s: float = Field(default=300.0, ge=0)
    unreachable_exit_s: float = Field(default=30.0, gt=0)


def checked_quota(rate: float, burst: int) -> tuple[float, int]:
    """Validate a quota for a limiter built without settings (tests, the server's per-appid buckets)."""
    if not rate > 0:
        raise ValueError(f"rate must be > 0 tokens per second, got {rate}")
    if burst < 1:
        raise ValueError(f"burst must be >= 1, got {burst}")
    return float(rate), int(burst)
