"""A thread-safe token bucket for one process.

Threads that find the bucket empty sleep on a condition variable for exactly the time the next token
needs, so nothing spins; the count is taken under the lock, so no interleaving admits more than
``burst + rate * t`` calls in any window of ``t`` seconds.

>>> bucket = TokenBucket(rate=2, burst=1)
>>> bucket.acquire(timeout=0), bucket.acquire(timeout=0)
(True, False)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from worker.ratelimit.settings import checked_quota


class TokenBucket:
    """``burst`` tokens to start, refilled at ``rate`` per second, capped at ``burst``.

    Parameters:
        rate: tokens added per second (> 0).
        burst: the bucket's capacity (>= 1): the longest run of back-to-back admissions.
        clock: a monotonic clock in seconds; injectable so tests can drive time by hand.

    >>> bucket = TokenBucket(rate=10, burst=10)
    >>> bucket.acquire(timeout=1.0)   # blocks at most one second
    True
    """

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = checked_quota(rate, burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._condition = threading.Condition(threading.Lock())

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._updated = now

    def acquire(self, timeout: float | None = None) -> bool:
        """Take one token, waiting for it if needed.

        Parameters:
            timeout: the longest wait in seconds; None waits as long as it takes, 0 only tries.

        Returns:
            True when a token was taken; False when none became available before ``timeout`` passed.
        """
        with self._condition:
            deadline = None if timeout is None else self._clock() + max(0.0, timeout)
            while True:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return True
                needed = (1.0 - self._tokens) / self.rate
                if deadline is not None:
                    remaining = deadline - now
                    if remaining <= 0 or needed > remaining:
                        # The next token comes after the deadline: say no now rather than sleep in vain.
                        return False
                self._condition.wait(needed)

    @property
    def available(self) -> float:
        """Tokens in the bucket now (fractional); for metrics and tests."""
        with self._condition:
            self._refill(self._clock())
            return self._tokens


class Unlimited:
    """The ``none`` backend: every acquire succeeds at once (for upstreams that have no quota)."""

    def acquire(self, timeout: float | None = None) -> bool:
        return True
