"""How closely the shared Redis GCRA holds N processes to one quota, against per-process token buckets.

Each of N processes calls ``acquire`` in a loop for ``--seconds`` from a common start; the figure is the
total admitted against the ideal ``rate * seconds + burst``, and the most admitted in any one-second window.
The baseline is the same run with a local token bucket in every process, which is what a fleet without a
shared limiter does: it admits N times the quota. A last row measures one limiter call's cost
(``acquire(timeout=0)`` on an unlimited budget), i.e. the Redis round trip added to every upstream call.

    .venv/bin/python -m scripts.bench.ratelimit --rate 20 --seconds 6 --processes 1 2 4 8
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from typing import Any

from scripts.bench.report import markdown_table, write_section
from worker.ratelimit import TokenBucket
from worker.ratelimit.redis import RedisGCRA


def _run_one(backend: str, url: str, key: str, rate: float, burst: int, seconds: float, go: Any,
             out: multiprocessing.Queue) -> None:
    limiter = RedisGCRA(url, rate=rate, burst=burst, key=key) if backend == "redis" else TokenBucket(rate, burst)
    stamps: list[float] = []
    out.put("ready")
    go.wait()
    end = time.time() + seconds
    while (remaining := end - time.time()) > 0:
        if limiter.acquire(timeout=remaining):
            now = time.time()
            if now < end:
                stamps.append(now)
    out.put(stamps)


def measure(backend: str, processes: int, *, url: str, rate: float, burst: int, seconds: float) -> tuple[int, int]:
    """Total admitted, and the most admitted in any one-second window."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = context.Queue()
    go = context.Event()
    key = f"cardpipe:bench:{uuid.uuid4().hex}"
    workers = [context.Process(target=_run_one, args=(backend, url, key, rate, burst, seconds, go, out))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    for _ in workers:  # every process has imported and built its limiter: start them together
        out.get(timeout=120)
    go.set()
    stamps = sorted(s for _ in workers for s in out.get(timeout=seconds + 60))
    for worker in workers:
        worker.join()
    peak, low = 0, 0
    for high, stamp in enumerate(stamps):
        while stamps[low] <= stamp - 1.0:
            low += 1
        peak = max(peak, high - low + 1)
    return len(stamps), peak


def call_cost(url: str, calls: int = 2000) -> float:
    """Mean seconds per acquire() against Redis, with a budget that never makes anyone wait."""
    limiter = RedisGCRA(url, rate=1e6, burst=10**6, key=f"cardpipe:bench:{uuid.uuid4().hex}")
    begin = time.perf_counter()
    for _ in range(calls):
        limiter.acquire(timeout=0)
    cost = (time.perf_counter() - begin) / calls
    limiter.reset()
    limiter.close()
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    # GCRA admits ``burst`` at the start, then one per 1/rate: rate x seconds + burst - 1 in the window.
    ideal = args.rate * args.seconds + args.burst - 1
    rows: list[list[object]] = []
    for processes in args.processes:
        for backend in ("redis", "local"):
            admitted, peak = measure(backend, processes, url=args.redis_url, rate=args.rate, burst=args.burst,
                                     seconds=args.seconds)
            label = "Redis GCRA (shared)" if backend == "redis" else "token bucket per process (baseline)"
            rows.append([processes, label, admitted, f"{ideal:.0f}", f"{admitted / ideal:.2f}", peak])
            print(rows[-1], flush=True)
    cost = call_cost(args.redis_url)
    body = (
        f"Quota {args.rate:g}/s, burst {args.burst}, {args.seconds:g} s per run; ideal = rate x seconds + burst - 1 "
        "(the burst at the start, then one every 1/rate). "
        "Peak = most admissions in any one-second window (quota + burst at most).\n\n"
        + markdown_table(["processes", "limiter", "admitted", "ideal", "admitted / ideal", "peak in 1 s"], rows)
        + f"\n\nOne `acquire()` on the shared limiter (Redis on loopback): {cost * 1e3:.3f} ms mean over 2,000 calls."
    )
    print(body)
    if not args.no_write:
        write_section("ratelimit", "Global rate limit: Redis GCRA across processes", body)


if __name__ == "__main__":
    main()
