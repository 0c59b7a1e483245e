"""The brokers benchmark's Dramatiq peer: one actor calling :func:`scripts.bench.peer_work.recognize_file`.

Run as ``python -m dramatiq scripts.bench.peer_dramatiq --processes 1 --threads 8 --queues QUEUE``; Dramatiq
acks after the actor returns. ``python -m scripts.bench.peer_dramatiq FOLDER`` enqueues every file of
FOLDER. Broker and queue from ``BENCH_BROKER`` (``redis://`` or ``amqp://``) and ``BENCH_QUEUE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dramatiq

from scripts.bench.peer_work import recognize_file

_url = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14")
if _url.startswith("amqp"):
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    # pika reads the vhost percent-encoded: kombu's "//" (vhost "/") is "/%2F" to it.
    dramatiq.set_broker(RabbitmqBroker(url=_url[:-2] + "/%2F" if _url.endswith("//") else _url))
else:
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=_url))


@dramatiq.actor(queue_name=os.environ.get("BENCH_QUEUE", "bench"))
def recognize(path: str) -> None:
    recognize_file(path)


def enqueue(folder: Path) -> int:
    count = 0
    for path in sorted(folder.iterdir()):
        recognize.send(str(path))
        count += 1
    return count


if __name__ == "__main__":
    print(enqueue(Path(sys.argv[1])))
