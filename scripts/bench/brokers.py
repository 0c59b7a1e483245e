"""Benchmark: cardpipe against Celery and Dramatiq doing the same work on the same broker.

The work per message: read a ~30 KB JPEG from a local folder, POST it signed (legacy protocol) to a
zero-latency fake upstream on loopback (its own process, so its CPU is not counted), write one JSON outcome
durably, ack. N messages are enqueued first, then one worker process with 8 threads drains them:

- cardpipe: ``cardpipe worker --concurrency 8`` (queue, fetch, pipeline, fsynced create-once outcome, ack);
- Celery: the threads pool, ``acks_late``, the task in :mod:`scripts.bench.peer_work`;
- Dramatiq: ``--processes 1 --threads 8``, the same task;
- on Redis and on RabbitMQ; plus ``cardpipe run FOLDER`` on the embedded SQLite queue (enqueue included).

Measured between the first and the last outcome file: messages per second, and CPU seconds per 1,000
messages of the worker's processes only (psutil, the whole process tree). Systems are interleaved, rounds
repeated, and medians reported, so that the load of other processes on a shared machine hits all alike.

Example::

    python scripts/bench/brokers.py --messages 3000 --rounds 3

Figures go to docs/benchmarks.md (section ``brokers``).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/14"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
APPID, SECRET_ID, SECRET_KEY = "1250000000", "AKIDbenchbrokers", "bench-brokers-secret-key"
THREADS = 8
#: A run that makes no progress for this long has failed (a worker that cannot connect, a crash).
STALL_S = 120.0


@dataclass
class Measure:
    msg_s: float
    cpu_per_1000: float
    first_outcome_s: float
    wall_s: float
    #: The system (kernel) part of ``cpu_per_1000``: file creation, fsync, sockets.
    system_per_1000: float = float("nan")


def make_jpeg(size_hint: int = 30_000) -> bytes:
    """A card-sized (856x540) colour JPEG of about ``size_hint`` bytes, deterministic."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(15)
    y, x = np.mgrid[0:540, 0:856]
    base = np.stack([x * 255 / 856, y * 255 / 540, (x + y) * 128 / 1400], -1)
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype("uint8")
    best = b""
    for quality in range(30, 95, 5):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
        best = buffer.getvalue()
        if len(best) >= size_hint:
            break
    return best


def _count(results: Path) -> int:
    try:
        return sum(1 for name in os.listdir(results) if name.endswith(".json") and not name.startswith("."))
    except FileNotFoundError:
        return 0


def _tree_cpu(process: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of ``process`` and its descendants."""
    user = system = 0.0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        user += times.user
        system += times.system
    return user, system


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(command: list[str], env: dict[str, str], results: Path, expected: int, log: Path) -> Measure:
    """Start ``command`` and watch ``results`` fill up; CPU and time between the first and the last outcome."""
    with open(log, "wb") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=results.parent.parent, stdout=subprocess.DEVNULL,
                                   stderr=stderr)
        watched = psutil.Process(process.pid)
        try:
            first_t = 0.0
            first_cpu = end_cpu = (0.0, 0.0)
            first_n = 0
            last_n, last_change = 0, time.monotonic()
            while True:
                count = _count(results)
                now = time.monotonic()
                if count and not first_n:
                    first_t, first_cpu, first_n = now, _tree_cpu(watched), count
                if count >= expected:
                    end_cpu = _tree_cpu(watched)
                    break
                if count != last_n:
                    last_n, last_change = count, now
                elif now - last_change > STALL_S or (process.poll() is not None and now - last_change > 5):
                    raise RuntimeError(f"{command[:4]}... stalled at {count}/{expected}: "
                                       f"{log.read_text(errors='replace')[-1500:]}")
                time.sleep(0.05)
        finally:
            _stop(process)
    done = max(expected - first_n, 1)
    span = max(now - first_t, 1e-6)
    user, system = end_cpu[0] - first_cpu[0], end_cpu[1] - first_cpu[1]
    return Measure(msg_s=done / span, cpu_per_1000=(user + system) / done * 1000,
                   first_outcome_s=first_t - started, wall_s=now - started, system_per_1000=system / done * 1000)


def _python_env(extra: dict[str, str], root: Path = ROOT) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root), **extra}


def start_fake_upstream() -> tuple[subprocess.Popen[str], str]:
    """The zero-latency fake upstream in its own process (its CPU is not the worker's), and its URL; closing
    the process's stdin stops it."""
    serve_fake = "import sys; from tests.fakes.upstream import main; sys.exit(main())"
    fake = subprocess.Popen([sys.executable, "-c", serve_fake, "--appid", APPID, "--secret-id", SECRET_ID,
                             "--secret-key", SECRET_KEY], cwd=ROOT, env=_python_env({}),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert fake.stdout is not None
    return fake, fake.stdout.readline().strip()


def _cardpipe_config(work: Path, queue_url: str, queue: str, folder: Path, upstream: str) -> Path:
    config = work / "pipeline.yaml"
    config.write_text(
        f"queue:\n  url: {queue_url}\n  tasks: {queue}\n  results: {queue}-results\n  dead_letters: {queue}-dead\n"
        f"storage:\n  local_roots: ['{folder}']\n"
        "outcomes:\n  sink: out\n"
        "ratelimit:\n  backend: none\n"
        f"upstream:\n  url: {upstream}\n  appid: '{APPID}'\n"
        f"worker:\n  concurrency: {THREADS}\n  idle_exit_s: 2.0\n", encoding="utf-8")
    return config


def _run(command: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:5])} failed ({done.returncode}): {done.stderr[-2000:]}")


def run_system(system: str, broker: str, folder: Path, expected: int, work: Path, upstream: str,
               baseline: Path | None = None) -> Measure:
    """One measured run of ``system`` on ``broker`` in the fresh directory ``work``.

    ``cardpipe-base`` is cardpipe run from the checkout ``baseline`` (e.g. the main branch's), so that a change
    is measured against the code before it in the same run, under the same load.
    """
    work.mkdir(parents=True)
    (work / "out" / "results").mkdir(parents=True)
    queue = f"bench-{system}-{uuid.uuid4().hex[:8]}"
    url = {"redis": REDIS_URL, "rabbitmq": AMQP_URL, "sqlite": "sqla+sqlite:///var/queue.sqlite"}[broker]
    env = _python_env({"BENCH_BROKER": url, "BENCH_QUEUE": queue, "BENCH_UPSTREAM": upstream, "BENCH_APPID": APPID,
                       "BENCH_SECRET_ID": SECRET_ID, "BENCH_SECRET_KEY": SECRET_KEY,
                       "BENCH_OUT": str(work / "out"), "CARDPIPE_UPSTREAM__SECRET_ID": SECRET_ID,
                       "CARDPIPE_UPSTREAM__SECRET_KEY": SECRET_KEY},
                      root=baseline if system == "cardpipe-base" and baseline is not None else ROOT)
    python = sys.executable
    results = work / "out" / "results"
    try:
        if system in {"cardpipe", "cardpipe-base"}:
            config = _cardpipe_config(work, url, queue, folder, upstream)
            base = [python, "-m", "worker", "--config", str(config), "--log-level", "WARNING"]
            if broker == "sqlite":
                return measure([*base, "run", str(folder), "--concurrency", str(THREADS), "--no-progress", "--json"],
                               env, results, expected, work / "stderr.txt")
            _run([*base, "enqueue", str(folder)], env, work)
            return measure([*base, "worker", "--concurrency", str(THREADS)], env, results, expected,
                           work / "stderr.txt")
        if system == "celery":
            _run([python, "-m", "scripts.bench.peer_celery", str(folder)], env, work)
            return measure([python, "-m", "celery", "-A", "scripts.bench.peer_celery", "worker", "-P", "threads",
                            "-c", str(THREADS), "-Q", queue, "--without-gossip", "--without-mingle",
                            "--without-heartbeat", "--loglevel", "WARNING"], env, results, expected,
                           work / "stderr.txt")
        if system == "dramatiq":
            _run([python, "-m", "scripts.bench.peer_dramatiq", str(folder)], env, work)
            return measure([python, "-m", "dramatiq", "scripts.bench.peer_dramatiq", "--processes", "1",
                            "--threads", str(THREADS), "--queues", queue], env, results, expected,
                           work / "stderr.txt")
        raise ValueError(f"unknown system {system!r}")
    finally:
        _delete_queues(broker, url, queue)


def _delete_queues(broker: str, url: str, queue: str) -> None:
    """Remove what a run left on a shared broker (its queue names are unique to it)."""
    if broker == "redis":
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"*{queue}*", count=1000))
        if keys:
            client.delete(*keys)
    elif broker == "rabbitmq":
        import kombu

        with kombu.Connection(url) as conn:
            channel = conn.channel()
            for name in (queue, f"{queue}-results", f"{queue}-dead", f"{queue}.DQ", f"{queue}.XQ"):
                try:
                    channel.queue_delete(queue=name)
                except Exception:  # absent: some systems declare fewer queues
                    channel = conn.channel()


def _services_up(brokers: list[str]) -> None:
    import socket

    for broker in brokers:
        port = {"redis": 6379, "rabbitmq": 5672}.get(broker)
        if port is None:
            continue
        with socket.socket() as probe:
            probe.settimeout(2)
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                raise SystemExit(f"{broker} is not listening on 127.0.0.1:{port}")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--brokers", default="redis,rabbitmq,sqlite",
                        help="comma-separated: redis, rabbitmq, sqlite (cardpipe run only)")
    parser.add_argument("--systems", default="cardpipe,celery,dramatiq",
                        help="comma-separated: cardpipe, celery, dramatiq, cardpipe-base (needs --baseline)")
    parser.add_argument("--baseline", type=Path,
                        help="another cardpipe checkout, run as the system cardpipe-base (before/after a change)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    brokers = [b for b in args.brokers.split(",") if b]
    systems = [s for s in args.systems.split(",") if s]
    _services_up(brokers)

    if "cardpipe-base" in systems and args.baseline is None:
        parser.error("the system cardpipe-base needs --baseline CHECKOUT")
    runs: list[tuple[str, str]] = [(s, b) for b in brokers if b != "sqlite" for s in systems]
    if "sqlite" in brokers and "cardpipe" in systems:
        runs.append(("cardpipe", "sqlite"))
    figures: dict[tuple[str, str], list[Measure]] = {run: [] for run in runs}
    loads: list[float] = []
    image = make_jpeg()
    fake, upstream = start_fake_upstream()
    try:
        with tempfile.TemporaryDirectory(prefix="cardpipe-brokers-") as scratch:
            folder = Path(scratch) / "images"
            folder.mkdir()
            for index in range(args.messages):
                (folder / f"card_{index:06d}.jpg").write_bytes(image)
            for round_index in range(args.rounds):
                loads.append(os.getloadavg()[0])
                # Rotate the order every round, so no system always runs first (or after the same neighbour).
                shift = round_index % len(runs)
                for system, broker in runs[shift:] + runs[:shift]:
                    work = Path(scratch) / f"{system}-{broker}-{round_index}"
                    result = run_system(system, broker, folder, args.messages, work, upstream, args.baseline)
                    figures[(system, broker)].append(result)
                    print(f"round {round_index + 1} {system:13s} {broker:8s} {result.msg_s:7.1f} msg/s "
                          f"{result.cpu_per_1000:6.2f} CPU-s/1000 (system {result.system_per_1000:4.2f}) "
                          f"first outcome {result.first_outcome_s:5.2f} s load {os.getloadavg()[0]:.2f}", flush=True)
            loads.append(os.getloadavg()[0])
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)

    body = report(figures, args.messages, len(image), args.rounds, loads)
    print(body)
    if not args.no_write:
        write_section("brokers", "cardpipe vs Celery vs Dramatiq: cost per message on Redis and RabbitMQ", body)
        append_history(figures, loads)
    return 0


def append_history(figures: dict[tuple[str, str], list[Measure]], loads: list[float]) -> None:
    """Add one line per run to the ``brokers-history`` section, so earlier runs stay on record."""
    import datetime as dt
    import re

    from scripts.bench.report import BENCHMARKS_MD, command_line

    cells = "; ".join(f"{system}@{broker} {_median([m.msg_s for m in values]):.0f} msg/s "
                      f"{_median([m.cpu_per_1000 for m in values]):.2f} CPU-s "
                      f"({_median([m.system_per_1000 for m in values]):.2f} system)"
                      for (system, broker), values in figures.items())
    line = (f"- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load {min(loads):.2f}-{max(loads):.2f}, "
            f"`{command_line()}`: {cells}")
    text = BENCHMARKS_MD.read_text(encoding="utf-8")
    found = re.search(r"<!-- BEGIN brokers-history -->\n## [^\n]*\n\n(.*?)<!-- END brokers-history -->", text, re.S)
    previous = [row for row in (found.group(1).strip().splitlines() if found else []) if row.startswith("- ")]
    write_section("brokers-history", "cardpipe vs Celery vs Dramatiq: every run (medians; code of that moment)",
                  "\n".join([*previous, line]))


def report(figures: dict[tuple[str, str], list[Measure]], messages: int, image_bytes: int, rounds: int,
           loads: list[float]) -> str:
    medians = {key: (_median([m.msg_s for m in values]), _median([m.cpu_per_1000 for m in values]),
                     _median([m.first_outcome_s for m in values])) for key, values in figures.items()}
    rows = []
    for (system, broker), (msg_s, cpu, first) in medians.items():
        every = ", ".join(f"{m.msg_s:.0f}/{m.cpu_per_1000:.2f}" for m in figures[(system, broker)])
        kernel = _median([m.system_per_1000 for m in figures[(system, broker)]])
        label = "cardpipe run (embedded)" if broker == "sqlite" else system
        rows.append([broker, label, f"{msg_s:.1f}", f"{cpu:.2f}", f"{kernel:.2f}", f"{first:.1f}", every])
    ratio_rows = []
    for broker in ("redis", "rabbitmq"):
        ours = medians.get(("cardpipe", broker))
        if ours is None:
            continue
        for peer in ("celery", "dramatiq", "cardpipe-base"):
            theirs = medians.get((peer, broker))
            if theirs is None:
                continue
            ratio_rows.append([broker, peer, f"{ours[1] / theirs[1]:.2f}", f"{ours[0] / theirs[0]:.2f}"])
    load_text = ", ".join(f"{value:.2f}" for value in loads)
    return (
        f"**{messages} messages, each a {image_bytes / 1000:.0f} KB JPEG read from a local folder, POSTed signed "
        f"(legacy protocol) to a zero-latency fake upstream on loopback (its own process, not counted), one "
        f"fsynced JSON outcome, ack; 1 worker process x {THREADS} threads; medians of {rounds} interleaved "
        f"round(s).** msg/s and CPU-s are measured from the first to the last outcome file; CPU is the worker "
        f"process tree's only (psutil). 1-minute load average at each round's start and at the end: {load_text} "
        f"(2 cores, shared with other work).\n\n"
        + markdown_table(["broker", "system", "msg/s", "CPU-s / 1,000 msg", "of which system (kernel)",
                          "first outcome s",
                          "each round (msg/s / CPU-s)"], rows)
        + "\n\n**cardpipe / peer** (CPU target <= 0.5 against Celery and <= 1.0 against Dramatiq; throughput "
          "target >= 1.0 against Dramatiq; cardpipe-base, when measured, is cardpipe from the --baseline "
          "checkout):\n\n"
        + markdown_table(["broker", "peer", "CPU-s per message, ratio", "msg/s, ratio"], ratio_rows)
    )


if __name__ == "__main__":
    raise SystemExit(main())
