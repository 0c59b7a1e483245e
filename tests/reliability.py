"""Helpers of the reliability tests: a config on real RabbitMQ with queues of its own, and queue inspection."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kombu

from tests.test_run import ROOT, _cardpipe, _env, _folder
from worker.queues import QueueSettings, backstop_queue, connection, task_queue


def rabbit_config(tmp_path: Path, rabbitmq_url: str, name: str, extra: str = "", *, quorum: bool = True) -> Path:
    """A pipeline.yaml on RabbitMQ with uniquely named queues, fast retries and a short idle exit."""
    (tmp_path / "conf").mkdir(exist_ok=True)
    config = tmp_path / "conf" / "pipeline.yaml"
    config.write_text(
        f"queue:\n  url: {rabbitmq_url}\n  tasks: {name}-tasks\n  results: {name}-results\n"
        f"  dead_letters: {name}-dead\n  backstop: {name}-backstop\n  quorum: {str(quorum).lower()}\n"
        "  delivery_limit: 2\n"
        "outcomes:\n  sink: var/outcomes\n"
        "ratelimit:\n  backend: none\n"
        "retry:\n  initial_backoff_s: 0.01\n  max_backoff_s: 0.05\n"
        "worker:\n  idle_exit_s: 0.5\n  shutdown_grace_s: 10\n" + extra, encoding="utf-8")
    return config


def queue_settings(rabbitmq_url: str, name: str, *, quorum: bool = True) -> QueueSettings:
    return QueueSettings(url=rabbitmq_url, tasks=f"{name}-tasks", results=f"{name}-results",
                         dead_letters=f"{name}-dead", backstop=f"{name}-backstop", quorum=quorum, delivery_limit=2)


def publish_raw(settings: QueueSettings, bodies: list[Any]) -> None:
    """Publish message bodies as they are (bytes, text), bypassing the task model: what a foreign producer does."""
    with connection(settings) as conn:
        channel = conn.channel()
        backstop_queue(settings)(channel).declare()
        queue = task_queue(settings)(channel)
        queue.declare()
        producer = kombu.Producer(channel)
        for body in bodies:
            producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key,
                             content_type="application/json", content_encoding="utf-8" if isinstance(body, str)
                             else "binary", delivery_mode=2)


def depth(settings: QueueSettings, queue: kombu.Queue | None = None) -> int:
    """Messages ready in ``queue`` (default: the task queue)."""
    with connection(settings) as conn:
        declared = (queue or task_queue(settings))(conn.default_channel).queue_declare(passive=True)
        return int(declared.message_count)


def delete_queues(settings: QueueSettings) -> None:
    with connection(settings) as conn:
        for queue in (task_queue(settings), backstop_queue(settings)):
            with contextlib.suppress(Exception):  # already gone
                queue(conn.channel()).delete()


def cardpipe(config: Path, *args: str, env: dict[str, str],
             timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cardpipe --config CONFIG ARGS``; returns the finished process and its wall time."""
    began = time.monotonic()
    done = subprocess.run(_cardpipe(config, *args), env=env, capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - began


def env_for(upstream_url: str, **extra: str) -> dict[str, str]:
    env = _env(upstream_url)
    env.update(extra)
    env.setdefault("PYTHONPATH", str(ROOT))
    return env



@dataclass
class RabbitCase:
    """A test's own RabbitMQ queues, a folder of images and a config that uses them."""

    folder: Path
    images: list[bytes]
    config: Path
    settings: QueueSettings

    def env(self, upstream_url: str, **extra: str) -> dict[str, str]:
        """The environment of a cardpipe command: the fake upstream, the image folder readable."""
        return env_for(upstream_url, CARDPIPE_STORAGE__LOCAL_ROOTS=json.dumps([str(self.folder)]), **extra)


@contextmanager
def rabbit_case(tmp_path: Path, rabbitmq_url: str, name: str, *, images: int,
                quorum: bool = True) -> Iterator[RabbitCase]:
    """A :class:`RabbitCase` whose queues are deleted afterwards."""
    folder, data = _folder(tmp_path, images)
    case = RabbitCase(folder, data, rabbit_config(tmp_path, rabbitmq_url, name, quorum=quorum),
                      queue_settings(rabbitmq_url, name, quorum=quorum))
    try:
        yield case
    finally:
        delete_queues(case.settings)
