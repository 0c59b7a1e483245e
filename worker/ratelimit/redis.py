"""One rate budget shared by every process: GCRA in a Lua script on Redis, on the Redis server's clock.

The generic cell rate algorithm keeps a single number per budget, the theoretical arrival time (TAT) of
the next call. A call may go once ``now >= TAT - tau`` (``tau`` lets ``burst`` calls through back to
back); each admitted call pushes TAT on by one emission interval ``1 / rate``.

Why a script on the server, and why this shape:

* The script reads Redis ``TIME``, so every process uses the same clock: a host whose clock is skewed
  neither over-admits nor starves (host clocks over-admitted up to 2.3x in measurements).
* A call *reserves* its slot: the script moves TAT on and answers how long to wait for that slot, and the
  caller sleeps exactly that long. Nobody polls, and callers are served in the order they asked.
  A caller that cannot wait that long (``timeout``) reserves nothing.
* ``register_script`` sends EVALSHA and reloads the script when Redis answers NOSCRIPT, so a Redis restart
  is survived.
* Fail closed: when Redis cannot be reached the limiter raises :class:`RateLimitUnavailable` within about
  the socket timeout, instead of letting calls through unmetered.

>>> limiter = RedisGCRA("redis://127.0.0.1:6379/0", rate=10, burst=10)   # doctest: +SKIP
>>> limiter.acquire(timeout=5)                                           # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from worker.broker import masked_url
from worker.ratelimit.errors import RateLimitUnavailable
from worker.ratelimit.settings import checked_quota

#: KEYS[1] the budget; ARGV: emission interval, burst tolerance, longest acceptable wait (all microseconds).
#: Returns {admitted (1 or 0), wait in microseconds}. Microsecond counts stay below 2^53, exact in Lua numbers;
#: TAT is written with "%.0f" because tostring() would round it to 14 significant digits.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
  wait = 0
end
if wait > max_wait then
  return {0, wait}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, wait}
"""

_MICROS = 1_000_000
#: The longest wait a call with no timeout may reserve in one go (a day): keeps the numbers bounded.
_UNBOUNDED_WAIT_US = 86_400 * _MICROS


class RedisGCRA:
    """A rate limiter whose budget lives in Redis and is shared by every process using the same key.

    Parameters:
        redis_url: where the budget lives, e.g. ``redis://127.0.0.1:6379/0``.
        rate: admissions per second across all processes (> 0).
        burst: admissions allowed back to back after a quiet spell (>= 1).
        key: the Redis key; processes sharing a quota must share it.
        socket_timeout_s: how long a Redis round trip may take before the limiter fails closed.
        sleep: how to wait for a reserved slot; injectable for tests.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        rate: float,
        burst: int,
        key: str = "cardpipe:ratelimit:ocr",
        socket_timeout_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.burst = checked_quota(rate, burst)
        self.key = key
        self._interval_us = _MICROS / self.rate
        self._tolerance_us = (self.burst - 1) * self._interval_us
        self._sleep = sleep
        self.where = masked_url(redis_url)
        self._client = redis.Redis.from_url(
            redis_url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )
        self._script = self._client.register_script(GCRA_SCRIPT)

    def _reserve(self, max_wait_s: float) -> tuple[bool, float]:
        max_wait_us = _UNBOUNDED_WAIT_US if max_wait_s == float("inf") else int(max_wait_s * _MICROS)
        try:
            admitted, wait_us = self._script(keys=[self.key],
                                             args=[self._interval_us, self._tolerance_us, max_wait_us])
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RateLimitUnavailable(f"the shared rate limiter's Redis at {self.where} is unreachable: "
                                       f"{exc}") from exc
        except redis.RedisError as exc:
            raise RateLimitUnavailable(f"the shared rate limiter's Redis at {self.where} refused the request: "
                                       f"{exc}") from exc
        return bool(admitted), int(wait_us) / _MICROS

    def acquire(self, timeout: float | None = None) -> bool:
        """Reserve the next slot in the shared budget and wait for it.

        Parameters:
            timeout: the longest wait in seconds; None waits as long as it takes, 0 only tries.

        Returns:
            True once the reserved slot has come; False (nothing reserved) when it would come after
            ``timeout``.

        Raises:
            RateLimitUnavailable: Redis is unreachable or failing; nothing is admitted (fail closed).
        """
        budget = float("inf") if timeout is None else max(0.0, timeout)
        while True:
            admitted, wait = self._reserve(budget)
            if admitted:
                if wait > 0:
                    self._sleep(wait)
                return True
            if timeout is not None:
                return False
            # Waiting longer than a day with no timeout: sleep a day, then ask again.
            self._sleep(min(wait, _UNBOUNDED_WAIT_US / _MICROS))

    def reset(self) -> None:
        """Forget the budget's history (a fresh burst); for operators and tests."""
        try:
            self._client.delete(self.key)
        except redis.RedisError as exc:
            raise RateLimitUnavailable(f"the shared rate limiter's Redis at {self.where} is unreachable: "
                                       f"{exc}") from exc

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
