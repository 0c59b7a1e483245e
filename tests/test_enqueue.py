"""Enqueueing a source: tasks with an outcome are skipped from one listing of the outcome store."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import kombu

from worker.jobs.enqueue import enqueue_source
from worker.outcomes import LocalOutcomeStore
from worker.queues import QueueSettings, TaskPublisher, pending_count, task_queue
from worker.sources import ListFileSource
from worker.tasks import DeadLetter, Task, utc_now

#: Tasks published between two waits for RabbitMQ's confirms in the kill test.
CONFIRM_BATCH = 50


class _CountingStore(LocalOutcomeStore):
    """A local store that counts per-task checks and listings."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.checks = 0
        self.listings = 0

    def _exists(self, folder: str, task_id: str) -> bool:
        self.checks += 1
        return super()._exists(folder, task_id)

    def _ids(self, folder: str) -> Iterator[str]:
        self.listings += 1
        return super()._ids(folder)


def test_a_rerun_skips_done_tasks_from_one_listing_not_one_check_per_task(tmp_path: Path) -> None:
    locations = tmp_path / "locations.txt"
    locations.write_text("".join(f"/cards/{index:04d}.jpg\n" for index in range(1200)), encoding="utf-8")
    store = _CountingStore(tmp_path / "outcomes")
    now = utc_now()
    for index in range(0, 1200, 2):  # every other task already has an outcome
        task = Task.for_location(f"/cards/{index:04d}.jpg")
        store.write_dead_letter(DeadLetter(task_id=task.id, task=task, code="-1102", reason="x", attempts=1,
                                           first_attempt_at=now, last_attempt_at=now, worker="test:1"))
    store.checks = store.listings = 0
    settings = QueueSettings(url=f"sqla+sqlite:///{tmp_path / 'queue.sqlite'}")
    with TaskPublisher(settings) as publisher:
        report = enqueue_source(ListFileSource(locations), store, publisher)
    assert (report.enqueued, report.skipped) == (600, 600)
    assert (store.checks, store.listings) == (0, 2)  # the results and dead-letter folders, once each
    assert pending_count(settings) == 600


def test_an_s3_listing_killed_at_a_random_point_resumes_after_the_last_published_object(
        tmp_path: Path, rabbitmq_url: str, aws_env: str, unique_name: str) -> None:
    """kill -9 in the middle of a 1,000-key page, then the same command again: every object is on the queue,
    and only tasks not yet confirmed by the broker when it was killed (at most one confirm batch) are on it
    twice; the whole page was before."""
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    keys = [f"cards/{index:05d}.jpg" for index in range(1500)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=unique_name, Key=key, Body=b"x"), keys))
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"queue:\n  url: {rabbitmq_url}\n  tasks: {unique_name}\n  confirm_batch: {CONFIRM_BATCH}\n"
                      "outcomes:\n  sink: out\n", encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CARDPIPE_")},
           "CARDPIPE_STORAGE__S3__ENDPOINT_URL": aws_env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", "enqueue",
               f"s3://{unique_name}/cards/"]
    settings = QueueSettings(url=rabbitmq_url, tasks=unique_name)
    kill_at = random.randint(100, 1400)
    try:
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while (pending_count(settings) or 0) < kill_at and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        first.kill()
        first.wait()
        published_before_kill = pending_count(settings) or 0
        assert 0 < published_before_kill < len(keys), "the kill was meant to land in the middle of the listing"
        resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        seen: Counter[str] = Counter()
        with kombu.Connection(rabbitmq_url) as conn:
            queue = task_queue(settings)(conn.default_channel)
            while (message := queue.get(no_ack=True)) is not None:
                seen[json.loads(message.body)["location"]] += 1
    finally:
        with kombu.Connection(rabbitmq_url) as conn:
            task_queue(settings)(conn.default_channel).delete()
    assert set(seen) == {f"s3://{unique_name}/{key}" for key in keys}
    assert sum(seen.values()) - len(keys) <= CONFIRM_BATCH, [location for location, n in seen.items() if n > 1]
