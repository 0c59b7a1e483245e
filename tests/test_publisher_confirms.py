"""``cardpipe enqueue`` on RabbitMQ waits for publisher confirms by default: a task the broker does not take is
an error (exit 4), never a silent drop; and confirms come per batch, so enqueue stays fast."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.reliability import cardpipe, delete_queues, depth, queue_settings, rabbit_case
from worker.queues import TaskPublisher, connection, task_queue
from worker.tasks import Task


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.mark.timeout(180)
def test_a_task_the_broker_refuses_fails_the_enqueue(tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed: the test limits its queue with a broker policy")
    with rabbit_case(tmp_path, rabbitmq_url, unique_name, images=12, quorum=False) as case, FakeUpstream() as fake:
        # The broker takes 5 messages in this queue and refuses the rest, as a full or failing broker does.
        _rabbitmqctl("set_policy", "--apply-to", "queues", f"{unique_name}-limit", f"^{unique_name}-tasks$",
                     json.dumps({"max-length": 5, "overflow": "reject-publish"}))
        try:
            env = case.env(fake.url, CARDPIPE_QUEUE__CONFIRM_BATCH="4")
            done, _ = cardpipe(case.config, "enqueue", str(case.folder), env=env)
            assert done.returncode == 4, (done.stdout, done.stderr)
            assert "refused" in done.stderr and "enqueued 12" not in done.stdout
            assert depth(case.settings) == 5

            unconfirmed, _ = cardpipe(case.config, "enqueue", str(case.folder), "--all",
                                      env={**env, "CARDPIPE_QUEUE__CONFIRM_PUBLISH": "false"})
            assert unconfirmed.returncode == 0 and "enqueued 12" in unconfirmed.stdout, \
                "without confirms the loss goes unnoticed: what the default prevents"
        finally:
            _rabbitmqctl("clear_policy", f"{unique_name}-limit")


@pytest.mark.timeout(120)
def test_enqueue_with_confirms_publishes_every_task(tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    with rabbit_case(tmp_path, rabbitmq_url, unique_name, images=250) as case, FakeUpstream() as fake:
        done, _ = cardpipe(case.config, "enqueue", str(case.folder),
                           env=case.env(fake.url, CARDPIPE_QUEUE__CONFIRM_BATCH="100"))
        assert done.returncode == 0, done.stderr
        assert "enqueued 250" in done.stdout
        assert depth(case.settings) == 250


@pytest.mark.timeout(120)
def test_a_connection_lost_mid_batch_publishes_the_unconfirmed_tasks_again(
        rabbitmq_url: str, unique_name: str) -> None:
    settings = queue_settings(rabbitmq_url, unique_name, quorum=False).model_copy(update={"confirm_batch": 100})
    tasks = [Task.for_location(f"s3://cards/{unique_name}/{index}.jpg") for index in range(20)]
    try:
        with TaskPublisher(settings) as publisher:
            for task in tasks[:10]:
                publisher.publish_task(task.to_json())
            publisher.conn.connection.sock.shutdown(socket.SHUT_RDWR)  # the broker connection drops mid-batch
            for task in tasks[10:]:
                publisher.publish_task(task.to_json())
            publisher.flush()
        with connection(settings) as conn:
            queue = task_queue(settings)(conn.default_channel)
            ids = [json.loads(m.body)["id"] for m in iter(lambda: queue.get(no_ack=True), None)]
        assert set(ids) == {task.id for task in tasks}, "every task reached the queue (duplicates are harmless)"
    finally:
        delete_queues(settings)
