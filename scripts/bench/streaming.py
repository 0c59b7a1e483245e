"""Benchmark: how soon ``cardpipe run FOLDER`` answers, and its memory, as the folder grows (embedded queue).

For each folder size: N small files, a fresh ``cardpipe run`` (1 process x 8 threads) against the
zero-latency fake upstream (its own process); measured: seconds from the command's start to the first
outcome file, and the run's peak RSS over the first ``--window`` seconds (the run is then stopped with
SIGTERM, as a user's Ctrl-C; a run of 100,000 messages would take minutes on this machine). The smallest
folder is the baseline: the ratio of peak RSS says whether memory grows with the folder.

Example::

    python scripts/bench/streaming.py --sizes 10000,100000 --window 20

Figures go to docs/benchmarks.md (section ``streaming``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench import brokers  # noqa: E402
from scripts.bench.report import markdown_table, write_section  # noqa: E402


def measure(size: int, window_s: float, upstream: str) -> tuple[float, float, int]:
    """(first outcome s, peak RSS MB, outcomes written) for one fresh run over ``size`` files."""
    with tempfile.TemporaryDirectory(prefix="cardpipe-streaming-") as scratch:
        work = Path(scratch)
        folder = work / "images"
        folder.mkdir()
        for index in range(size):
            (folder / f"card_{index:07d}.jpg").write_bytes(b"\xff\xd8 card %d" % index)
        config = brokers._cardpipe_config(work, "sqla+sqlite:///var/queue.sqlite", "tasks", folder, upstream)
        env = brokers._python_env({"CARDPIPE_UPSTREAM__SECRET_ID": brokers.SECRET_ID,
                                   "CARDPIPE_UPSTREAM__SECRET_KEY": brokers.SECRET_KEY})
        results = work / "out" / "results"
        command = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", "run",
                   str(folder), "--concurrency", str(brokers.THREADS), "--no-progress", "--json"]
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = float("nan")
        while time.monotonic() - started < window_s and process.poll() is None:
            if first != first and results.exists() and any(os.scandir(results)):
                first = time.monotonic() - started
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(process.pid, 0)
        written = sum(1 for _ in os.scandir(results)) if results.exists() else 0
        return first, usage.ru_maxrss / 1024, written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--window", type=float, default=20.0, help="seconds each run is watched before SIGTERM")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    fake, upstream = brokers.start_fake_upstream()
    rows = []
    try:
        baseline_rss = None
        for size in sizes:
            first, rss, written = measure(size, args.window, upstream)
            baseline_rss = baseline_rss or rss
            rows.append([f"{size:,}", f"{first:.2f}", f"{rss:.0f}", f"{rss / baseline_rss:.2f}", written])
            print(rows[-1], flush=True)
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)
    body = (f"**`cardpipe run FOLDER --concurrency {brokers.THREADS}` on the embedded queue, zero-latency fake "
            f"upstream; each run watched for {args.window:.0f} s, then stopped; 1-minute load average at the end "
            f"{os.getloadavg()[0]:.2f} on 2 shared cores.** Targets: first outcome <= 3 s; peak RSS within 20 % "
            "of the smallest folder's.\n\n"
            + markdown_table(["files", "first outcome s", "peak RSS MB", "RSS vs smallest", "outcomes in window"],
                             rows))
    print(body)
    if not args.no_write:
        write_section("streaming", "cardpipe run: first outcome and memory as the folder grows", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
