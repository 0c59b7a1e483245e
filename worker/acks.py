"""Acknowledging settled messages: one by one, or a few at once after a short linger.

Why batch: an ack is a broker round trip of its own (on Redis a MULTI/EXEC of ZREM and HDEL, on RabbitMQ a
``basic.ack`` frame), and it was among the largest costs of the drain thread per message. Two ways to ack
several at once:

- AMQP's ``multiple`` flag acks every delivery up to a tag on the channel, but it would also ack deliveries
  still being worked on, so a ``multiple`` ack covers only the settled head of the delivery order: settled
  messages wait (in memory, their outcome already durable) behind a slower one, and a batch goes out when the
  head of the line settles. When they must not wait — the broker's prefetch window is full of them, so it
  sends nothing more while the slow one lasts (a long call, a retry's backoff) — a forced flush acks each
  settled message behind the head on its own.
- A group ack (``ack_group``, e.g. :meth:`worker.redis_transport.Channel.ack_messages`) acks any set of
  messages in one round trip.

Either way, settled messages may wait a little (``linger_s``, or until ``max_waiting`` of them are waiting) so
that one ack covers several. Nothing is acked before its outcome is written, and nothing is acked twice; a
message waiting for its ack when the worker dies is redelivered, and its stored outcome makes that a skip.
Transports with neither (SQS, SQLite: kombu's virtual channels ack only the tag given) ack each message as it
settles.

>>> acks = AckBatcher(batch=False)
>>> acks.pending
0
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class Ackable(Protocol):
    delivery_tag: object

    def ack(self, multiple: bool = False) -> None: ...


class AckBatcher:
    """Acks for the messages of one channel (make a new one for each channel: delivery tags restart).

    Parameters:
        batch: use ``multiple`` acks (AMQP only).
        ack_group: acks a list of messages in one round trip (used when ``batch`` is False).
        max_waiting: a flush acks at once when this many settled messages wait for their ack.
        linger_s: otherwise, a flush acks once the oldest waiting message has waited this long.
        clock: monotonic seconds; injectable for tests.
    """

    def __init__(self, *, batch: bool, ack_group: Callable[[list[Ackable]], None] | None = None,
                 max_waiting: int = 1, linger_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.batch = batch
        self.ack_group = None if batch else ack_group
        self.max_waiting = max(1, max_waiting)
        self.linger_s = linger_s
        self._clock = clock
        self._delivered: deque[Ackable] = deque()
        self._settled: set[int] = set()
        self._to_ack: set[int] = set()
        self._group: list[Ackable] = []
        self._waiting_since: float | None = None

    @property
    def pending(self) -> int:
        """Settled messages not yet acked (lingering, or waiting behind an unsettled earlier delivery)."""
        return len(self._to_ack) + len(self._group)

    def delivered(self, message: Ackable) -> None:
        """Record a delivery, in the channel's delivery order."""
        if self.batch:
            self._delivered.append(message)

    def settled(self, message: Ackable, *, ack: bool) -> None:
        """The message is done with: ``ack`` once its outcome is durable, or not (it was requeued/rejected)."""
        if self.batch:
            self._settled.add(id(message))
            if ack:
                self._to_ack.add(id(message))
        elif ack and self.ack_group is not None:
            self._group.append(message)
        else:
            if ack:
                message.ack()
            return
        if ack and self._waiting_since is None:
            self._waiting_since = self._clock()

    def due(self) -> bool:
        """Whether a flush would ack now: enough messages wait, or the oldest has waited ``linger_s``."""
        waiting = self.pending
        if not waiting:
            return False
        if waiting >= self.max_waiting or self._waiting_since is None:
            return True
        return self._clock() - self._waiting_since >= self.linger_s

    def flush(self, *, force: bool = False) -> int:
        """Ack what may be acked, when :meth:`due` (or ``force``); returns how many messages were acked."""
        if not (force and self.pending) and not self.due():
            return 0
        covered = self._flush_group() if self.ack_group is not None else self._flush_multiple(force=force)
        self._waiting_since = self._clock() if self.pending else None
        return covered

    def _flush_group(self) -> int:
        group, self._group = self._group, []
        if group:
            assert self.ack_group is not None
            self.ack_group(group)
        return len(group)

    def _flush_multiple(self, *, force: bool = False) -> int:
        """One ``multiple`` ack for the settled messages at the head of the delivery order; with ``force``,
        also a plain ack for each settled message behind an unsettled head (a later ``multiple`` ack may cover
        their tags again: it acks only what is still outstanding)."""
        if not self.batch:
            return 0
        last: Ackable | None = None
        covered = 0
        while self._delivered and id(self._delivered[0]) in self._settled:
            message = self._delivered.popleft()
            self._settled.discard(id(message))
            if id(message) in self._to_ack:
                self._to_ack.discard(id(message))
                last = message
                covered += 1
        if last is not None:
            last.ack(multiple=True)
        if force and self._to_ack:
            for message in self._delivered:
                if id(message) in self._to_ack:
                    self._to_ack.discard(id(message))
                    message.ack()
                    covered += 1
        return covered
