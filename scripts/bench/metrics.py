"""Benchmark: what the worker's metrics cost — to scrape, and per message.

1. Scrape: P writer processes (multiprocess mode, as ``worker --processes P`` runs) each record the series a
   busy worker has (every status x code, every upstream code, both histograms, retries, live gauges); one
   endpoint merges their files. Median ``GET /metrics`` time over ``--scrapes`` requests, against the same
   series served by one process from memory (the baseline). Target: < 50 ms with P = 4.
2. Per message, end to end: ``cardpipe worker --until-empty`` over tiny files against the loopback fake
   upstream (answers at once, so the pipeline's own cost is all there is), with the endpoint on and
   multiprocess (file-backed) samples, against the same run with no endpoint and in-memory samples;
   interleaved over ``--repeat`` rounds. Each arm runs twice per round, over ``--messages`` and over a fifth
   of them, and the per-message cost is the difference over the difference in messages: what a command's
   start and exit cost (imports, the endpoint's thread, the idle wait before ``--until-empty`` exits) is the
   same at both sizes and drops out, where dividing one run's time by its messages would count it as
   per-message cost. Wall and CPU (the worker's processes, user + system) both. Target: within 3 %.
3. Per message, the metric calls alone: the exact calls the pipeline makes for one message, timed in a loop,
   file-backed and in memory, as a share of the per-message cost measured in 2.

Example::

    python scripts/bench/metrics.py --processes 4 --messages 2000 --repeat 5

Figures go to docs/benchmarks.md (section ``metrics``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import children_cpu_s, load_note, markdown_table, write_section  # noqa: E402

#: Codes a busy worker sees, so the scrape carries as many series as a real one.
CODES = ["0", "-1102", "-1300", "-9010", "-9011", "-9012", "15", "107", "108", "200", "201", "213", "-5208",
         "http_429", "http_500", "http_502", "http_503", "not_found", "too_large", "empty", "bad_location",
         "bad_message", "internal_error", "retries_exhausted:15", "retries_exhausted:-5208"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _record_busy_worker(iterations: int = 3) -> None:
    from worker.metrics import metrics

    m = metrics()
    for _ in range(iterations):
        for code in CODES:
            for status in ("ok", "dead", "skipped"):
                m.tasks.labels(status=status, code=code).inc()
            m.upstream_calls.labels(code=code).inc()
            m.retries.labels(stage="recognize", code=code).inc()
            m.retries.labels(stage="fetch", code=code).inc()
        for seconds in (0.01, 0.2, 0.7, 1.4, 4.0):
            m.upstream_latency.observe(seconds)
            m.limiter_wait.observe(seconds / 10)
    m.in_flight.inc()
    m.circuit_open.set(0)
    m.last_success.set_to_current_time()


def _writer(directory: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event) -> None:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    _record_busy_worker()
    ready.set()
    done.wait(600)  # stay alive: live gauges count only for living processes


def _median_scrape_s(url: str, scrapes: int) -> tuple[float, int]:
    timings = []
    size = 0
    for _ in range(scrapes):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=10) as response:
            size = len(response.read())
        timings.append(time.perf_counter() - began)
    return statistics.median(timings), size


def scrape_multiprocess(processes: int, scrapes: int) -> tuple[float, int]:
    from worker.metrics import multiprocess_metrics, serve_metrics

    context = multiprocessing.get_context("spawn")
    with multiprocess_metrics() as shared:
        ready = [context.Event() for _ in range(processes)]
        done = context.Event()
        writers = [context.Process(target=_writer, args=(str(shared.directory), r, done)) for r in ready]
        for writer in writers:
            writer.start()
        for event in ready:
            event.wait(120)
        port = _free_port()
        with serve_metrics(port, host="127.0.0.1", rate=10.0):
            result = _median_scrape_s(f"http://127.0.0.1:{port}/metrics", scrapes)
        done.set()
        for writer in writers:
            writer.join(30)
    return result


def _scrape_in_memory(port: int, scrapes: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from worker.metrics import serve_metrics

    _record_busy_worker()
    with serve_metrics(port, host="127.0.0.1", rate=10.0):
        queue.put(_median_scrape_s(f"http://127.0.0.1:{port}/metrics", scrapes))


def scrape_single(scrapes: int) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_scrape_in_memory, args=(_free_port(), scrapes, results))
    process.start()
    result = results.get(timeout=300)
    process.join(30)
    return result


def _metric_calls_us(file_backed: bool, loops: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    scratch = tempfile.mkdtemp(prefix="cardpipe-bench-metrics-") if file_backed else None
    if scratch:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = scratch
    from worker.metrics import metrics

    m = metrics()
    began = time.perf_counter()
    for _ in range(loops):  # what Pipeline does for one message that is read at the first call
        m.in_flight.inc()
        m.limiter_wait.observe(0.0001)
        m.upstream_latency.observe(0.003)
        m.circuit_open.set(False)
        m.upstream_calls.labels(code="0").inc()
        m.circuit_open.set(0)
        m.last_success.set_to_current_time()
        m.in_flight.dec()
        m.tasks.labels(status="ok", code="0").inc()
    queue.put((time.perf_counter() - began) / loops * 1e6)


def metric_calls_us(file_backed: bool, loops: int = 20000) -> float:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_metric_calls_us, args=(file_backed, loops, results))
    process.start()
    result = results.get(timeout=300)
    process.join(30)
    return float(result)



def worker_run(messages: Path, work: Path, upstream: str, *, metrics_on: bool) -> tuple[float, float]:
    """Wall and CPU seconds ``cardpipe worker --until-empty`` takes to drain ``messages`` tiny tasks (enqueue
    not counted)."""
    from worker.metrics import MULTIPROC_ENV, SERVER_PID_ENV

    config = work / "pipeline.yaml"
    config.write_text(
        "queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: var/outcomes\n"
        f"ratelimit:\n  backend: none\nupstream:\n  url: {upstream}\n  appid: '1250000000'\n"
        "worker:\n  idle_exit_s: 0.2\n  concurrency: 4\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (MULTIPROC_ENV, SERVER_PID_ENV)}
    env.update({"PYTHONPATH": str(ROOT), "CARDPIPE_STORAGE__LOCAL_ROOTS": f'["{messages}"]'})
    base = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING"]
    subprocess.run([*base, "enqueue", str(messages)], env=env, check=True, capture_output=True)
    command = [*base, "worker", "--until-empty"]
    if metrics_on:
        env[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="cardpipe-bench-mp-", dir=work)
        command += ["--metrics-port", str(_free_port())]
    cpu_before = children_cpu_s()
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - began, children_cpu_s() - cpu_before


def _tiny_files(folder: Path, count: int) -> Path:
    folder.mkdir()
    for index in range(count):
        (folder / f"img_{index:05d}.jpg").write_bytes(f"tiny image {index}".encode())
    return folder


def _slope_ms(large: list[tuple[float, float]], small: list[tuple[float, float]], extra: int, which: int) -> float:
    """Median over rounds of (large run - small run) / extra messages, in ms: the per-message cost alone."""
    return statistics.median((big[which] - little[which]) / extra * 1000 for big, little in zip(large, small,
                                                                                              strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    load_before = os.getloadavg()
    multi_s, multi_bytes = scrape_multiprocess(args.processes, args.scrapes)
    single_s, single_bytes = scrape_single(args.scrapes)
    calls_file_us = metric_calls_us(True)
    calls_memory_us = metric_calls_us(False)

    from tests.fakes.upstream import FakeUpstream

    few = max(args.messages // 5, 1)
    extra = args.messages - few
    runs: dict[tuple[bool, int], list[tuple[float, float]]] = {(on, n): [] for on in (False, True)
                                                               for n in (few, args.messages)}
    with tempfile.TemporaryDirectory(prefix="cardpipe-bench-") as scratch, FakeUpstream() as fake:
        scratch_dir = Path(scratch)
        folders = {n: _tiny_files(scratch_dir / f"small-{n}", n) for n in (few, args.messages)}
        for round_index in range(args.repeat):
            for metrics_on in (False, True):
                for count, folder in folders.items():
                    work = scratch_dir / f"run-{round_index}-{int(metrics_on)}-{count}"
                    work.mkdir()
                    runs[(metrics_on, count)].append(worker_run(folder, work, fake.url, metrics_on=metrics_on))
    load_after = os.getloadavg()

    def per_message(metrics_on: bool, which: int) -> float:
        return _slope_ms(runs[(metrics_on, args.messages)], runs[(metrics_on, few)], extra, which)

    off_ms, on_ms = per_message(False, 0), per_message(True, 0)
    off_cpu_ms, on_cpu_ms = per_message(False, 1), per_message(True, 1)
    ratio, cpu_ratio = on_ms / off_ms, on_cpu_ms / off_cpu_ms
    share = calls_file_us / 1000 / off_cpu_ms

    def rounds(metrics_on: bool, count: int) -> str:
        return " / ".join(f"{wall:.2f} ({cpu:.2f})" for wall, cpu in runs[(metrics_on, count)])

    def verdict(value: float) -> str:
        return "met" if abs(value - 1) <= 0.03 else "NOT met"

    body = (
        f"{load_note(load_before, load_after)}\n\n"
        f"**Scrape, {args.processes} writer processes (multiprocess files) vs one process from memory, median of "
        f"{args.scrapes} scrapes, the same cardpipe series** (the in-memory registry also serves Python's process "
        "and gc series and `_created` samples, hence its larger body).\n\n"
        + markdown_table(["endpoint", "median scrape ms", "body bytes"], [
            [f"{args.processes} processes, multiprocess files", f"{multi_s * 1000:.1f}", multi_bytes],
            ["1 process, in memory (baseline)", f"{single_s * 1000:.1f}", single_bytes]])
        + f"\n\nRatio: {multi_s / single_s:.2f}; target < 50 ms: "
        + ("met" if multi_s < 0.05 else "NOT met") + ".\n\n"
        f"**Per message, `cardpipe worker --until-empty` over {args.messages} and over {few} tiny files, "
        f"zero-latency loopback upstream, 4 threads, {args.repeat} interleaved rounds.** Per-message cost = "
        f"(run over {args.messages} - run over {few}) / {extra}, so each command's start-up and exit drop out.\n\n"
        + markdown_table(["", f"{args.messages} files: wall s (CPU s) per round", f"{few} files: wall s (CPU s)",
                          "wall ms per message", "CPU ms per message"], [
            ["metrics off (no endpoint, in-memory samples)", rounds(False, args.messages), rounds(False, few),
             f"{off_ms:.3f}", f"{off_cpu_ms:.3f}"],
            ["metrics on (endpoint, multiprocess files)", rounds(True, args.messages), rounds(True, few),
             f"{on_ms:.3f}", f"{on_cpu_ms:.3f}"]])
        + f"\n\nRatio on / off: wall {ratio:.3f}, CPU {cpu_ratio:.3f}; target within 3 %: CPU {verdict(cpu_ratio)}, "
        f"wall {verdict(ratio)}.\n\n"
        f"**The metric calls of one message alone** (9 calls, timed over 20,000 messages): "
        f"{calls_file_us:.1f} µs file-backed, {calls_memory_us:.1f} µs in memory; file-backed that is "
        f"{share * 100:.2f} % of the {off_cpu_ms:.3f} CPU-ms a message costs with metrics off.\n"
    )
    print(body)
    if not args.no_write:
        write_section("metrics", "Worker metrics: scrape time and per-message cost", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
