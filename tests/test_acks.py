"""Acks go out only for settled messages: on AMQP as one multiple-ack per run of consecutive deliveries, on
Redis as one group ack, in both cases after a short linger so that one ack covers several."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
import redis
from kombu.message import Message

from worker.acks import AckBatcher
from worker.queues import QueueSettings, TaskPublisher, connection, task_queue


class _Message:
    def __init__(self, tag: int, log: list[tuple[int, bool]]) -> None:
        self.delivery_tag = tag
        self._log = log

    def ack(self, multiple: bool = False) -> None:
        self._log.append((self.delivery_tag, multiple))


@contextlib.contextmanager
def _one_fetch(settings: QueueSettings, prefetch: int) -> Iterator[tuple[Any, list[Message]]]:
    """A kombu consumer of the task queue that has drained one fetch's deliveries (the channel, and what it
    received); on leaving, the consumer is cancelled and the channel closed (kombu puts back what is unacked)."""
    received: list[Message] = []
    with connection(settings) as conn:
        channel = conn.channel()
        consumer = kombu.Consumer(channel, queues=[task_queue(settings)], on_message=received.append,
                                  prefetch_count=prefetch)
        consumer.qos(prefetch_count=prefetch)
        consumer.consume()
        with contextlib.suppress(TimeoutError, socket.timeout):
            conn.drain_events(timeout=5)
        yield channel, received
        consumer.cancel()
        channel.close()


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


def test_a_forced_flush_acks_each_message_settled_behind_an_unsettled_head() -> None:
    """The prefetch window is full of settled messages behind a slow one: they are acked one by one, and the
    slow one, once settled, is covered by a ``multiple`` ack of its own (which acks only what is outstanding)."""
    log: list[tuple[int, bool]] = []
    acks = AckBatcher(batch=True, max_waiting=10, linger_s=60.0)
    one, two, three, four = _delivered(acks, 4, log)
    for message in (two, three, four):
        acks.settled(message, ack=True)
    assert acks.flush() == 0 and log == []
    assert acks.flush(force=True) == 3 and log == [(2, False), (3, False), (4, False)] and acks.pending == 0
    acks.settled(one, ack=True)
    assert acks.flush(force=True) == 1 and log[-1] == (1, True) and acks.pending == 0


def test_without_batching_each_message_is_acked_as_it_settles() -> None:
    log: list[tuple[int, bool]] = []
    acks = AckBatcher(batch=False)
    one, two = _delivered(acks, 2, log)
    acks.settled(two, ack=True)
    acks.settled(one, ack=False)
    assert log == [(2, False)] and acks.flush() == 0


def test_group_acks_wait_for_enough_messages_or_the_linger() -> None:
    now = [100.0]
    groups: list[list[int]] = []
    acks = AckBatcher(batch=False, ack_group=lambda ms: groups.append([m.delivery_tag for m in ms]),
                      max_waiting=3, linger_s=0.01, clock=lambda: now[0])
    log: list[tuple[int, bool]] = []
    one, two, three, four, five, six = _delivered(acks, 6, log)
    acks.settled(one, ack=True)
    acks.settled(two, ack=False)  # requeued: never acked
    assert acks.flush() == 0 and acks.pending == 1  # one waiting, for less than the linger
    now[0] += 0.01
    assert acks.flush() == 1 and groups == [[1]]
    for message in (three, four, five):
        acks.settled(message, ack=True)
    assert acks.flush() == 3 and groups == [[1], [3, 4, 5]]  # three waiting: at once
    acks.settled(six, ack=True)
    assert acks.flush() == 0 and acks.flush(force=True) == 1 and groups[-1] == [6]
    assert log == [] and acks.pending == 0


def test_multiple_acks_linger_too() -> None:
    now = [100.0]
    log: list[tuple[int, bool]] = []
    acks = AckBatcher(batch=True, max_waiting=4, linger_s=0.01, clock=lambda: now[0])
    one, two, _three = _delivered(acks, 3, log)
    acks.settled(one, ack=True)
    acks.settled(two, ack=True)
    assert acks.flush() == 0 and log == []
    now[0] += 0.02
    assert acks.flush() == 2 and log == [(2, True)]


@pytest.mark.services
def test_a_redis_group_ack_removes_every_tag_and_nothing_is_redelivered(redis_url: str, unique_name: str) -> None:
    settings = QueueSettings(url=redis_url, tasks=f"{unique_name}-tasks")
    with TaskPublisher(settings) as publisher:
        for index in range(5):
            publisher.publish_task(f'{{"n": {index}}}')
    received: list[Message] = []
    with connection(settings) as conn:
        channel = conn.channel()
        consumer = kombu.Consumer(channel, queues=[task_queue(settings)], on_message=received.append,
                                  prefetch_count=10)
        consumer.consume()
        deadline = time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError, socket.timeout):
                conn.drain_events(timeout=0.2)
        assert len(received) == 5
        client = redis.Redis.from_url(redis_url)
        tags = [message.delivery_tag for message in received]
        assert all(client.hexists(channel.unacked_key, tag) for tag in tags)
        channel.ack_messages(received)
        assert not any(client.hexists(channel.unacked_key, tag) for tag in tags)
        assert not any(client.zscore(channel.unacked_index_key, tag) is not None for tag in tags)
        assert all(message.acknowledged for message in received)
        consumer.cancel()
        channel.close()  # kombu restores what is still unacked on close: nothing may come back
    with connection(settings) as conn:
        assert task_queue(settings)(conn.default_channel).get(no_ack=True) is None


@pytest.mark.services
def test_redis_takes_a_batch_within_the_prefetch_window_and_records_each_delivery(redis_url: str,
                                                                                  unique_name: str) -> None:
    settings = QueueSettings(url=redis_url, tasks=f"{unique_name}-tasks")
    with TaskPublisher(settings) as publisher:
        for index in range(20):
            publisher.publish_task(f'{{"n": {index}}}')
    with _one_fetch(settings, prefetch=8) as (channel, received):  # nothing acked: all put back on leaving
        assert len(received) == 8, "one BRPOP and one RPOP of 7: the whole window, no more"
        client = redis.Redis.from_url(redis_url)
        assert all(client.hexists(channel.unacked_key, m.delivery_tag) for m in received)
        assert all(client.zscore(channel.unacked_index_key, m.delivery_tag) is not None for m in received)
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        back = []
        while (message := queue.get(no_ack=True)) is not None:
            back.append(message.body)
    assert sorted(back) == sorted(f'{{"n": {index}}}'.encode() for index in range(20)), "nothing lost, nothing doubled"


@pytest.mark.services
def test_a_batch_fetch_never_has_more_than_the_blocking_pop_in_flight(redis_url: str, unique_name: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Before every command a consumer sends after its BRPOP, each of the 20 messages is still in the list or
    recorded as unacked, but for the one the BRPOP itself took (kombu's own window): a worker killed between
    two commands of a batch fetch loses at most that one, as a worker taking one message at a time would."""
    settings = QueueSettings(url=redis_url, tasks=f"{unique_name}-tasks")
    with TaskPublisher(settings) as publisher:
        for index in range(20):
            publisher.publish_task(f'{{"n": {index}}}')
    observer = redis.Redis.from_url(redis_url)
    list_key = f"{unique_name}-tasks"
    tags = [json.loads(item)["properties"]["delivery_tag"] for item in observer.lrange(list_key, 0, -1)]
    assert len(tags) == 20
    seen: list[int] = []
    with connection(settings) as conn:
        unacked_key = conn.default_channel.unacked_key

    def accounted_for() -> int:  # the unacked hash is shared by every consumer of this Redis: count ours only
        recorded = sum(value is not None for value in observer.hmget(unacked_key, tags))
        return int(observer.llen(list_key)) + recorded

    observing = False

    def checked(original):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal observing
            if not observing:
                observing = True
                try:
                    seen.append(accounted_for())
                finally:
                    observing = False
            return original(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(redis.Redis, "execute_command", checked(redis.Redis.execute_command))
    monkeypatch.setattr(redis.client.Pipeline, "execute", checked(redis.client.Pipeline.execute))
    with _one_fetch(settings, prefetch=8) as (_channel, received):
        assert len(received) == 8
        monkeypatch.undo()
    assert seen and min(seen) >= 19, f"messages neither queued nor recorded between two commands: {seen}"


@pytest.mark.services
def test_a_batch_fetch_stops_at_an_unreadable_message_and_leaves_it_queued(redis_url: str, unique_name: str) -> None:
    settings = QueueSettings(url=redis_url, tasks=f"{unique_name}-tasks")
    list_key = f"{unique_name}-tasks"
    observer = redis.Redis.from_url(redis_url)
    with TaskPublisher(settings) as publisher:
        for index in range(3):
            publisher.publish_task(f'{{"n": {index}}}')
        observer.lpush(list_key, b"not kombu's envelope")
        for index in range(3, 6):
            publisher.publish_task(f'{{"n": {index}}}')
    with _one_fetch(settings, prefetch=10) as (channel, received):
        assert [m.body for m in received] == [f'{{"n": {index}}}'.encode() for index in range(3)]
        assert all(observer.hexists(channel.unacked_key, m.delivery_tag) for m in received)
        assert observer.llen(list_key) == 4
        assert observer.lindex(list_key, -1) == b"not kombu's envelope", "next in line, in its place"
        channel.ack_messages(received)
        observer.delete(list_key)
