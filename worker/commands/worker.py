"""``cardpipe worker``: consume the task queue until stopped (or, with ``--until-empty``, until it is drained).

Example::

    cardpipe --config pipeline.yaml worker --concurrency 8
    cardpipe worker --until-empty          # process what is queued, then exit

Exit codes: 0 stopped or drained; 3 halted (credentials or configuration refused by the upstream, or the
outcome store is unusable: the message says which); 4 the broker stayed unreachable; 5 the upstream kept
failing (circuit open) with ``--until-empty``; 130 stopped by a signal; 2 bad configuration.

``--progress-jsonl`` (used by ``cardpipe run --processes``) prints one JSON line per settled outcome on
stdout and a final ``{"report": ...}`` line, so a parent process can draw one progress bar for all workers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from worker.api.errors import ConfigError
from worker.config import Settings, load_config
from worker.consumer import ConsumerReport, QueueConsumer
from worker.metrics import worker_endpoint
from worker.observability import get_logger
from worker.outcomes import OutcomeStoreError, open_outcomes
from worker.pipeline import Outcome, Pipeline
from worker.queues import EMBEDDED_SWEEP_INTERVAL_S, QueueSettings, forget_delivered
from worker.ratelimit import open_limiter
from worker.retry import CircuitBreaker
from worker.storage import open_storage
from worker.upstreams import open_upstream
from worker.upstreams.settings import LOCAL_URL

log = get_logger("worker")

EXIT_CONFIG = 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=None,
                        help="threads calling the pipeline at once (default: worker.concurrency)")
    parser.add_argument("--until-empty", action="store_true", help="exit once the queue is drained")
    parser.add_argument("--progress-jsonl", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus metrics on this port (default: worker.metrics_port; 0: none)")


def worker_id() -> str:
    """``host:pid``: recorded in every outcome, so an operator can tell which worker wrote it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def build_pipeline(settings: Settings, *, stop_event: threading.Event | None = None) -> Pipeline:
    """The pipeline the settings describe: storage, upstream, limiter, outcome store, retry policy.

    Parameters:
        settings: loaded configuration.
        stop_event: set to make waits end early on shutdown.
    """
    storage = open_storage(settings.storage)
    upstream = open_upstream(settings.upstream, recognizer_settings=settings.recognizer)
    limiter = open_limiter(settings.ratelimit)
    outcomes = open_outcomes(settings.outcomes, settings.storage)
    return Pipeline(storage, upstream, limiter, outcomes, settings.retry, worker_id(),
                    breaker=CircuitBreaker.from_settings(settings.retry), stop_event=stop_event,
                    acquire_timeout_s=settings.ratelimit.acquire_timeout_s)


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``stop`` (graceful: finish in-flight, requeue the rest); restore after."""
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop(f"stopped by {signal.Signals(signum).name}")

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def report_json(report: ConsumerReport) -> dict[str, Any]:
    return {"counts": dict(report.counts), "dead_by_code": dict(report.dead_by_code),
            "exit_code": report.exit_code, "reason": report.reason}


def threads_per_process(settings: Settings, processes: int = 1) -> int:
    """Pipeline threads for each of ``processes`` worker processes when ``--concurrency`` is not given.

    ``worker.concurrency`` when it is set. Otherwise, for the CPU-bound local recognizer, the cores shared out
    among the processes: a recognition spends most of its time in onnxruntime without the GIL, so one
    process already keeps a thread per core busy, and more threads than cores only make recognitions wait
    for each other (see docs/benchmarks.md, "Worker processes"). An HTTP upstream keeps the built-in
    default, because its calls wait on the network rather than on a core.
    """
    if "concurrency" in settings.worker.model_fields_set or settings.upstream.url != LOCAL_URL:
        return settings.worker.concurrency
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, processes))


def consume(settings: Settings, *, concurrency: int | None, until_empty: bool,
            on_settled: Callable[[Outcome], None] | None = None) -> ConsumerReport:
    """Build the pipeline and a consumer from ``settings`` and run it (signals stop it gracefully)."""
    worker_settings = settings.worker.model_copy(update={"concurrency": concurrency or threads_per_process(settings)})
    pipeline = build_pipeline(settings, stop_event=threading.Event())
    consumer = QueueConsumer(settings.queue, pipeline, worker_settings,
                             publish_outcomes=settings.outcomes.publish_results, on_settled=on_settled)
    with stop_on_signals(consumer.request_stop), sweeping_delivered_rows(settings.queue):
        return consumer.run(until_empty=until_empty)


@contextmanager
def sweeping_delivered_rows(queue: QueueSettings, interval_s: float = EMBEDDED_SWEEP_INTERVAL_S) -> Iterator[None]:
    """On the embedded queue, delete delivered rows every ``interval_s`` while the body runs, and once at the end.

    Without it a worker that runs for weeks keeps one dead row per image in the SQLite file (see
    :func:`worker.queues.forget_delivered`); other transports delete acknowledged messages themselves.
    """
    if not queue.is_embedded:
        yield
        return
    stopped = threading.Event()

    def sweep() -> None:
        try:
            removed = forget_delivered(queue)
        except Exception as exc:  # a busy or locked database: try again next interval
            log.warning("worker.sweep_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if removed:
            log.debug("worker.swept_delivered_rows", rows=removed)

    def loop() -> None:
        while not stopped.wait(interval_s):
            sweep()

    sweeper = threading.Thread(target=loop, name="cardpipe-queue-sweeper", daemon=True)
    sweeper.start()
    try:
        yield
    finally:
        stopped.set()
        sweeper.join(timeout=5)
        sweep()


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
        if args.concurrency is not None and args.concurrency < 1:
            raise ConfigError(f"--concurrency: must be >= 1 (got {args.concurrency})")
    except ConfigError as exc:
        print(f"cardpipe worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    def emit(outcome: Outcome) -> None:
        for leaf in outcome.leaves():
            sys.stdout.write(json.dumps({"status": leaf.status.value, "code": leaf.code}) + "\n")
        sys.stdout.flush()

    try:
        with worker_endpoint(settings, args.metrics_port):
            report = consume(settings, concurrency=args.concurrency, until_empty=args.until_empty,
                             on_settled=emit if args.progress_jsonl else None)
    except (ConfigError, OutcomeStoreError) as exc:
        print(f"cardpipe worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.progress_jsonl:
        sys.stdout.write(json.dumps({"report": report_json(report)}) + "\n")
        sys.stdout.flush()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing processed"
    log.info("worker.stopped", exit_code=report.exit_code, reason=report.reason, counts=counts)
    if report.exit_code not in (0,):
        print(f"cardpipe worker: {report.reason}", file=sys.stderr)
    return report.exit_code
