"""Consume the task queue in this process: build the pipeline from the settings and run a consumer on it.

Signals stop it gracefully (in-flight tasks finish within ``worker.shutdown_grace_s``, the rest go back); on
the embedded queue the settled rows the SQLite transport keeps are swept while it runs, and the first consumer
to start redelivers the messages a killed one held.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker.config import Settings
from worker.consumer import ConsumerReport, QueueConsumer
from worker.observability import get_logger
from worker.outcomes import open_outcomes
from worker.pipeline import Outcome, Pipeline, has_outcome
from worker.queues import EMBEDDED_SWEEP_INTERVAL_S, QueueSettings, forget_delivered, revive_orphans
from worker.ratelimit import open_limiter
from worker.retry import CircuitBreaker
from worker.signals import stop_on_signals
from worker.storage import open_storage
from worker.supervision import RUN_LOCK_ENV, RunLock
from worker.upstreams import open_upstream
from worker.upstreams.settings import LOCAL_URL

log = get_logger("jobs.consume")


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
                    acquire_timeout_s=settings.ratelimit.acquire_timeout_s,
                    limiter_unreachable_exit_s=settings.ratelimit.unreachable_exit_s)


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
            on_settled: Callable[[Outcome], None] | None = None,
            on_consumer: Callable[[QueueConsumer], None] | None = None) -> ConsumerReport:
    """Build the pipeline and a consumer from ``settings`` and run it (signals stop it gracefully).

    Parameters:
        settings: loaded configuration.
        concurrency: threads calling the pipeline (:func:`threads_per_process` when None).
        until_empty: return once the queue is drained.
        on_settled: called with each outcome once its message is acknowledged (progress).
        on_consumer: called with the consumer before it starts (so a watcher can stop it).
    """
    worker_settings = settings.worker.model_copy(
        update={"concurrency": concurrency or threads_per_process(settings)})
    pipeline = build_pipeline(settings, stop_event=threading.Event())
    consumer = QueueConsumer(settings.queue, pipeline, worker_settings,
                             publish_outcomes=settings.outcomes.publish_results, on_settled=on_settled)
    if on_consumer is not None:
        on_consumer(consumer)
    settled = functools.partial(has_outcome, pipeline.outcomes)
    revive = functools.partial(revive_orphaned_rows, settings.queue, settled)
    with stop_on_signals(consumer.request_stop), consumer_lock(queue_lock_path(settings), when_alone=revive), \
            sweeping_delivered_rows(settings.queue, settled):
        return consumer.run(until_empty=until_empty)


def queue_lock_path(settings: Settings) -> Path | None:
    """The lock a consumer holds shared: its run's (when a run started it), else the embedded queue's."""
    given = os.environ.get(RUN_LOCK_ENV)
    return Path(given) if given else embedded_lock_path(settings)


def embedded_lock_path(settings: Settings) -> Path | None:
    """The lock file next to the embedded queue's database (None for other transports)."""
    db = settings.queue.sqlite_path()
    return Path(f"{db}.lock") if db is not None else None


@contextmanager
def consumer_lock(path: Path | None, *, when_alone: Callable[[], object]) -> Iterator[None]:
    """Hold ``path`` shared while the body runs; first, when no other process holds it, call ``when_alone``.

    ``when_alone`` runs holding the lock exclusively, so no consumer starts (nor a run purges) meanwhile.
    """
    if path is None:
        yield
        return
    lock = RunLock(path)
    try:
        if lock.try_exclusive():
            when_alone()
        lock.share()
        yield
    finally:
        lock.release()


def revive_orphaned_rows(queue: QueueSettings, settled: Callable[[bytes | str], bool]) -> int:
    """On the embedded queue, with no other consumer alive: redeliver the messages a dead consumer held.

    The SQLite transport keeps no acknowledgement state: a consumer killed with -9 leaves its messages'
    rows invisible for ever (see :func:`worker.queues.revive_orphans`).
    """
    if not queue.is_embedded:
        return 0
    revived = revive_orphans(queue, settled)
    if revived:
        log.info("worker.revived_orphans", messages=revived,
                 note="messages held by a consumer that died without finishing them are queued again")
    return revived


@contextmanager
def sweeping_delivered_rows(queue: QueueSettings, settled: Callable[[bytes | str], bool],
                            interval_s: float = EMBEDDED_SWEEP_INTERVAL_S) -> Iterator[None]:
    """On the embedded queue, delete settled delivered rows every ``interval_s`` while the body runs, and at the end.

    Without it a worker that runs for weeks keeps one dead row per image in the SQLite file (see
    :func:`worker.queues.forget_delivered`); other transports delete acknowledged messages themselves.
    ``settled(body)`` tells a message done with from one in flight, whose row must outlive a kill -9.
    """
    if not queue.is_embedded:
        yield
        return
    stopped = threading.Event()

    def sweep() -> None:
        try:
            removed = forget_delivered(queue, settled)
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
