"""Run a source to the end: enqueue what has no outcome, consume until drained, check every task has its outcome.

Resumable: interrupted, even by ``kill -9``, the same run finishes the rest, and every image ends with exactly
one outcome. The embedded SQLite queue loses unacknowledged messages on a crash and keeps delivered rows
forever, so with it a run owns the queue: it takes out the messages still pending (tasks redriven or enqueued
by hand: they go back, with the source's tasks, so nothing queued is dropped), purges the rest before
enqueueing (the re-enqueue of every task without an outcome is the reconciliation), and deletes the rows of
delivered messages after a complete run. Shared brokers are never purged.

A run holds its lock file (see :mod:`worker.supervision`) exclusively while it purges and enqueues, then
shared while its workers consume, so a resumed run never overlaps the still-draining workers of a killed one.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.config import Settings
from worker.consumer import QueueConsumer
from worker.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_STOPPED
from worker.jobs.backstop import absorb_backstop
from worker.jobs.consume import consume, embedded_lock_path, revive_orphaned_rows
from worker.jobs.enqueue import EnqueueReport, enqueue_source, ids_with_an_outcome
from worker.jobs.grants import apply_grants, record_grant
from worker.observability import get_logger
from worker.outcomes import OutcomeStore
from worker.pipeline import Outcome, has_outcome
from worker.progress import RunProgress, RunTally
from worker.queues import TaskPublisher, forget_delivered, purge_embedded_queue, take_pending_embedded
from worker.signals import stop_on_signals
from worker.sources import FolderSource, ListFileSource, SingleFileSource, Source
from worker.supervision import RUN_LOCK_ENV, RunLock, run_children, worker_command
from worker.tasks import BadMessage, Task

log = get_logger("jobs.run")

#: Rounds of re-enqueueing tasks still without an outcome after a clean drain (messages lost in transit).
MAX_ROUNDS = 2
#: Tasks a run enqueues ahead of its outcomes while its workers consume (the queue stays this short).
STREAM_AHEAD = 2_000
#: How long a run waits, past the workers' shutdown grace, for the workers of an earlier run to finish.
LOCK_MARGIN_S = 30.0


@dataclass
class RunResult:
    """How a run ended: ``exit_code`` 0 means every task it enqueued has an outcome."""

    exit_code: int = EXIT_OK
    reason: str = ""
    missing: set[str] = field(default_factory=set)
    processing_s: float = 0.0


@dataclass
class RunRequest:
    """What to run and how.

    Parameters:
        source: the images.
        processes: worker processes (1: consume in this process).
        concurrency: threads per process (``worker.concurrency`` when None).
        global_args: the ``cardpipe`` options a child worker needs (``--config``, ``--log-level``).
    """

    source: Source
    processes: int = 1
    concurrency: int | None = None
    global_args: list[str] = field(default_factory=list)


def allow_source_folder(settings: Settings, source: Source) -> None:
    """Naming a local folder (or list, or image) on the command line lets workers of this config read inside it.

    The grant is recorded (see :mod:`worker.jobs.grants`), so a task of this run that is redriven later keeps it,
    and applied with every other grant of the configuration.
    """
    folder = source.root if isinstance(source, FolderSource) else \
        source.path.parent if isinstance(source, ListFileSource | SingleFileSource) else None
    if folder is not None:
        record_grant(settings, folder)
    apply_grants(settings)


def lock_path(settings: Settings) -> Path:
    """The run lock: the embedded queue's (next to its database), else one under the configuration's var/."""
    return embedded_lock_path(settings) or settings.base_dir / "var" / "run.lock"


def run_source(settings: Settings, request: RunRequest, outcomes: OutcomeStore, progress: RunProgress,
               tally: RunTally) -> RunResult:
    """Take every image of ``request.source`` to an outcome; see the module docstring."""
    result = RunResult()
    lock = RunLock(lock_path(settings))
    stop = threading.Event()
    with stop_on_signals(lambda _reason: stop.set()):
        if not lock.acquire_exclusive(timeout_s=settings.worker.shutdown_grace_s + LOCK_MARGIN_S, stop=stop):
            return RunResult(EXIT_STOPPED if stop.is_set() else EXIT_INCOMPLETE,
                             "stopped while waiting for the workers of an earlier run" if stop.is_set() else
                             f"other cardpipe workers still use this queue (lock {lock.path}); stop them first")
    try:
        began = time.monotonic()
        if request.processes == 1:
            enqueued, (result.exit_code, result.reason) = _enqueue_while_processing(
                settings, request, outcomes, progress, tally, lock)
        else:
            enqueued = _enqueue(settings, request.source, outcomes, progress, tally)
            lock.share()
            progress.processing(tally.finished + len(enqueued.task_ids))
            result.exit_code, result.reason = _process(settings, request, tally, progress)
        result.processing_s += time.monotonic() - began
        result.missing = set(enqueued.task_ids)
        for round_index in range(MAX_ROUNDS):
            if result.exit_code == EXIT_OK:
                _take_in_backstop(settings, outcomes, tally)
            result.missing = without_outcome(outcomes, result.missing)
            if result.exit_code != EXIT_OK or not result.missing or round_index == MAX_ROUNDS - 1:
                break
            log.warning("run.reconcile", missing=len(result.missing),
                        note="re-enqueueing tasks that have no outcome")
            with TaskPublisher(settings.queue) as publisher:
                enqueued = enqueue_source(_Ids(request.source, result.missing), outcomes, publisher, keep_ids=True)
            progress.processing(tally.finished + len(enqueued.task_ids))
            began = time.monotonic()
            result.exit_code, result.reason = _process(settings, request, tally, progress)
            result.processing_s += time.monotonic() - began
        if settings.queue.is_embedded and result.exit_code == EXIT_OK:
            # Drop the delivered rows the SQLite transport keeps; a task queued meanwhile (enqueue, redrive)
            # stays, so this never purges.
            forget_delivered(settings.queue, functools.partial(has_outcome, outcomes))
    finally:
        lock.release()
    if result.exit_code == EXIT_OK and result.missing:
        result.exit_code = EXIT_INCOMPLETE
        result.reason = f"{len(result.missing)} image(s) have no outcome; run the same command again to finish them"
    return result


def _enqueue(settings: Settings, source: Source, outcomes: OutcomeStore, progress: RunProgress,
             tally: RunTally) -> EnqueueReport:
    with TaskPublisher(settings.queue) as publisher:
        queued = _reset_embedded_queue(settings, publisher, outcomes)
        report = enqueue_source(source, outcomes, publisher, keep_ids=True, already_queued=queued,
                                on_page=lambda r: progress.enqueueing(r.enqueued + r.skipped))
    tally.already_done = report.skipped
    tally.enqueued = report.enqueued
    return report


def _reset_embedded_queue(settings: Settings, publisher: TaskPublisher, outcomes: OutcomeStore) -> set[str]:
    """On the embedded queue: keep the pending tasks, purge the rest; returns the ids of the tasks kept.

    Pending includes the messages a killed worker held without an outcome (the run holds the lock alone).
    """
    queued: set[str] = set()
    if settings.queue.is_embedded:
        revive_orphaned_rows(settings.queue, functools.partial(has_outcome, outcomes))
        pending = take_pending_embedded(settings.queue)
        stale = purge_embedded_queue(settings.queue)
        for body in pending:
            publisher.publish_task(body)
            task_id = _task_id(body)
            if task_id is not None:
                queued.add(task_id)
        publisher.flush()
        if pending or stale:
            log.info("run.queue_reset", kept_pending=len(pending), purged_delivered=stale,
                     note="tasks of the source without an outcome are enqueued again below")
    return queued


class _ConsumerStopped(Exception):
    """The workers stopped (halted, interrupted) while the source was still being enqueued."""


def _enqueue_while_processing(settings: Settings, request: RunRequest, outcomes: OutcomeStore,
                              progress: RunProgress, tally: RunTally, lock: RunLock
                              ) -> tuple[EnqueueReport, tuple[int, str]]:
    """Enqueue the source on a thread while this thread's workers already consume it.

    Why: enqueueing a whole folder first kept a million-image run from its first outcome for most of an hour.
    The producer stays at most ``STREAM_AHEAD`` tasks ahead of the outcomes (backpressure: the queue, and the
    producer's memory, stay bounded whatever the source's size), and the workers count the queue as drained
    only once the producer is done. The embedded queue is reset first, under the exclusive lock, as before.
    """
    with TaskPublisher(settings.queue) as publisher:
        queued = _reset_embedded_queue(settings, publisher, outcomes)
    lock.share()
    producing = threading.Event()
    producing.set()
    consumer_stopped = threading.Event()
    produced: list[EnqueueReport] = []
    failed: list[BaseException] = []
    settled_before = tally.finished

    def throttle(report: EnqueueReport) -> None:
        while report.enqueued - (tally.finished - settled_before) > STREAM_AHEAD:
            if consumer_stopped.wait(0.05):
                raise _ConsumerStopped()
        if consumer_stopped.is_set():
            raise _ConsumerStopped()

    def produce() -> None:
        report = EnqueueReport()
        try:
            with TaskPublisher(settings.queue) as publisher:
                report = enqueue_source(request.source, outcomes, publisher, keep_ids=True, already_queued=queued,
                                        throttle=throttle, report=report)
        except _ConsumerStopped:
            pass
        except BaseException as exc:  # re-raised on the run's thread once the workers have stopped
            failed.append(exc)
        finally:
            produced.append(report)
            tally.already_done = report.skipped
            tally.enqueued = report.enqueued
            progress.processing(settled_before + report.enqueued)  # the bar's total is known from here on
            producing.clear()

    def watch(consumer: QueueConsumer) -> None:
        consumer.more_coming = producing.is_set

    producer = threading.Thread(target=produce, name="cardpipe-enqueue", daemon=True)
    producer.start()
    progress.processing(0)

    try:
        report = consume(settings, concurrency=request.concurrency, until_empty=True,
                         on_settled=_counter(tally, progress), on_consumer=watch)
    finally:
        consumer_stopped.set()
        producer.join()
    if failed:
        raise failed[0]
    return produced[0], (report.exit_code, report.reason)


def _task_id(body: Any) -> str | None:
    try:
        return Task.from_json(body).id
    except BadMessage:
        return None


def _take_in_backstop(settings: Settings, outcomes: OutcomeStore, tally: RunTally) -> None:
    """Turn what the broker dead-lettered during the run into our dead letters, so those images have outcomes."""
    absorbed = absorb_backstop(settings, outcomes)
    for dead in absorbed.dead_letters:
        tally.add("dead", dead.code)


def without_outcome(outcomes: OutcomeStore, task_ids: set[str]) -> set[str]:
    """The ids of ``task_ids`` that have neither a result nor a dead letter."""
    if not task_ids:
        return set()
    if len(task_ids) < 2000:
        return {task_id for task_id in task_ids if not outcomes.exists(task_id)}
    return task_ids - ids_with_an_outcome(outcomes)


class _Ids(Source):
    """The tasks of ``source`` whose ids are in ``wanted`` (re-enumerated, so each keeps its location)."""

    def __init__(self, source: Source, wanted: set[str]) -> None:
        self.source = source
        self.wanted = wanted
        self.description = source.description

    def pages(self) -> Iterator[list[Task]]:
        for page in self.source.pages():
            kept = [task for task in page if task.id in self.wanted]
            if kept:
                yield kept


# --- processing ---------------------------------------------------------------------------------------------------

def _counter(tally: RunTally, progress: RunProgress) -> Callable[[Outcome], None]:
    """What a consumer in this process calls with each settled outcome: count its leaves, move the bar."""
    def settled(outcome: Outcome) -> None:
        for leaf in outcome.leaves():
            tally.add(leaf.status.value, leaf.code)
        progress.update()

    return settled


def _process(settings: Settings, request: RunRequest, tally: RunTally, progress: RunProgress) -> tuple[int, str]:
    if request.processes == 1:
        report = consume(settings, concurrency=request.concurrency, until_empty=True,
                         on_settled=_counter(tally, progress))
        return report.exit_code, report.reason

    def child_outcome(event: dict[str, Any]) -> None:
        tally.add(str(event.get("status")), event.get("code"))
        progress.update()

    stop = threading.Event()
    # The run's children never open a metrics endpoint: with worker.metrics_port set they would race for it.
    command = worker_command(request.global_args, concurrency=request.concurrency, until_empty=True,
                             metrics_port=0)
    with stop_on_signals(lambda _reason: stop.set()):
        children = run_children(command, request.processes, env=child_environment(settings, request.processes),
                                on_outcome=child_outcome, stop=stop, grace_s=settings.worker.shutdown_grace_s)
    return children.exit_code, children.reason


def child_environment(settings: Settings, processes: int) -> dict[str, str]:
    """The environment of a run's worker processes: this run's readable folders, a share of a local quota."""
    env = dict(os.environ)
    env["CARDPIPE_STORAGE__LOCAL_ROOTS"] = json.dumps([str(root) for root in settings.storage.local_roots])
    env[RUN_LOCK_ENV] = str(lock_path(settings))
    if settings.ratelimit.backend == "local":
        # One local bucket per process: split the quota so that the processes together keep to it.
        env["CARDPIPE_RATELIMIT__RATE"] = repr(settings.ratelimit.rate / processes)
        env["CARDPIPE_RATELIMIT__BURST"] = str(max(1, settings.ratelimit.burst // processes))
    return env
