"""The kombu consumer on every transport cardpipe supports: embedded SQLite, RabbitMQ, Redis, SQS (moto).

Each test publishes real messages (good tasks, a bad message, a permanent failure), drains the queue with a
thread pool, and checks that every message ended with exactly one outcome and that the queue is empty.
"""

from __future__ import annotations

import queue as stdlib_queue
import threading
from pathlib import Path
from urllib.parse import urlparse

import kombu

from tests.fakes.upstream import FakeUpstream, Reply
from worker.consumer import EXIT_HALTED, EXIT_OK, QueueConsumer, WorkerSettings, _Done
from worker.outcomes import LocalOutcomeStore
from worker.pipeline import Outcome, OutcomeStatus, Pipeline
from worker.queues import QueueSettings, TaskPublisher, connection, task_queue
from worker.ratelimit import RateLimitSettings, open_limiter
from worker.retry import CircuitBreaker, RetrySettings
from worker.storage import StorageSettings, open_storage
from worker.tasks import Task
from worker.upstreams import UpstreamSettings, open_upstream

RETRY = RetrySettings(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02, circuit_threshold=50)
WORKER = WorkerSettings(concurrency=4, idle_exit_s=0.3, reconnect_attempts=2, shutdown_grace_s=10)


def _pipeline(tmp_path: Path, url: str) -> Pipeline:
    return Pipeline(open_storage(StorageSettings(local_roots=[tmp_path])),
                    open_upstream(UpstreamSettings(url=url, appid="1250000000", timeout_s=5)),
                    open_limiter(RateLimitSettings(backend="none")), LocalOutcomeStore(tmp_path / "outcomes"),
                    RETRY, "test:1", breaker=CircuitBreaker.from_settings(RETRY), stop_event=threading.Event())


def _images(tmp_path: Path, count: int) -> list[Task]:
    tasks = []
    for index in range(count):
        path = tmp_path / f"card_{index:03d}.jpg"
        path.write_bytes(f"image {index}".encode())
        tasks.append(Task.for_location(str(path)))
    return tasks


def _drain_and_check(settings: QueueSettings, tmp_path: Path) -> None:
    tasks = _images(tmp_path, 12)
    with FakeUpstream() as fake:
        fake.script(b"image 3", [Reply(code=-1102)])
        fake.script(b"image 5", [Reply(code=15), Reply()])
        with TaskPublisher(settings) as publisher:
            for task in tasks:
                publisher.publish_task(task.to_json())
            publisher.publish_task("this is not a task")
            publisher.publish_task(tasks[0].to_json())  # a duplicate: skipped, no second call
        pipeline = _pipeline(tmp_path, fake.url)
        report = QueueConsumer(settings, pipeline, WORKER).run(until_empty=True)
        assert report.exit_code == EXIT_OK, report.reason
        assert report.counts["ok"] == 11 and report.counts["skipped"] == 1 and report.counts["dead"] == 2
        assert dict(report.dead_by_code) == {"-1102": 1, "bad_message": 1}
        assert fake.total_calls == 13, "11 successes, one retry, one permanent failure; the duplicate cost nothing"
    store = pipeline.outcomes
    assert all(store.exists(task.id) for task in tasks)
    assert len(list(store.result_ids())) == 11 and len(list(store.dead_letter_ids())) == 2
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        assert queue.get(no_ack=True) is None, "nothing is left in the queue"


def test_embedded_sqlite(tmp_path: Path) -> None:
    _drain_and_check(QueueSettings(url=f"sqla+sqlite:///{tmp_path / 'q.sqlite'}"), tmp_path)


def test_rabbitmq_quorum(rabbitmq_url: str, tmp_path: Path, unique_name: str) -> None:
    settings = QueueSettings(url=rabbitmq_url, tasks=f"{unique_name}-tasks", dead_letters=f"{unique_name}-dead",
                             quorum=True)
    try:
        _drain_and_check(settings, tmp_path)
    finally:
        with connection(settings) as conn:
            task_queue(settings)(conn.default_channel).delete()


def test_a_slow_message_does_not_hold_back_the_acks_of_those_delivered_after_it(rabbitmq_url: str, tmp_path: Path,
                                                                                    unique_name: str) -> None:
    """AMQP acks go out as one ``multiple`` ack for the settled head of the delivery order; a message stuck at
    the head (a slow call, a retry's backoff) must not keep the others settled behind it unacked, or the
    broker's prefetch window fills with them and the worker's free threads idle until the slow one ends.
    Measured as an order: every fast message gets its outcome before the slow one's answer comes."""
    settings = QueueSettings(url=rabbitmq_url, tasks=f"{unique_name}-tasks", dead_letters=f"{unique_name}-dead")
    tasks = _images(tmp_path, 21)
    two_threads = WorkerSettings(concurrency=2, idle_exit_s=0.3, reconnect_attempts=2, shutdown_grace_s=30)
    try:
        with FakeUpstream() as fake:
            fake.script(b"image 0", [Reply(delay=4.0)])  # within the 5 s read timeout: one slow answer
            with TaskPublisher(settings) as publisher:
                for task in tasks:  # the slow one first: the head of the delivery order
                    publisher.publish_task(task.to_json())
            pipeline = _pipeline(tmp_path, fake.url)
            reports = []
            worker = threading.Thread(target=lambda: reports.append(
                QueueConsumer(settings, pipeline, two_threads).run(until_empty=True)))
            worker.start()
            store = pipeline.outcomes
            while worker.is_alive() and not store.exists(tasks[0].id):
                if all(store.exists(task.id) for task in tasks[1:]):
                    break
                threading.Event().wait(0.05)
            fast_done = sum(store.exists(task.id) for task in tasks[1:])
            slow_done = store.exists(tasks[0].id)
            worker.join(30)
        assert not slow_done and fast_done == 20, \
            f"{fast_done} of 20 fast messages had an outcome before the slow one's answer"
        assert reports and reports[0].exit_code == EXIT_OK and reports[0].counts["ok"] == 21
    finally:
        with connection(settings) as conn:
            task_queue(settings)(conn.default_channel).delete()


def test_redis(redis_url: str, tmp_path: Path, unique_name: str) -> None:
    _drain_and_check(QueueSettings(url=redis_url, tasks=f"{unique_name}-tasks"), tmp_path)


def test_sqs_on_moto(aws_env: str, tmp_path: Path, unique_name: str) -> None:
    endpoint = urlparse(aws_env)
    settings = QueueSettings(url=f"sqs://testing:testing@{endpoint.hostname}:{endpoint.port}",
                             tasks=f"{unique_name}-tasks",
                             transport_options={"is_secure": False, "region": "us-east-1",
                                                "wait_time_seconds": 0, "polling_interval": 0.1})
    _drain_and_check(settings, tmp_path)


def test_halt_puts_the_message_back_and_stops(tmp_path: Path) -> None:
    settings = QueueSettings(url=f"sqla+sqlite:///{tmp_path / 'q.sqlite'}")
    tasks = _images(tmp_path, 6)
    with FakeUpstream(default=Reply(code=11)) as fake:  # SecretId unknown: every call would fail
        with TaskPublisher(settings) as publisher:
            for task in tasks:
                publisher.publish_task(task.to_json())
        pipeline = _pipeline(tmp_path, fake.url)
        report = QueueConsumer(settings, pipeline, WORKER.model_copy(update={"concurrency": 1})).run(until_empty=True)
    assert report.exit_code == EXIT_HALTED and "credentials or configuration" in report.reason
    assert list(pipeline.outcomes.dead_letter_ids()) == [], "nothing is dead-lettered on a halt"
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        left = 0
        while queue.get(no_ack=True) is not None:
            left += 1
    assert left == len(tasks), "every message is still queued"


def test_stop_request_finishes_in_flight_and_requeues_the_rest(tmp_path: Path) -> None:
    settings = QueueSettings(url=f"sqla+sqlite:///{tmp_path / 'q.sqlite'}")
    tasks = _images(tmp_path, 8)
    with FakeUpstream(default=Reply(delay=0.3)) as fake:
        with TaskPublisher(settings) as publisher:
            for task in tasks:
                publisher.publish_task(task.to_json())
        pipeline = _pipeline(tmp_path, fake.url)
        consumer = QueueConsumer(settings, pipeline, WORKER.model_copy(update={"concurrency": 2}))
        stopper = threading.Thread(target=lambda: (_wait_for(lambda: fake.total_calls >= 1),
                                                   consumer.request_stop("test stop")))
        stopper.start()
        report = consumer.run()
        stopper.join()
    done = len(list(pipeline.outcomes.result_ids()))
    assert report.exit_code == 130 and 1 <= done < len(tasks)
    assert done == report.counts["ok"], "every started task finished and was acked"
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        left = 0
        while queue.get(no_ack=True) is not None:
            left += 1
    assert done + left == len(tasks), "nothing was lost"


def _wait_for(condition, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_unreachable_broker_gives_up_with_a_reason(tmp_path: Path) -> None:
    settings = QueueSettings(url="amqp://guest:guest@127.0.0.1:1//")
    with FakeUpstream() as fake:
        consumer = QueueConsumer(settings, _pipeline(tmp_path, fake.url),
                                 WORKER.model_copy(update={"reconnect_attempts": 1}))
        report = consumer.run(until_empty=True)
    assert report.exit_code == 4 and "unreachable" in report.reason


def test_published_outcomes(tmp_path: Path) -> None:
    settings = QueueSettings(url=f"sqla+sqlite:///{tmp_path / 'q.sqlite'}")
    tasks = _images(tmp_path, 2)
    with FakeUpstream() as fake:
        fake.script(b"image 1", [Reply(code=-9011)])
        with TaskPublisher(settings) as publisher:
            for task in tasks:
                publisher.publish_task(task.to_json())
        consumer = QueueConsumer(settings, _pipeline(tmp_path, fake.url), WORKER, publish_outcomes=True)
        assert consumer.run(until_empty=True).exit_code == EXIT_OK
    with connection(settings) as conn:
        exchange = task_queue(settings).exchange
        results = kombu.Queue(settings.results, exchange, routing_key=settings.results)(conn.default_channel)
        dead = kombu.Queue(settings.dead_letters, exchange, routing_key=settings.dead_letters)(conn.default_channel)
        result_message, dead_message = results.get(no_ack=True), dead.get(no_ack=True)
    assert result_message is not None and result_message.decode()["kind"] == "result"
    assert dead_message is not None and dead_message.decode()["code"] == "-9011"


def _rows(db: Path) -> dict[int, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT visible, COUNT(*) FROM kombu_message GROUP BY visible").fetchall())


def _body_text(body: bytes | str) -> str:
    return body if isinstance(body, str) else bytes(body).decode()


def test_settled_delivered_rows_are_swept_and_in_flight_ones_kept_for_a_revival(tmp_path: Path) -> None:
    from worker.queues import forget_delivered, revive_orphans

    db = tmp_path / "q.sqlite"
    settings = QueueSettings(url=f"sqla+sqlite:///{db}")
    done: set[str] = set()

    def settled(body: bytes | str) -> bool:
        return _body_text(body) in done

    assert forget_delivered(settings, settled) == 0, "no database yet: nothing to do"
    assert revive_orphans(settings, settled) == 0
    with TaskPublisher(settings) as publisher:
        for index in range(5):
            publisher.publish_task(f"message {index}")
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        delivered = [queue.get(no_ack=False) for _ in range(3)]
        for message in delivered[:2]:
            done.add(_body_text(message.body))
            message.ack()
        assert _rows(db) == {0: 3, 1: 2}
        assert forget_delivered(settings, settled) == 2, "only the settled rows go"
        assert _rows(db) == {0: 1, 1: 2}, "the row of the message in flight stays"
        # Its consumer dies without acknowledging it (kill -9): nothing would ever deliver it again.
    assert revive_orphans(settings, settled) == 1
    assert _rows(db) == {1: 3}
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        bodies = sorted(_body_text(m.body) for m in iter(lambda: queue.get(no_ack=True), None))
    assert bodies == ["message 2", "message 3", "message 4"], "the orphan is delivered again, pending ones untouched"


def test_a_message_given_back_is_not_revived_twice(tmp_path: Path) -> None:
    from worker.queues import revive_orphans

    db = tmp_path / "q.sqlite"
    settings = QueueSettings(url=f"sqla+sqlite:///{db}")
    with TaskPublisher(settings) as publisher:
        publisher.publish_task("given back")
        publisher.publish_task("held twice")
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        queue.declare()  # binds the queue in this connection, where a requeue looks it up
        queue.get(no_ack=False).requeue()  # a draining consumer gives it back: a new row, the old one invisible
        assert _body_text(queue.get(no_ack=False).body) == "held twice"
        # Closing the connection gives back the unacknowledged "held twice" too.
    assert _rows(db) == {0: 2, 1: 2}
    assert revive_orphans(settings, lambda _body: False) == 0, "both were given back: nothing to revive"
    assert _rows(db) == {1: 2}, "the old rows of messages given back are deleted"
    with connection(settings) as conn:
        conn.default_channel.do_restore = False  # dies like kill -9: gives nothing back
        queue = task_queue(settings)(conn.default_channel)
        queue.declare()
        queue.get(no_ack=False).requeue()
        assert [_body_text(queue.get(no_ack=False).body) for _ in range(2)] == ["held twice", "given back"]
    assert _rows(db) == {0: 3}, "given back twice over: two invisible rows of one message"
    assert revive_orphans(settings, lambda _body: False) == 2, "one copy of each"
    assert _rows(db) == {1: 2}
    with connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        bodies = sorted(_body_text(m.body) for m in iter(lambda: queue.get(no_ack=True), None))
    assert bodies == ["given back", "held twice"]


def test_a_worker_on_the_embedded_queue_sweeps_while_it_runs(tmp_path: Path) -> None:
    from worker.jobs.consume import sweeping_delivered_rows

    db = tmp_path / "q.sqlite"
    settings = QueueSettings(url=f"sqla+sqlite:///{db}")
    with TaskPublisher(settings) as publisher:
        for index in range(4):
            publisher.publish_task(f"message {index}")
    done: set[str] = set()
    with sweeping_delivered_rows(settings, lambda body: _body_text(body) in done, interval_s=0.05), \
            connection(settings) as conn:
        queue = task_queue(settings)(conn.default_channel)
        for _ in range(3):
            message = queue.get(no_ack=False)
            done.add(_body_text(message.body))
            message.ack()
        in_flight = queue.get(no_ack=False)
        deadline = threading.Event()
        while _rows(db).get(0, 0) > 1 and not deadline.wait(0.05):
            pass
        assert _rows(db) == {0: 1}, "swept while it runs, but not the message in flight"
        done.add(_body_text(in_flight.body))
        in_flight.ack()
    assert _rows(db) == {}, "swept once more at the end"


class _RecordingQueue(stdlib_queue.SimpleQueue):  # type: ignore[type-arg]
    """A completion queue that records how long each ``get`` was allowed to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        self.waits.append(timeout if block and timeout is not None else 0.0)
        return super().get(block, timeout)


class _AckedMessage:
    def __init__(self) -> None:
        self.acked = 0

    def ack(self) -> None:
        self.acked += 1


def test_a_full_window_is_refilled_as_soon_as_waiting_completions_are_settled(tmp_path: Path) -> None:
    """With the prefetch window full the drain thread blocks for completions; once those that arrived are
    settled it must go back to the broker at once, not wait out the rest of its deadline (that capped the
    embedded queue near prefetch / 50 ms). Counted: the blocking waits after the first completion (none)."""
    consumer = QueueConsumer(QueueSettings(url="memory://"), _pipeline(tmp_path, "http://127.0.0.1:9/ocr/bankcard"),
                             WORKER)
    completions = _RecordingQueue()
    consumer._done = completions
    messages = [_AckedMessage() for _ in range(3)]
    for message in messages:
        consumer._in_flight += 1
        completions.put(_Done(message, outcome=Outcome(OutcomeStatus.OK, "0" * 32)))  # type: ignore[arg-type]
    consumer._handle_completions(block_s=5.0)
    assert [m.acked for m in messages] == [1, 1, 1] and consumer._in_flight == 0
    assert [wait for wait in completions.waits[1:] if wait > 0] == []
