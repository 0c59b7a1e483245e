"""What one upstream call costs the calling thread: cardpipe's legacy client against plain urllib3 and httpx.

Why: the call is made once per image, so its CPU is a worker's CPU per message. The same signed multipart
POST of a ~32 KB JPEG goes to the brokers benchmark's zero-latency fake upstream (its own process, not
counted) N times on one thread, three ways in interleaved rounds: ``LegacyClient.recognize`` (libcurl, answer
parsed and checked), and the baselines urllib3 and httpx sending the same bytes over a keep-alive connection
and parsing the answer the same way (``interpret``). The figures are the thread's user and system CPU per call
(``RUSAGE_THREAD``) and the ratio of each to cardpipe's.

Usage::

    python scripts/bench/upstream_call.py --calls 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench import brokers  # noqa: E402
from scripts.bench.report import markdown_table, write_section  # noqa: E402
from worker.api.legacy.client import LegacyClient, SignatureCache, interpret, multipart_body  # noqa: E402
from worker.api.legacy.signing import Credential  # noqa: E402

APPID = "1250000000"


def _thread_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


def per_call(call: Callable[[], object], calls: int) -> tuple[float, float, float]:
    """(user, system, wall) seconds per call, after a warm-up that opens the connection."""
    for _ in range(20):
        call()
    user0, system0 = _thread_cpu()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    user1, system1 = _thread_cpu()
    return (user1 - user0) / calls, (system1 - system0) / calls, (time.perf_counter() - started) / calls


def contestants(url: str, image: bytes) -> dict[str, Callable[[], object]]:
    """The three ways to make the call, each with its own keep-alive connection."""
    import httpx
    import urllib3

    credential = Credential(APPID, brokers.SECRET_ID, brokers.SECRET_KEY)
    client = LegacyClient(url, appid=APPID, credential=credential)
    sign = SignatureCache(credential).current  # signed as the client signs: one signature, reused
    pool = urllib3.PoolManager(maxsize=1, timeout=urllib3.Timeout(connect=3.0, read=10.0))
    session = httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0), trust_env=False)

    def request() -> tuple[bytes, dict[str, str]]:
        boundary = os.urandom(16).hex()
        return multipart_body(boundary, APPID, "", image), {
            "User-Agent": "cardpipe", "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": sign()}

    def with_urllib3() -> object:
        body, headers = request()
        answer = pool.urlopen("POST", url, body=body, headers=headers, retries=False, redirect=False)
        return interpret(answer.status, answer.data)

    def with_httpx() -> object:
        body, headers = request()
        answer = session.post(url, content=body, headers=headers)
        return interpret(answer.status_code, answer.content)

    return {"cardpipe (libcurl)": lambda: client.recognize(image), "urllib3": with_urllib3, "httpx": with_httpx}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    image = brokers.make_jpeg()
    fake, url = brokers.start_fake_upstream()
    loads = [os.getloadavg()[0]]
    try:
        calls = contestants(url, image)
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in calls}
        for _ in range(args.rounds):
            for name, call in calls.items():
                figures[name].append(per_call(call, args.calls))
            loads.append(os.getloadavg()[0])
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)

    def median(name: str, index: int) -> float:
        return statistics.median(figure[index] for figure in figures[name])

    ours = median("cardpipe (libcurl)", 0) + median("cardpipe (libcurl)", 1)
    rows = []
    for name in calls:
        user, system, wall = (median(name, i) for i in range(3))
        rows.append([name, f"{user * 1e6:.0f}", f"{system * 1e6:.0f}", f"{wall * 1e6:.0f}",
                     f"{(user + system) / ours:.2f}"])
    body = (f"**{args.calls} signed multipart POSTs of a {len(image) // 1000} KB JPEG per round to a zero-latency "
            f"fake upstream on loopback (its own process), one thread, keep-alive; answers parsed and checked "
            f"the same way; medians of {args.rounds} interleaved round(s).** 1-minute load average at the start "
            f"and after each round: {', '.join(f'{load:.2f}' for load in loads)} (2 cores, shared).\n\n"
            + markdown_table(["client", "user us / call", "system us / call", "wall us / call",
                              "CPU vs cardpipe"], rows))
    print(body)
    if not args.no_write:
        write_section("upstream-call", "The upstream call: CPU per call, libcurl against urllib3 and httpx", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
