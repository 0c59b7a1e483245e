"""The brokers benchmark's Celery peer: one task calling :func:`scripts.bench.peer_work.recognize_file`.

Run as ``python -m celery -A scripts.bench.peer_celery worker -P threads -c 8 -Q QUEUE``; late acks, so a
message is acked after the outcome is written, as cardpipe does. ``python -m scripts.bench.peer_celery
FOLDER`` enqueues every file of FOLDER. Broker and queue from ``BENCH_BROKER`` and ``BENCH_QUEUE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from celery import Celery

from scripts.bench.peer_work import recognize_file

app = Celery("cardpipe_bench", broker=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14"))
app.conf.update(task_acks_late=True, task_ignore_result=True, task_default_queue=os.environ.get("BENCH_QUEUE",
                "bench"), worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task(name="bench.recognize")
def recognize(path: str) -> None:
    recognize_file(path)


def enqueue(folder: Path) -> int:
    count = 0
    with app.producer_or_acquire() as producer:
        for path in sorted(folder.iterdir()):
            recognize.apply_async((str(path),), producer=producer)
            count += 1
    return count


if __name__ == "__main__":
    print(enqueue(Path(sys.argv[1])))
