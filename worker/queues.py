"""The queue topology and broker connection settings (kombu), shared by the producer and the consumer.

One direct exchange, ``cardpipe``, routes to three queues by name: tasks, results and dead letters. Queue
names use dashes because SQS does not accept dots. On RabbitMQ the task queue can be a quorum queue with a
delivery limit and the broker's dead-letter exchange as a backstop (a message that keeps crashing workers
ends in the dead-letter queue instead of looping forever); cardpipe's own dead letters stay the primary path.

>>> settings = QueueSettings(url="amqp://guest:guest@127.0.0.1:5672//", quorum=True)
>>> task_queue(settings).queue_arguments["x-queue-type"]
'quorum'
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import kombu

from worker.broker import CONNECT_TIMEOUT_S, BrokerUnavailable, connect, connection_errors, describe
from worker.observability import get_logger
from worker.queue_settings import QueueSettings

log = get_logger("queues")

EXCHANGE_NAME = "cardpipe"

#: How long a process waits for another one's write lock on the embedded queue before failing.
SQLITE_BUSY_TIMEOUT_S = 60.0

#: How often a worker on the embedded queue deletes the rows of messages already delivered (see
#: :func:`forget_delivered`).
EMBEDDED_SWEEP_INTERVAL_S = 60.0

#: The embedded transport polls SQLite; the default 1 s poll would idle workers between bursts.
EMBEDDED_POLLING_INTERVAL_S = 0.1


def connection(settings: QueueSettings) -> kombu.Connection:
    """A kombu connection for ``settings`` (not yet connected); creates the embedded database's directory."""
    options = dict(settings.transport_options)
    if settings.is_embedded:
        # Everything else in the options goes to SQLAlchemy's create_engine: wait for a busy database (other
        # worker processes) rather than fail with "database is locked".
        db_path = settings.sqlite_path()
        if db_path is not None:
            os.makedirs(db_path.parent if db_path.parent != Path("") else Path("."), exist_ok=True)
            options.setdefault("creator", functools.partial(_open_sqlite, str(db_path)))
    heartbeat = settings.heartbeat_s if settings.is_amqp else 0
    transport: Any = None
    if settings.scheme == "redis":
        from worker.redis_transport import Transport as transport  # one Redis client per channel
    elif settings.is_amqp:
        from worker.amqp_transport import Transport as transport  # frames read ahead, timeouts set lazily
    conn = kombu.Connection(settings.url, transport=transport, transport_options=options, heartbeat=heartbeat or None,
                            connect_timeout=CONNECT_TIMEOUT_S)
    if settings.is_embedded and "polling_interval" not in options:
        # Not a transport option here: the SQLAlchemy transport would hand it to create_engine.
        conn.transport.polling_interval = EMBEDDED_POLLING_INTERVAL_S
    return conn


def _open_sqlite(path: str) -> sqlite3.Connection:
    """A connection to the embedded queue's database, tuned for a queue rather than for a ledger.

    Why: in SQLite's default rollback-journal mode every publish and every fetch is a transaction with several
    fsyncs (~20 ms here), which capped the embedded queue at a few dozen messages a second. Write-ahead logging
    with ``synchronous=NORMAL`` keeps every commit safe from a process crash (kill -9 included) and loses at
    most the last commits on a power cut, which ``cardpipe run``'s reconciliation re-enqueues anyway. The busy
    timeout lets several worker processes share the file without "database is locked".
    """
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def exchange() -> kombu.Exchange:
    return kombu.Exchange(EXCHANGE_NAME, type="direct", durable=True)


def task_queue(settings: QueueSettings) -> kombu.Queue:
    arguments: dict[str, Any] = {}
    if settings.quorum and settings.is_amqp:
        arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.delivery_limit,
            "x-dead-letter-exchange": EXCHANGE_NAME,
            "x-dead-letter-routing-key": settings.backstop,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return kombu.Queue(settings.tasks, exchange(), routing_key=settings.tasks, durable=True,
                       queue_arguments=arguments or None)


def backstop_queue(settings: QueueSettings) -> kombu.Queue:
    """Where a quorum task queue dead-letters a message after ``delivery_limit`` deliveries."""
    return kombu.Queue(settings.backstop, exchange(), routing_key=settings.backstop, durable=True)


def uses_backstop(settings: QueueSettings) -> bool:
    return settings.quorum and settings.is_amqp


def task_queues(settings: QueueSettings) -> list[kombu.Queue]:
    """The task queue, and the backstop queue before it when the broker dead-letters into one."""
    return [backstop_queue(settings), task_queue(settings)] if uses_backstop(settings) else [task_queue(settings)]


def results_queue(settings: QueueSettings) -> kombu.Queue:
    return kombu.Queue(settings.results, exchange(), routing_key=settings.results, durable=True)


def dead_letter_queue(settings: QueueSettings) -> kombu.Queue:
    return kombu.Queue(settings.dead_letters, exchange(), routing_key=settings.dead_letters, durable=True)


def purge_embedded_queue(settings: QueueSettings) -> int:
    """Empty the embedded task queue, delivered-but-kept rows included (the SQLite transport never deletes them).

    Only for the embedded transport, where the queue belongs to the one ``cardpipe run`` that uses it; returns
    the number of pending messages removed.
    """
    if not settings.is_embedded:
        raise ValueError("only the embedded queue is purged; shared brokers are never purged")
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        queue.declare()
        return int(queue.purge() or 0)


def take_pending_embedded(settings: QueueSettings) -> list[Any]:
    """Take every message still waiting in the embedded task queue out of it; returns their bodies.

    ``cardpipe run`` puts them back after it purges the queue, so a task queued by hand or by a redrive is
    never dropped by a run of another source.
    """
    if not settings.is_embedded:
        raise ValueError("only the embedded queue is taken out this way")
    bodies: list[Any] = []
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        queue.declare()
        while (message := queue.get(no_ack=True)) is not None:
            bodies.append(message.body)
    return bodies


def forget_delivered(settings: QueueSettings, settled: Callable[[bytes | str], bool]) -> int:
    """Delete the embedded queue's rows of messages delivered and settled; returns how many were deleted.

    Why: kombu's SQLAlchemy transport marks a fetched message invisible and keeps its row for ever, so a
    long-running ``cardpipe worker`` on the embedded queue would grow the database by one row per image. The
    transport keeps no acknowledgement state, so an invisible row is either done with or held by a consumer;
    only ``settled(body)`` (its outcome is stored) tells them apart. The row of a message in flight stays, so
    that a consumer killed with -9 leaves it for :func:`revive_orphans`. Pending (visible) rows are never touched.
    """
    done = [row_id for row_id, body in _invisible_rows(settings) if body is not None and settled(body)]
    return _by_ids(settings, 'DELETE FROM "{table}" WHERE id IN ({ids})', done)


def revive_orphans(settings: QueueSettings, settled: Callable[[bytes | str], bool]) -> int:
    """Make the embedded queue's delivered but unsettled rows visible again; returns how many.

    Only for when no consumer of the queue is alive (its lock taken): every invisible row is then either
    settled or was held by a consumer that died without acknowledging it (kill -9), whose message the
    transport would otherwise never deliver again. A consumer that gave a message back (requeue) published
    it afresh as a new row and left the old one invisible: such a copy, and any second invisible copy, is
    deleted rather than revived, so that two consumers never work on one message at once (two paid calls).
    A revived message whose outcome appears meanwhile is a skip.
    """
    orphans: dict[bytes | str, list[int]] = {}
    for row_id, body in _invisible_rows(settings):
        if body is not None and not settled(body):
            orphans.setdefault(body, []).append(row_id)
    if not orphans:
        return 0
    queued_again = _visible_among(settings, orphans.keys())
    revive = [ids[0] for body, ids in orphans.items() if body not in queued_again]
    copies = [row_id for body, ids in orphans.items() for row_id in (ids if body in queued_again else ids[1:])]
    _by_ids(settings, 'DELETE FROM "{table}" WHERE id IN ({ids})', copies)
    return _by_ids(settings, 'UPDATE "{table}" SET visible = 1 WHERE id IN ({ids})', revive)


def _message_table(settings: QueueSettings) -> str:
    table = str(settings.transport_options.get("message_tablename", "kombu_message"))
    if not table.replace("_", "").isalnum():
        raise ValueError(f"unexpected message table name {table!r}")
    return table


def _invisible_rows(settings: QueueSettings) -> list[tuple[int, bytes | str | None]]:
    """The id and message body of every invisible row, oldest first (body None when not a kombu message)."""
    with _message_rows(settings, visible=False) as rows:
        return list(rows)


def _visible_among(settings: QueueSettings, bodies: Iterable[bytes | str]) -> set[bytes | str]:
    """Those of ``bodies`` that a pending (visible) row also carries; reads the rows one at a time."""
    wanted = set(bodies)
    with _message_rows(settings, visible=True) as rows:
        return {body for _row_id, body in rows if body is not None and body in wanted}


@contextlib.contextmanager
def _message_rows(settings: QueueSettings, *, visible: bool) -> Iterator[Iterator[tuple[int, bytes | str | None]]]:
    path = settings.sqlite_path()
    if path is None or not path.exists():
        yield iter(())
        return
    table = _message_table(settings)
    conn = _open_sqlite(str(path))
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if not exists:
            yield iter(())
            return
        cursor = conn.execute(f'SELECT id, payload FROM "{table}" WHERE visible = ? ORDER BY id', (int(visible),))
        yield ((int(row_id), _message_body(payload)) for row_id, payload in cursor)
    finally:
        conn.close()


def _message_body(payload: bytes | str) -> bytes | str | None:
    """The body kombu's virtual transport stored in ``payload``, as a consumer would receive it."""
    try:
        envelope = json.loads(payload)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            return base64.b64decode(body)
        return body if isinstance(body, str | bytes) else None
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return None


#: Row ids per statement, well under SQLite's limit on bound parameters.
_IDS_PER_STATEMENT = 500


def _by_ids(settings: QueueSettings, statement: str, ids: list[int]) -> int:
    """Run ``statement`` (with ``{table}`` and ``{ids}`` placeholders) over ``ids`` in one transaction."""
    path = settings.sqlite_path()
    if not ids or path is None:
        return 0
    table = _message_table(settings)
    conn = _open_sqlite(str(path))
    changed = 0
    try:
        with conn:
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                chunk = ids[start:start + _IDS_PER_STATEMENT]
                sql = statement.format(table=table, ids=", ".join("?" * len(chunk)))
                changed += conn.execute(sql, chunk).rowcount
    finally:
        conn.close()
    return changed


def pending_count(settings: QueueSettings) -> int | None:
    """Messages waiting in the task queue, when the transport can tell (None otherwise)."""
    with connection(settings) as conn:
        try:
            declared = task_queue(settings)(conn.default_channel).queue_declare(passive=False)
        except Exception:  # transports without a message count
            return None
        return int(getattr(declared, "message_count", 0) or 0)


class TaskPublisher:
    """Publishes tasks (and, when asked, outcomes) on one connection, riding out broker hiccups.

    On RabbitMQ with ``confirm_publish`` the channel is in confirm mode: tasks are published without waiting,
    and :meth:`flush` (called every ``confirm_batch`` tasks, after each page of a source, and on close) waits
    for the broker's acknowledgements, so a broker crash cannot drop a task silently and enqueueing still
    costs one round trip per batch, not per task. A lost connection is reopened (within
    ``queue.unreachable_exit_s``) and the unconfirmed tasks are published again: a duplicate costs nothing,
    its outcome makes it a skip.

    >>> with TaskPublisher(QueueSettings(url="memory://")) as publisher:  # doctest: +SKIP
    ...     publisher.publish_task(task)
    """

    def __init__(self, settings: QueueSettings, *, conn: kombu.Connection | None = None) -> None:
        self.settings = settings
        self._own_connection = conn is None
        self.conn = conn or connection(settings)
        self._producer: kombu.Producer | None = None
        self._declared: set[str] = set()
        self._confirms = settings.confirm_publish and settings.is_amqp
        self._unconfirmed: list[tuple[str | bytes, kombu.Queue]] = []
        self._published = 0
        self._acked = 0
        self._nacked = 0

    def __enter__(self) -> TaskPublisher:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()

    def close(self) -> None:
        if self._own_connection:
            self.conn.release()

    def _open(self) -> kombu.Producer:
        if self._producer is None:
            if not connect(self.conn, url=self.settings.url, timeout_s=self.settings.unreachable_exit_s):
                raise BrokerUnavailable(self.settings.url, "stopped while connecting")
            channel = self.conn.channel()
            if self._confirms:
                channel.confirm_select()
                channel.events["basic_ack"].add(self._on_ack)
                channel.events["basic_nack"].add(self._on_nack)
                self._published = self._acked = self._nacked = 0
            self._producer = kombu.Producer(channel)
            self._declared.clear()
        return self._producer

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._acked = delivery_tag if multiple else self._acked + 1

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked += 1
        self._acked = delivery_tag if multiple else self._acked + 1

    def _send(self, body: str | bytes, queue: kombu.Queue) -> None:
        producer = self._open()
        declare = [] if queue.name in self._declared else self._topology(queue)
        producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key, declare=declare,
                         content_type="application/json", content_encoding="utf-8", delivery_mode=2)
        self._declared.add(queue.name)
        self._published += 1

    def _topology(self, queue: kombu.Queue) -> list[kombu.Queue]:
        return task_queues(self.settings) if queue.name == self.settings.tasks else [queue]

    def _publish(self, body: str | bytes, queue: kombu.Queue) -> None:
        self._unconfirmed.append((body, queue))
        self._with_reconnect(lambda: self._send(body, queue))
        if not self._confirms:
            self._unconfirmed.clear()
        elif len(self._unconfirmed) >= self.settings.confirm_batch:
            self.flush()

    def _with_reconnect(self, action: Callable[[], None], *, after_resend: Callable[[], None] | None = None) -> None:
        """Run ``action``; on a lost connection reconnect, publish the unconfirmed again, then ``after_resend``."""
        errors = connection_errors(self.conn)
        started = time.monotonic()
        while True:
            try:
                action()
                return
            except BrokerUnavailable:
                raise
            except errors as exc:
                if time.monotonic() - started > self.settings.unreachable_exit_s:
                    raise BrokerUnavailable(self.settings.url, describe(exc)) from None
                log.warning("broker.publish_failed", error=describe(exc), unconfirmed=len(self._unconfirmed))
                self._producer = None
                with contextlib.suppress(Exception):
                    self.conn.close()
                self.conn = connection(self.settings)
                pending = list(self._unconfirmed)

                def again(pending: list[tuple[str | bytes, kombu.Queue]] = pending) -> None:
                    for body, queue in pending:
                        self._send(body, queue)
                    if after_resend is not None:
                        after_resend()

                action = again

    def flush(self) -> None:
        """Wait until the broker has confirmed every task published so far (RabbitMQ; a no-op elsewhere).

        Raises:
            BrokerUnavailable: the broker refused some tasks, or could not be reached to confirm them.
        """
        if not self._confirms or not self._unconfirmed:
            return

        def wait() -> None:
            deadline = time.monotonic() + self.settings.unreachable_exit_s
            while self._acked < self._published:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrokerUnavailable(self.settings.url, f"no confirm for {self._published - self._acked} "
                                                               "task(s)")
                with contextlib.suppress(TimeoutError, socket.timeout):
                    self.conn.drain_events(timeout=min(1.0, remaining))

        self._with_reconnect(wait, after_resend=wait)
        if self._nacked:
            refused = self._nacked
            self._nacked = 0
            raise BrokerUnavailable(self.settings.url, f"the broker refused {refused} task(s) (queue full?)")
        self._unconfirmed.clear()

    @property
    def all_confirmed(self) -> bool:
        """True when every task published so far is known to be on the broker (always, without confirms)."""
        return not self._unconfirmed

    def publish_task(self, task_json: str | bytes) -> None:
        self._publish(task_json, task_queue(self.settings))

    def publish_result(self, outcome_json: str) -> None:
        self._publish(outcome_json, results_queue(self.settings))

    def publish_dead_letter(self, outcome_json: str) -> None:
        self._publish(outcome_json, dead_letter_queue(self.settings))

