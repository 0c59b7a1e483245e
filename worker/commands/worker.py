"""``cardpipe worker``: consume the task queue until stopped (or, with ``--until-empty``, until it is drained).

Example::

    cardpipe --config pipeline.yaml worker --concurrency 8
    cardpipe worker --processes 2                   # CPU-bound local recognizer: threads = cores / processes
    cardpipe worker --until-empty                   # process what is queued, then exit

With ``--processes P`` this process supervises P worker processes (see :mod:`worker.supervision`): they die
with it, whatever kills it, and SIGINT/SIGTERM drains them within ``worker.shutdown_grace_s``.

Exit codes: 0 stopped by request or drained; 1 a worker process (``--processes``) was killed without saying
why; 2 bad configuration; 3 halted (credentials or configuration
refused by the upstream, or the outcome store is unusable: the message says which); 4 the broker is
unreachable or refuses our login; 5 the upstream kept failing (circuit open) with ``--until-empty``; 6 the
shared rate limiter's Redis is unreachable; 130 stopped by a signal.

``--progress-jsonl`` (used by supervising parents) prints one JSON line per settled outcome on stdout and a
final ``{"report": ...}`` line, so a parent process can draw one progress bar for all workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from worker.api.errors import ConfigError
from worker.commands import global_args
from worker.config import Settings, load_config
from worker.consumer import ConsumerReport, QueueConsumer
from worker.exit_codes import EXIT_CONFIG
from worker.jobs.consume import consume, report_json, threads_per_process
from worker.jobs.grants import apply_grants
from worker.metrics import multiprocess_metrics, worker_endpoint
from worker.observability import get_logger
from worker.outcomes import OutcomeStoreError
from worker.pipeline import Outcome
from worker.signals import stop_on_signals
from worker.supervision import LineWriter, die_with_parent, run_children, worker_command

log = get_logger("worker")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=None,
                        help="threads per process calling the pipeline at once (default: worker.concurrency)")
    parser.add_argument("--processes", type=int, default=1,
                        help="worker processes (default 1); they stop with this one, whatever stops it")
    parser.add_argument("--until-empty", action="store_true", help="exit once the queue is drained")
    parser.add_argument("--progress-jsonl", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus metrics of the whole worker (all its processes) on this port "
                             "(default: worker.metrics_port; 0: none)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
        if args.concurrency is not None and args.concurrency < 1:
            raise ConfigError(f"--concurrency: must be >= 1 (got {args.concurrency})")
        if args.processes < 1:
            raise ConfigError(f"--processes: must be >= 1 (got {args.processes})")
    except ConfigError as exc:
        print(f"cardpipe worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    apply_grants(settings)
    if args.processes > 1:
        return _supervise(settings, args)
    try:
        report = _consume_here(settings, args)
    except (ConfigError, OutcomeStoreError) as exc:
        print(f"cardpipe worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing processed"
    log.info("worker.stopped", exit_code=report.exit_code, reason=report.reason, counts=counts)
    if report.exit_code != 0:
        print(f"cardpipe worker: {report.reason}", file=sys.stderr)
    return report.exit_code


def _consume_here(settings: Settings, args: argparse.Namespace) -> ConsumerReport:
    """Consume in this process; a supervised child also stops when its parent goes, and reports in JSON lines."""
    consumers: list[QueueConsumer] = []
    gone: list[str] = []

    def parent_gone(reason: str) -> None:
        gone.append(reason)
        for consumer in consumers:
            consumer.request_stop(reason)

    def started(consumer: QueueConsumer) -> None:
        consumers.append(consumer)
        if gone:
            consumer.request_stop(gone[0])

    die_with_parent(parent_gone)
    writer = LineWriter(parent_gone) if args.progress_jsonl else None

    def emit(outcome: Outcome) -> None:
        if writer is not None:
            for leaf in outcome.leaves():
                writer.write({"status": leaf.status.value, "code": leaf.code})

    with worker_endpoint(settings, args.metrics_port):
        report = consume(settings, concurrency=args.concurrency, until_empty=args.until_empty,
                         on_settled=emit if writer is not None else None, on_consumer=started)
    if writer is not None:
        writer.write({"report": report_json(report)})
    return report


def _supervise(settings: Settings, args: argparse.Namespace) -> int:
    concurrency = args.concurrency or threads_per_process(settings, args.processes)
    command = worker_command(global_args(args), concurrency=concurrency, until_empty=args.until_empty)
    stop = threading.Event()
    # One endpoint for the whole worker: the children write their samples where this process reads them.
    with stop_on_signals(lambda _reason: stop.set()), multiprocess_metrics() as shared_metrics, \
            worker_endpoint(settings, args.metrics_port):
        children = run_children(command, args.processes, env=dict(os.environ), on_outcome=lambda _event: None,
                                stop=stop, grace_s=settings.worker.shutdown_grace_s,
                                on_exit=shared_metrics.process_exited)
    log.info("worker.stopped", processes=args.processes, exit_codes=children.codes, reason=children.reason)
    if children.exit_code != 0:
        print(f"cardpipe worker: {children.reason}", file=sys.stderr)
    return children.exit_code
