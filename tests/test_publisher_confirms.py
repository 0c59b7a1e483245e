"""``cardpipe enqueue`` on RabbitMQ waits for publisher confirms by default: a task the broker does not take is
an error (exit 4), never a silent drop; and confirms come per batch, so enqueue stays fast."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.reliability import cardpipe, delete_queues, depth, env_for, queue_settings, rabbit_config
from tests.test_run import _folder


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.mark.timeout(180)
def test_a_task_the_broker_refuses_fails_the_enqueue(tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed: the test limits its queue with a broker policy")
    folder, _ = _folder(tmp_path, 12)
    config = rabbit_config(tmp_path, rabbitmq_url, unique_name, quorum=False)
    settings = queue_settings(rabbitmq_url, unique_name, quorum=False)
    # The broker takes 5 messages in this queue and refuses the rest, as a full or failing broker does.
    _rabbitmqctl("set_policy", "--apply-to", "queues", f"{unique_name}-limit", f"^{unique_name}-tasks$",
                 json.dumps({"max-length": 5, "overflow": "reject-publish"}))
    try:
        with FakeUpstream() as fake:
            env = env_for(fake.url, CARDPIPE_STORAGE__LOCAL_ROOTS=json.dumps([str(folder)]),
                          CARDPIPE_QUEUE__CONFIRM_BATCH="4")
            done, _ = cardpipe(config, "enqueue", str(folder), env=env)
            assert done.returncode == 4, (done.stdout, done.stderr)
            assert "refused" in done.stderr and "enqueued 12" not in done.stdout
            assert depth(settings) == 5

            unconfirmed, _ = cardpipe(config, "enqueue", str(folder), "--all", env={
                **env, "CARDPIPE_QUEUE__CONFIRM_PUBLISH": "false"})
            assert unconfirmed.returncode == 0 and "enqueued 12" in unconfirmed.stdout, \
                "without confirms the loss goes unnoticed: what the default prevents"
    finally:
        _rabbitmqctl("clear_policy", f"{unique_name}-limit")
        delete_queues(settings)


@pytest.mark.timeout(120)
def test_enqueue_with_confirms_publishes_every_task(tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    folder, _ = _folder(tmp_path, 250)
    config = rabbit_config(tmp_path, rabbitmq_url, unique_name, quorum=True)
    settings = queue_settings(rabbitmq_url, unique_name)
    try:
        with FakeUpstream() as fake:
            env = env_for(fake.url, CARDPIPE_STORAGE__LOCAL_ROOTS=json.dumps([str(folder)]),
                          CARDPIPE_QUEUE__CONFIRM_BATCH="100")
            done, _ = cardpipe(config, "enqueue", str(folder), env=env)
        assert done.returncode == 0, done.stderr
        assert "enqueued 250" in done.stdout
        assert depth(settings) == 250
    finally:
        delete_queues(settings)
