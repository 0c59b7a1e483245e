"""Acks go out only for settled messages, and on AMQP as one multiple-ack per run of consecutive deliveries."""

from __future__ import annotations

from worker.acks import AckBatcher


class _Message:
    def __init__(self, tag: int, log: list[tuple[int, bool]]) -> None:
        self.delivery_tag = tag
        self._log = log

    def ack(self, multiple: bool = False) -> None:
        self._log.append((self.delivery_tag, multiple))


def _delivered(acks: AckBatcher, count: int, log: list[tuple[int, bool]]) -> list[_Message]:
    messages = [_Message(tag, log) for tag in range(1, count + 1)]
    for message in messages:
        acks.delivered(message)
    return messages


def test_a_multiple_ack_never_covers_a_message_still_being_worked_on() -> None:
    log: list[tuple[int, bool]] = []
    acks = AckBatcher(batch=True)
    one, two, three, four, five = _delivered(acks, 5, log)
    for message in (two, three):
        acks.settled(message, ack=True)
    assert acks.flush() == 0 and log == [] and acks.pending == 2  # 1 is still running: nothing may go out
    acks.settled(one, ack=True)
    acks.settled(five, ack=True)
    assert acks.flush() == 3 and log == [(3, True)]  # 1-3 in one frame; 5 waits behind 4
    acks.settled(four, ack=False)  # requeued (rejected) instead: never acked
    assert acks.flush() == 1 and log == [(3, True), (5, True)] and acks.pending == 0


def test_without_batching_each_message_is_acked_as_it_settles() -> None:
    log: list[tuple[int, bool]] = []
    acks = AckBatcher(batch=False)
    one, two = _delivered(acks, 2, log)
    acks.settled(two, ack=True)
    acks.settled(one, ack=False)
    assert log == [(2, False)] and acks.flush() == 0
