"""Rate limiters: the local token bucket on a hand-driven clock, and the shared GCRA on the real Redis."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from typing import Any

import pytest
import redis

from worker.ratelimit import RateLimitSettings, RateLimitUnavailable, TokenBucket, Unlimited, open_limiter
from worker.ratelimit.redis import RedisGCRA


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def take_all(bucket: TokenBucket) -> int:
    taken = 0
    while bucket.acquire(timeout=0):
        taken += 1
    return taken


def test_bucket_admits_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert take_all(bucket) == 5
    clock.advance(0.1)
    assert take_all(bucket) == 1
    clock.advance(0.35)
    assert take_all(bucket) == 3
    assert bucket.available == pytest.approx(0.5)


def test_bucket_never_holds_more_than_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    take_all(bucket)
    clock.advance(3600)
    assert take_all(bucket) == 3


def test_timeout_shorter_than_next_token_says_no_without_sleeping() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.acquire(timeout=0)
    # The next token is 1 s away on a clock that never moves: a blocking wait would hang this test.
    assert bucket.acquire(timeout=0.5) is False
    assert bucket.acquire(timeout=0) is False


def test_blocking_acquire_waits_for_the_next_token() -> None:
    bucket = TokenBucket(rate=100, burst=1)
    assert bucket.acquire()
    assert bucket.acquire(timeout=5)


def test_threads_on_a_frozen_clock_get_exactly_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1000, burst=7, clock=clock)
    admitted: list[int] = []
    start = threading.Barrier(16)

    def hammer() -> None:
        start.wait()
        admitted.append(sum(bucket.acquire(timeout=0) for _ in range(200)))

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 7


def test_blocked_threads_all_get_through_and_never_over_admit() -> None:
    rate, burst = 200.0, 5
    bucket = TokenBucket(rate=rate, burst=burst)
    stamps: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def worker() -> None:
        for _ in range(10):
            assert bucket.acquire(timeout=30)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 80
    # Every admission happened inside [started, last stamp]; the bucket can have given at most this many.
    assert len(stamps) <= burst + rate * (max(stamps) - started) + 1


def test_settings_validate_and_dispatch() -> None:
    assert isinstance(open_limiter(RateLimitSettings(backend="none")), Unlimited)
    assert isinstance(open_limiter(RateLimitSettings()), TokenBucket)
    with pytest.raises(ValueError):
        RateLimitSettings(rate=0)
    with pytest.raises(ValueError):
        RateLimitSettings(backend="memcached")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RateLimitSettings(burts=3)  # type: ignore[call-arg]


# --- the shared GCRA on the real Redis -------------------------------------------------------------------


def redis_time(url: str) -> float:
    client = redis.Redis.from_url(url)
    try:
        seconds, micros = client.time()
        return seconds + micros / 1e6
    finally:
        client.close()


def test_gcra_admits_burst_then_refuses_without_waiting(redis_url: str, unique_name: str) -> None:
    limiter = RedisGCRA(redis_url, rate=1, burst=4, key=unique_name)
    assert [limiter.acquire(timeout=0) for _ in range(6)] == [True, True, True, True, False, False]
    limiter.close()


def test_gcra_reserves_and_sleeps_exactly_the_wait(redis_url: str, unique_name: str) -> None:
    slept: list[float] = []
    limiter = RedisGCRA(redis_url, rate=2, burst=1, key=unique_name, sleep=slept.append)
    assert limiter.acquire(timeout=0)
    assert limiter.acquire(timeout=5)
    assert limiter.acquire(timeout=5)
    # The second call's slot is 0.5 s after the first; the third 0.5 s after that (minus the time spent).
    assert 0 < slept[0] <= 0.5
    assert slept[0] < slept[1] <= 1.0
    # A caller that cannot wait that long reserves nothing.
    assert limiter.acquire(timeout=0.2) is False
    limiter.close()


def test_gcra_threads_sharing_a_key_never_over_admit(redis_url: str, unique_name: str) -> None:
    rate, burst = 50.0, 5
    begin = redis_time(redis_url)
    stop = time.monotonic() + 1.0
    counts: list[int] = []

    def spin() -> None:
        limiter = RedisGCRA(redis_url, rate=rate, burst=burst, key=unique_name)
        admitted = 0
        while time.monotonic() < stop:
            admitted += limiter.acquire(timeout=0)
            time.sleep(0.002)
        counts.append(admitted)
        limiter.close()

    threads = [threading.Thread(target=spin) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = redis_time(redis_url) - begin
    assert burst < sum(counts) <= burst + rate * elapsed + 1


def _blocking_worker(url: str, key: str, rate: float, burst: int, seconds: float, go: Any,
                     out: multiprocessing.Queue) -> None:
    limiter = RedisGCRA(url, rate=rate, burst=burst, key=key)
    out.put("ready")
    go.wait()
    until = time.monotonic() + seconds
    admitted = 0
    while (remaining := until - time.monotonic()) > 0 and limiter.acquire(timeout=remaining):
        admitted += 1
    limiter.close()
    out.put(admitted)


def test_gcra_processes_sharing_a_key_never_over_admit(redis_url: str, unique_name: str) -> None:
    rate, burst, processes = 20.0, 5, 4
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = context.Queue()
    go = context.Event()
    workers = [context.Process(target=_blocking_worker, args=(redis_url, unique_name, rate, burst, 2.0, go, out))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    assert [out.get(timeout=120) for _ in workers] == ["ready"] * processes
    begin = redis_time(redis_url)  # before any process may take a token
    go.set()
    totals = [out.get(timeout=60) for _ in workers]
    elapsed = redis_time(redis_url) - begin
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    # Slots are handed out in the order asked, so every process gets a share of the one budget.
    assert all(count > 0 for count in totals)
    assert burst < sum(totals) <= burst + rate * elapsed + 1


def test_gcra_survives_a_script_flush(redis_url: str, unique_name: str) -> None:
    limiter = RedisGCRA(redis_url, rate=100, burst=2, key=unique_name)
    assert limiter.acquire(timeout=0)
    redis.Redis.from_url(redis_url).script_flush()  # what a Redis restart does to loaded scripts
    assert limiter.acquire(timeout=0)
    limiter.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(20)
def test_gcra_fails_closed_when_redis_is_down() -> None:
    limiter = open_limiter(RateLimitSettings(backend="redis", redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    with pytest.raises(RateLimitUnavailable, match="unreachable"):
        limiter.acquire(timeout=1)
    with pytest.raises(RateLimitUnavailable):
        limiter.acquire()
