"""Poison messages and unexpected exceptions on real RabbitMQ: each message ends as one dead letter, the worker
goes on, and what the broker itself dead-letters (quorum delivery limit) is taken in as ``delivery_limit``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.reliability import cardpipe, delete_queues, depth, publish_raw, queue_settings, rabbit_case
from tests.test_run import _outcome_ids
from worker.consumer import EXIT_OK, QueueConsumer, WorkerSettings
from worker.outcomes import LocalOutcomeStore
from worker.pipeline import Pipeline
from worker.queues import TaskPublisher, backstop_queue, connection, task_queue
from worker.ratelimit import RateLimitSettings, open_limiter
from worker.retry import CircuitBreaker, RetrySettings
from worker.storage import StorageSettings, open_storage
from worker.tasks import Task
from worker.upstreams import UpstreamSettings, open_upstream

POISON: list[str | bytes] = [
    '{"v":1,"location":12345}',                       # a field of the wrong type (the reported one)
    '{"v":1,"location":"/x.jpg","etag":["a"]}',       # another
    '{"v":1,"location":"/x.jpg","colour":"red"}',     # a field no task has
    '{"v":1}',                                        # no location
    '[1, 2, 3]',                                      # valid JSON of the wrong shape
    '"just a string"',
    b"\xff\xfe\x00\x01binary",                        # not text at all
    "[" * 100_000 + "]" * 100_000,                    # nesting deep enough to break a recursive parser
    json.dumps({"v": 1, "location": "/x.jpg", "metadata": {"blob": "9" * 1_000_000}}),  # 1 MB
    '{"Records": [{"s3": {"bucket": {"name": 7}, "object": {"key": 8}}}]}',  # an event with wrong types
]


@pytest.mark.timeout(180)
def test_poison_messages_become_one_bad_message_each_and_the_worker_goes_on(
        tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    with rabbit_case(tmp_path, rabbitmq_url, unique_name, images=20) as case, FakeUpstream() as fake:
        env = case.env(fake.url)
        publish_raw(case.settings, POISON[:5])
        enqueued, _ = cardpipe(case.config, "enqueue", str(case.folder), env=env)
        assert enqueued.returncode == 0, enqueued.stderr
        publish_raw(case.settings, POISON[5:])
        worked, elapsed = cardpipe(case.config, "worker", "--until-empty", "--concurrency", "4", env=env)
        assert worked.returncode == 0, worked.stderr
        assert "Traceback" not in worked.stderr
        assert elapsed < 90
        assert fake.total_calls == 20 and all(fake.calls_for(image) == 1 for image in case.images)
        results, dead = _outcome_ids(tmp_path)
        assert len(results) == 20
        assert len(dead) == len(POISON)
        letters = [json.loads(p.read_text()) for p in (tmp_path / "conf/var/outcomes/dead").glob("*.json")]
        assert {letter["code"] for letter in letters} == {"bad_message"}
        assert max(p.stat().st_size for p in (tmp_path / "conf/var/outcomes/dead").glob("*.json")) < 8000, \
            "a dead letter keeps a bounded excerpt, not the message"
        assert any("1000" in letter["message_excerpt"] and "bytes in all" in letter["message_excerpt"]
                   for letter in letters)
        assert depth(case.settings) == 0 and depth(case.settings, backstop_queue(case.settings)) == 0


class _Exploding:
    """Storage that raises an exception nobody expects for one location (a bug met by one message)."""

    def __init__(self, inner: object, poison: str) -> None:
        self.inner, self.poison = inner, poison

    def fetch(self, location: str) -> object:
        if location == self.poison:
            raise RuntimeError("unexpected state while reading card 6225760000000000")
        return self.inner.fetch(location)  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
def test_an_unexpected_exception_is_that_messages_internal_error_never_a_halt(
        tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    settings = queue_settings(rabbitmq_url, unique_name)
    tasks = []
    for index in range(8):
        path = tmp_path / f"card_{index}.jpg"
        path.write_bytes(f"image {index}".encode())
        tasks.append(Task.for_location(str(path)))
    retry = RetrySettings(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.02)
    try:
        with FakeUpstream() as fake:
            with TaskPublisher(settings) as publisher:
                for task in tasks:
                    publisher.publish_task(task.to_json())
            storage = _Exploding(open_storage(StorageSettings(local_roots=[tmp_path])), tasks[3].location)
            store = LocalOutcomeStore(tmp_path / "outcomes")
            pipeline = Pipeline(storage, open_upstream(UpstreamSettings(url=fake.url, appid="1250000000")),
                                open_limiter(RateLimitSettings(backend="none")), store, retry, "test:1",
                                breaker=CircuitBreaker.from_settings(retry), stop_event=threading.Event())
            report = QueueConsumer(settings, pipeline, WorkerSettings(concurrency=2, idle_exit_s=0.5)).run(
                until_empty=True)
            assert fake.total_calls == 7
        assert report.exit_code == EXIT_OK, report.reason
        assert report.counts["ok"] == 7 and dict(report.dead_by_code) == {"internal_error": 1}
        dead = store.read_dead_letter(tasks[3].id)
        assert dead is not None and dead.task == tasks[3]
        assert dead.reason.startswith("RuntimeError: unexpected state") and "6225760000000000" not in dead.reason
        assert depth(settings) == 0
    finally:
        delete_queues(settings)


@pytest.mark.timeout(120)
def test_the_brokers_backstop_is_declared_and_taken_in_as_delivery_limit(
        tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    with rabbit_case(tmp_path, rabbitmq_url, unique_name, images=3) as case, FakeUpstream() as fake:
        settings, config, env = case.settings, case.config, case.env(fake.url)
        enqueued, _ = cardpipe(config, "enqueue", str(case.folder), env=env)
        assert enqueued.returncode == 0, enqueued.stderr
        # A worker that dies holding a message, over and over: the broker gives up after delivery_limit.
        with connection(settings) as conn:
            queue = task_queue(settings)(conn.channel())
            first = queue.get(no_ack=False)
            assert first is not None
            victim = first.body
            first.requeue()
            for _ in range(4):
                message = queue.get(no_ack=False)
                if message is None or message.body != victim:
                    if message is not None:
                        message.requeue()
                    continue
                message.requeue()
        assert depth(settings, backstop_queue(settings)) == 1, "the broker dead-lettered into our backstop"
        stats, _ = cardpipe(config, "dlq", "stats", env=env)
        assert stats.returncode == 0, stats.stderr
        assert "took in 1 message(s)" in stats.stderr and "delivery_limit" in stats.stdout
        assert depth(settings, backstop_queue(settings)) == 0
        redriven, _ = cardpipe(config, "dlq", "redrive", "--code", "delivery_limit", env=env)
        assert redriven.returncode == 0 and "redrove 1 task(s)" in redriven.stdout, redriven.stderr
        worked, _ = cardpipe(config, "worker", "--until-empty", env=env)
        assert worked.returncode == 0, worked.stderr
        assert fake.total_calls == 3 and all(fake.calls_for(image) == 1 for image in case.images)
    results, dead = _outcome_ids(tmp_path)
    assert len(results) == 3 and dead == []
    results_dir = tmp_path / "conf/var/outcomes/results"
    history = [json.loads(p.read_text())["task"]["history"] for p in results_dir.glob("*.json")]
    assert sorted(len(h) for h in history) == [0, 0, 1]
    assert next(h for h in history if h)[0]["code"] == "delivery_limit"


