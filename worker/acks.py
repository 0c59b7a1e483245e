"""Acknowledging settled messages: one by one, or on AMQP one ``multiple`` ack per run of consecutive deliveries.

Why: on RabbitMQ a ``basic.ack`` per message was the largest single cost of the drain thread (a frame
encoded and written per message). AMQP's ``multiple`` flag acks every delivery up to a tag on the channel at
once, but it would also ack deliveries still being worked on, so a message is acked only when every message
delivered before it on the channel is settled too: settled messages wait (in memory, their outcome already
durable) behind a slower one, and a batch goes out when the head of the line settles. Nothing is acked before
its outcome is written, and nothing is acked twice. Transports without a real ``multiple`` ack (Redis, SQS,
SQLite: kombu's virtual channels ack only the tag given) ack each message as it settles.

>>> acks = AckBatcher(batch=False)
>>> acks.pending
0
"""

from __future__ import annotations

from collections import deque
from typing import Protocol


class Ackable(Protocol):
    delivery_tag: object

    def ack(self, multiple: bool = False) -> None: ...


class AckBatcher:
    """Acks for the messages of one channel (make a new one for each channel: delivery tags restart).

    Parameters:
        batch: use ``multiple`` acks (AMQP only).
    """

    def __init__(self, *, batch: bool) -> None:
        self.batch = batch
        self._delivered: deque[Ackable] = deque()
        self._settled: set[int] = set()
        self._to_ack: set[int] = set()

    @property
    def pending(self) -> int:
        """Settled messages not yet acked (waiting behind an unsettled earlier delivery)."""
        return len(self._to_ack)

    def delivered(self, message: Ackable) -> None:
        """Record a delivery, in the channel's delivery order."""
        if self.batch:
            self._delivered.append(message)

    def settled(self, message: Ackable, *, ack: bool) -> None:
        """The message is done with: ``ack`` once its outcome is durable, or not (it was requeued/rejected)."""
        if not self.batch:
            if ack:
                message.ack()
            return
        self._settled.add(id(message))
        if ack:
            self._to_ack.add(id(message))

    def flush(self) -> int:
        """Ack the settled messages at the head of the delivery order with one ``multiple`` ack; returns how
        many were covered."""
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
        return covered
