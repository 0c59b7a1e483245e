"""Benchmark ``cardpipe serve`` against the in-process recognizer on the same generated cards, in one run.

What it measures, and why this way:

* requests/s and p50/p95 latency at 1, 2 and 8 concurrent clients, each posting multipart images to a real
  ``cardpipe serve`` subprocess on loopback (the product as deployed, not an app object in this process);
* the in-process recognizer's own rate on the same images, with as many threads as can run at once
  (``min(clients, pool size)``), measured in this process while the server is idle;
* the HTTP layer's overhead as ``1 - http_rate / in_process_rate`` (goal: at most 5 %);
* with the default ``queue_timeout_s`` and 8 clients, how many requests are refused with 15 and how fast, to
  show that a full pool answers quickly instead of queueing;
* the round trip of a request refused before recognition (an empty image, -1300): the HTTP layer alone.

The throughput server runs with a long ``queue_timeout_s`` (so 8 clients queue for the 2 slots rather than
being refused) and a per-appid rate high enough never to interfere.

Usage::

    .venv/bin/python scripts/bench/server.py --cards 16 --seed 5
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402
from worker.api.legacy.signing import sign  # noqa: E402

APPID, SECRET_ID, SECRET_KEY = "1250000000", "AKIDbenchmarkserver", "bench-secret-key-not-real"
CLIENT_COUNTS = (1, 2, 8)


@dataclass(frozen=True)
class Run:
    """One measured pass over the images."""

    label: str
    seconds: float
    latencies: list[float]
    codes: list[int]

    def merged(self, other: Run) -> Run:
        """Two passes as one: their images, latencies and times added up."""
        return Run(self.label, self.seconds + other.seconds, self.latencies + other.latencies,
                   self.codes + other.codes)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _parallel(images: list[bytes], workers: int, call: Callable[[bytes], int], label: str) -> Run:
    """Run ``call`` over every image with ``workers`` threads pulling from one shared list."""
    pending = list(enumerate(images))
    lock = threading.Lock()
    latencies: list[float] = [0.0] * len(images)
    codes: list[int] = [0] * len(images)

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                index, image = pending.pop(0)
            started = time.perf_counter()
            codes[index] = call(image)
            latencies[index] = time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    return Run(label, time.perf_counter() - started, latencies, codes)


def _interleaved(images: list[bytes], chunk: int, local: Callable[[list[bytes]], Run],
                 remote: Callable[[list[bytes]], Run], rounds: int = 2) -> tuple[Run, Run]:
    """Both sides over the same images, alternating every ``chunk`` images and flipping which side goes
    first, ``rounds`` times: on a shared machine the load drifts within seconds, and alternating in small
    chunks makes both sides see the same load."""
    local_runs: list[Run] = []
    remote_runs: list[Run] = []
    turn = 0
    for _round in range(rounds):
        for start in range(0, len(images), chunk):
            part = images[start:start + chunk]
            if turn % 2 == 0:
                local_runs.append(local(part))
                remote_runs.append(remote(part))
            else:
                remote_runs.append(remote(part))
                local_runs.append(local(part))
            turn += 1
    merged_local, merged_remote = local_runs[0], remote_runs[0]
    for run in local_runs[1:]:
        merged_local = merged_local.merged(run)
    for run in remote_runs[1:]:
        merged_remote = merged_remote.merged(run)
    return merged_local, merged_remote


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(queue_timeout_s: float, recognizer_threads: int) -> Iterator[str]:
    """``cardpipe serve`` in a subprocess until the block ends; yields its base url."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CARDPIPE_CREDENTIALS": f"{APPID}:{SECRET_ID}:{SECRET_KEY}",
           "CARDPIPE_SERVE__QUEUE_TIMEOUT_S": str(queue_timeout_s), "CARDPIPE_SERVE__RATE_PER_APPID": "100000",
           "CARDPIPE_SERVE__BURST_PER_APPID": "100000", "CARDPIPE_RECOGNIZER__THREADS": str(recognizer_threads)}
    process = subprocess.Popen([sys.executable, "-m", "worker", "--log-level", "WARNING", "serve", "--port",
                                str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cardpipe serve exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("cardpipe serve did not become healthy")
            time.sleep(0.2)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


class Client:
    """One httpx client per thread, signing like a legacy client."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._local = threading.local()
        self._auth = sign(APPID, SECRET_ID, SECRET_KEY, bucket="bench", ttl=86400)

    def post(self, image: bytes) -> int:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self._base_url, timeout=600)
        response = client.post("/ocr/bankcard", data={"appid": APPID, "bucket": "bench"},
                               files={"image": ("card.jpg", image, "image/jpeg")},
                               headers={"Authorization": self._auth})
        return int(response.json()["code"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=16, help="generated cards per pass (default 16)")
    parser.add_argument("--seed", type=int, default=5, help="card generator seed (default 5)")
    parser.add_argument("--level", default="mixed", help="card generator level (default mixed)")
    parser.add_argument("--recognizer-threads", type=int, default=0,
                        help="onnxruntime threads per recognition, server and in-process (default 0: one thread)")
    parser.add_argument("--no-write", action="store_true", help="print the figures without updating docs/benchmarks.md")
    args = parser.parse_args(argv)

    from scripts.make_cards import generate
    from worker.api.server.settings import ServeSettings
    from worker.recognizer import RecognizerSettings, get_recognizer

    with tempfile.TemporaryDirectory(prefix="cardpipe-bench-server-") as folder:
        labels = generate(folder, args.cards, args.level, args.seed)
        images = [(Path(folder) / label["file"]).read_bytes() for label in labels]
    pool_size = ServeSettings().effective_pool_size
    recognizer = get_recognizer(RecognizerSettings(threads=args.recognizer_threads))
    recognizer.recognize(images[0])  # warm

    def in_process(image: bytes) -> int:
        return recognizer.recognize(image).code

    rows: list[list[object]] = []
    in_process_p50 = float("nan")
    with serve(600.0, args.recognizer_threads) as base_url:
        client = Client(base_url)
        client.post(images[0])  # warm
        empty = _parallel([b""] * 50, 1, client.post, "empty image")
        for clients in CLIENT_COUNTS:
            threads = min(clients, pool_size)
            local, remote = _interleaved(images, max(2, clients), lambda part, t=threads: _parallel(
                part, t, in_process, "in-process"), lambda part, c=clients: _parallel(part, c, client.post, "http"))
            if clients == 1:
                in_process_p50 = local.percentile(0.5)
            same = sum(a == b for a, b in zip(local.codes, remote.codes, strict=True))
            overhead = 1 - remote.rate / local.rate
            rows.append([clients, f"{remote.rate:.2f}", f"{remote.percentile(0.5) * 1000:.0f}",
                         f"{remote.percentile(0.95) * 1000:.0f}", threads, f"{local.rate:.2f}",
                         f"{local.percentile(0.5) * 1000:.0f}", f"{overhead * 100:+.1f} %",
                         f"{same}/{len(local.codes)}"])
            print(rows[-1], flush=True)
    with serve(ServeSettings().queue_timeout_s, args.recognizer_threads) as base_url:
        client = Client(base_url)
        client.post(images[0])
        burst = _parallel(images, 8, client.post, "8 clients, default queue timeout")
    refused = [lat for lat, code in zip(burst.latencies, burst.codes, strict=True) if code == 15]
    refused_p95 = f"{sorted(refused)[round(0.95 * (len(refused) - 1))] * 1000:.0f} ms" if refused else "n/a"

    table = markdown_table(
        ["clients", "HTTP req/s", "HTTP p50 ms", "HTTP p95 ms", "in-process threads", "in-process img/s",
         "in-process p50 ms", "HTTP overhead", "same code"], rows)
    body = f"""
{args.cards} generated cards (`scripts/make_cards.py`, level {args.level}, seed {args.seed}), each posted as one
multipart image to `cardpipe serve` in a subprocess on loopback (pool {pool_size} = cores, recognizer threads
{args.recognizer_threads} (0 = one thread) on both sides, queue timeout 600 s so
that clients queue instead of being refused); the in-process recognizer ran the same images in the same run
with min(clients, pool) threads. HTTP overhead = 1 − HTTP rate / in-process rate (goal ≤ 5 %; negative means
the HTTP run was faster, i.e. within noise). Each row covers every image twice per side, alternating the
sides every max(2, clients) images and flipping which goes first, so that a load that drifts during the run
(the machine is shared) weighs on both sides alike. "same code": answers whose code matched the in-process
answer.

{table}

- HTTP layer alone (an empty image, answered -1300 before recognition, 1 client, 50 requests):
  p50 {empty.percentile(0.5) * 1000:.1f} ms, p95 {empty.percentile(0.95) * 1000:.1f} ms, i.e.
  {empty.percentile(0.5) / in_process_p50 * 100:.2f} % of the in-process recognition's p50
  ({in_process_p50 * 1000:.0f} ms, 1 thread): the HTTP layer's own cost per request.
- Full pool with the default queue timeout ({ServeSettings().queue_timeout_s} s), 8 clients: {len(refused)} of
  {len(images)} requests answered 15 (p95 {refused_p95}), the rest recognized; nothing queued beyond the timeout.
"""
    print(body)
    if not args.no_write:
        write_section("server", "cardpipe serve: HTTP vs in-process recognizer", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
