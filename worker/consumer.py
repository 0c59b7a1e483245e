"""The kombu consumer: a drain loop on one thread, the pipeline on a pool of worker threads.

Why two kinds of thread: the API is I/O-bound, so ``concurrency`` threads call it at once, while the broker
connection is not thread-safe and needs heartbeats. So only the drain thread talks to the broker: it receives
messages (at most ``prefetch`` unacknowledged), hands each to the pool, and takes completions back through a
queue to ack them. A message is acked only after its outcome is written; a message whose task was not finished
(outage, shutdown) is rejected with requeue; an unexpected exception is that message's ``internal_error`` dead
letter, never a stop; on :class:`~worker.pipeline.HaltError` (a condition every message would meet) the
consumer stops, puts back every message it holds, and reports why with the condition's exit code. The broker
connection is opened through :func:`worker.broker.connect`: bounded in time, a refused login told apart.

>>> consumer = QueueConsumer(queue_settings, pipeline, WorkerSettings(concurrency=8))  # doctest: +SKIP
>>> report = consumer.run(until_empty=True)  # doctest: +SKIP
>>> report.exit_code
0
"""

from __future__ import annotations

import contextlib
import queue as stdlib_queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kombu
from kombu.message import Message

from worker.acks import AckBatcher
from worker.broker import (
    EXIT_BROKER_DOWN,
    BrokerUnavailable,
    connect,
    connection_errors,
    describe,
    is_login_refused,
    masked_url,
)
from worker.exit_codes import EXIT_HALTED, EXIT_LIMITER_DOWN, EXIT_OK, EXIT_OUTAGE, EXIT_STOPPED
from worker.observability import get_logger
from worker.pipeline import HaltError, Outcome, OutcomeStatus, Pipeline
from worker.queues import QueueSettings, connection, task_queue, task_queues
from worker.worker_settings import WorkerSettings

log = get_logger("consumer")

#: Settled messages wait at most about this long for their ack, so that one ack covers several (worker.acks).
ACK_LINGER_S = 0.01

__all__ = ["EXIT_BROKER_DOWN", "EXIT_HALTED", "EXIT_LIMITER_DOWN", "EXIT_OK", "EXIT_OUTAGE", "EXIT_STOPPED",
           "ConsumerReport", "QueueConsumer", "WorkerSettings"]


@dataclass
class ConsumerReport:
    """What one consumer run did; ``exit_code`` 0 means it stopped because it was asked to or the queue drained."""

    counts: Counter[str] = field(default_factory=Counter)
    dead_by_code: Counter[str] = field(default_factory=Counter)
    exit_code: int = EXIT_OK
    reason: str = ""

    def add(self, outcome: Outcome) -> None:
        for leaf in outcome.leaves():
            self.counts[leaf.status.value] += 1
            if leaf.status is OutcomeStatus.DEAD:
                self.dead_by_code[leaf.code or "?"] += 1


@dataclass
class _Done:
    message: Message
    outcome: Outcome | None = None
    halt: HaltError | None = None
    started: bool = True


class QueueConsumer:
    """Consume the task queue with a thread pool until stopped, halted, or (``until_empty``) drained.

    Parameters:
        queue_settings: broker URL, queue names, prefetch.
        pipeline: processes one message body into an outcome.
        settings: concurrency and stop rules.
        publish_outcomes: also publish each outcome's JSON to the results / dead-letter queue.
        on_settled: called on the drain thread with each outcome once its message is acked (progress).
    """

    def __init__(self, queue_settings: QueueSettings, pipeline: Pipeline, settings: WorkerSettings, *,
                 publish_outcomes: bool = False, on_settled: Callable[[Outcome], None] | None = None) -> None:
        self.on_settled = on_settled
        self._producer: kombu.Producer | None = None
        self.queue_settings = queue_settings
        self.pipeline = pipeline
        self.settings = settings
        self.publish_outcomes = publish_outcomes
        self.prefetch = queue_settings.prefetch or settings.concurrency * settings.prefetch_multiplier
        # SimpleQueue: implemented in C, a fraction of Queue's locking cost per hand-off (no join or maxsize here).
        self._done: stdlib_queue.SimpleQueue[_Done] = stdlib_queue.SimpleQueue()
        self._stop = threading.Event()
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._acks = AckBatcher(batch=False)
        #: With ``until_empty``: while this answers True, an empty queue is not drained (a producer still runs).
        self.more_coming: Callable[[], bool] = lambda: False
        self.report = ConsumerReport()

    # --- control ----------------------------------------------------------------------------------------------

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop taking messages; in-flight ones finish, the rest go back. Safe from any thread (not from a signal
        handler: it sets Events, which take locks; see :mod:`worker.signals`)."""
        if not self._stop.is_set():
            self.report.reason = self.report.reason or reason
            if self.report.exit_code == EXIT_OK:
                self.report.exit_code = EXIT_STOPPED
            self._stop.set()
            self.pipeline.stop_event.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- the loop ---------------------------------------------------------------------------------------------

    def run(self, *, until_empty: bool = False) -> ConsumerReport:
        """Consume until stopped (or drained, with ``until_empty``); returns the report (never raises on halt).

        A broker that cannot be reached, or refuses our login, ends the run with exit code 4 after
        ``queue.unreachable_exit_s`` (at once for a refused login); a connection lost mid-run is reopened
        within the same bound.
        """
        with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="cardpipe-worker") as pool:
            while not self.stopping:
                conn = connection(self.queue_settings)
                try:
                    if not connect(conn, url=self.queue_settings.url,
                                   timeout_s=self.queue_settings.unreachable_exit_s, stop=self._stop,
                                   max_attempts=self.settings.reconnect_attempts):
                        break
                except BrokerUnavailable as exc:
                    self._abandon_in_flight()
                    self._finish(EXIT_BROKER_DOWN, str(exc))
                    break
                try:
                    with conn:
                        self._consume(conn, pool, until_empty=until_empty)
                except connection_errors(conn) as exc:
                    self._abandon_in_flight()
                    if is_login_refused(exc):
                        self._finish(EXIT_BROKER_DOWN, str(BrokerUnavailable(self.queue_settings.url, describe(exc),
                                                                             login_refused=True)))
                        break
                    log.warning("broker.lost", url=masked_url(self.queue_settings.url), error=describe(exc))
                else:
                    break
        return self.report

    def _consume(self, conn: kombu.Connection, pool: ThreadPoolExecutor, *, until_empty: bool) -> None:
        channel = conn.channel()
        self._acks = self._ack_batcher(channel)  # delivery tags are per channel
        queue = task_queue(self.queue_settings)
        for declared in task_queues(self.queue_settings):
            declared(channel).declare()
        consumer = kombu.Consumer(channel, queues=[queue], on_message=lambda m: self._submit(pool, m),
                                  prefetch_count=self.prefetch, auto_declare=False)
        self._producer = kombu.Producer(channel) if self.publish_outcomes else None
        consumer.qos(prefetch_count=self.prefetch)
        consumer.consume()
        self._last_activity = time.monotonic()
        log.info("consumer.started", queue=queue.name, prefetch=self.prefetch,
                 concurrency=self.settings.concurrency)
        try:
            while not self.stopping:
                if self._acks.pending and self._in_flight + self._acks.pending >= self.prefetch:
                    # The broker sends nothing more until something is acked: lingering would idle the threads.
                    self._acks.flush(force=True)
                if self._in_flight >= self.prefetch:
                    # Prefetch is full: the broker sends nothing more until something is acked, so mostly wait
                    # for completions; but still read the socket briefly, or the broker's heartbeats go unread
                    # and a long wait (an open circuit, a slow limiter) ends in "too many heartbeats missed".
                    self._handle_completions(block_s=0.05)
                    if self.queue_settings.is_amqp:
                        with contextlib.suppress(TimeoutError, socket.timeout):
                            conn.drain_events(timeout=0.01)
                else:
                    # Short timeouts while tasks run or acks linger, so that finished ones are acked promptly.
                    busy = self._in_flight or self._acks.pending
                    with contextlib.suppress(TimeoutError, socket.timeout):
                        conn.drain_events(timeout=0.02 if busy else 0.25 if until_empty else 1.0)
                conn.heartbeat_check()
                self._handle_completions()
                if until_empty and self._drained():
                    self._finish(EXIT_OK, "the queue is drained")
                    break
                self._check_outage(until_empty)
        finally:
            self._wind_down(consumer)
            channel.close()

    def _ack_batcher(self, channel: Any) -> AckBatcher:
        """Acks for ``channel``: AMQP multiple-acks, or group acks where the channel has them (Redis), each
        covering the messages settled within :data:`ACK_LINGER_S` (at most half the threads' worth, so the
        broker's prefetch window never waits on them); otherwise one ack per message."""
        linger = {"max_waiting": max(1, self.settings.concurrency // 2), "linger_s": ACK_LINGER_S}
        if self.queue_settings.is_amqp:
            return AckBatcher(batch=True, **linger)
        ack_group = getattr(channel, "ack_messages", None)
        if ack_group is not None:
            return AckBatcher(batch=False, ack_group=ack_group, **linger)
        return AckBatcher(batch=False)

    def _drained(self) -> bool:
        return self._in_flight == 0 and time.monotonic() - self._last_activity >= self.settings.idle_exit_s \
            and not self.more_coming()

    def _check_outage(self, until_empty: bool) -> None:
        open_for = self.pipeline.breaker.open_for_s
        if until_empty and open_for >= self.settings.outage_exit_s:
            self._finish(EXIT_OUTAGE, f"the upstream has been failing for {open_for:.0f} s (circuit open); "
                                      "the remaining tasks are still queued")

    def _finish(self, exit_code: int, reason: str) -> None:
        if not self.stopping:
            self.report.exit_code = exit_code
            self.report.reason = reason
            self._stop.set()
            self.pipeline.stop_event.set()

    # --- messages ---------------------------------------------------------------------------------------------

    def _submit(self, pool: ThreadPoolExecutor, message: Message) -> None:
        self._in_flight += 1
        self._last_activity = time.monotonic()
        self._acks.delivered(message)
        pool.submit(self._work, message)

    def _work(self, message: Message) -> None:
        """On a pool thread: run the pipeline; never raises (the completion carries the result)."""
        if self.stopping:
            self._done.put(_Done(message, started=False))
            return
        try:
            outcome = self.pipeline.process_message(message.body)
            self._done.put(_Done(message, outcome=outcome))
        except HaltError as exc:
            self._done.put(_Done(message, halt=exc))
        except Exception as exc:  # a bug is this message's dead letter, never a halt of the worker
            try:
                outcome = self.pipeline.internal_error(message.body, exc)
                self._done.put(_Done(message, outcome=outcome))
            except HaltError as halt:
                self._done.put(_Done(message, halt=halt))
            except Exception as again:  # the dead letter itself failed: the message goes back, the worker stops
                self._done.put(_Done(message, halt=HaltError("internal_error", describe(again))))
        except BaseException:  # SystemExit, KeyboardInterrupt: give the message back, then let it go
            self._done.put(_Done(message, started=False))
            raise

    def _handle_completions(self, *, block_s: float = 0.0) -> None:
        """Settle every completion waiting; with ``block_s``, first wait up to that long for one to arrive.

        Returns as soon as the waiting completions are settled: waiting out the whole deadline after some
        arrived would hold freed prefetch slots idle (with a full window, every round trip).
        """
        deadline = time.monotonic() + block_s
        while True:
            try:
                remaining = deadline - time.monotonic()
                done = self._done.get(timeout=remaining) if remaining > 0 else self._done.get_nowait()
            except stdlib_queue.Empty:
                self._acks.flush()
                return
            deadline = 0.0
            self._in_flight -= 1
            self._last_activity = time.monotonic()
            self._settle(done)

    def _settle(self, done: _Done) -> None:
        if done.halt is not None:
            log.error("consumer.halt", code=done.halt.code, reason=done.halt.reason)
            self._finish(done.halt.exit_code, done.halt.reason)
            self._requeue(done.message)
            return
        if not done.started or done.outcome is None:
            self._requeue(done.message)
            return
        outcome = done.outcome
        if outcome.status is OutcomeStatus.REQUEUE:
            self._requeue(done.message)
            return
        self.report.add(outcome)
        if self._producer is not None:
            self._publish(outcome)
        self._acks.settled(done.message, ack=True)
        if self.on_settled is not None:
            try:
                self.on_settled(outcome)
            except Exception as exc:  # progress display only: never mistaken for a broker failure
                log.warning("consumer.on_settled_failed", error=describe(exc))

    def _requeue(self, message: Message) -> None:
        _requeue(message)
        self._acks.settled(message, ack=False)

    def _publish(self, outcome: Outcome) -> None:
        store = self.pipeline.outcomes
        for leaf in outcome.leaves():
            if leaf.task_id is None or leaf.status not in {OutcomeStatus.OK, OutcomeStatus.DEAD}:
                continue
            if leaf.status is OutcomeStatus.OK:
                record: Any = store.read_result(leaf.task_id)
                target = self.queue_settings.results
            else:
                record = store.read_dead_letter(leaf.task_id)
                target = self.queue_settings.dead_letters
            if record is None or self._producer is None:
                continue
            self._producer.publish(record.model_dump_json(), exchange=task_queue(self.queue_settings).exchange,
                                   routing_key=target, content_type="application/json", content_encoding="utf-8",
                                   delivery_mode=2, declare=[_queue_named(self.queue_settings, target)])

    def _wind_down(self, consumer: kombu.Consumer) -> None:
        """Stop receiving, let started tasks finish (bounded), put back what did not start."""
        try:
            consumer.cancel()
        except Exception as exc:  # the channel may already be gone
            log.debug("consumer.cancel_failed", error=str(exc))
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        while self._in_flight > 0 and time.monotonic() < deadline:
            self._handle_completions(block_s=0.5)
        try:
            self._acks.flush(force=True)
        except Exception as exc:  # the channel is gone: the broker redelivers them, their outcomes make it a skip
            log.warning("consumer.ack_failed", pending=self._acks.pending, error=describe(exc))
        if self._in_flight > 0:
            log.warning("consumer.abandoned", in_flight=self._in_flight,
                        note="the broker redelivers them; their outcomes, once written, make the redelivery a skip")

    def _abandon_in_flight(self) -> None:
        """After a lost connection, acks for old deliveries are impossible: wait, then forget them."""
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        while self._in_flight > 0 and time.monotonic() < deadline:
            try:
                done = self._done.get(timeout=0.5)
            except stdlib_queue.Empty:
                continue
            self._in_flight -= 1
            if done.outcome is not None and done.outcome.status is not OutcomeStatus.REQUEUE:
                self.report.add(done.outcome)
            if done.halt is not None:
                self._finish(done.halt.exit_code, done.halt.reason)


def _requeue(message: Message) -> None:
    try:
        message.requeue()
    except Exception as exc:  # a closed channel gives the message back by itself
        log.warning("consumer.requeue_failed", error=str(exc))


def _queue_named(settings: QueueSettings, name: str) -> kombu.Queue:
    return kombu.Queue(name, task_queue(settings).exchange, routing_key=name, durable=True)
