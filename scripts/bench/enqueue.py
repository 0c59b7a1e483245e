"""What publisher confirms cost ``cardpipe enqueue`` on RabbitMQ: batched confirms against none and one per task.

Publishes the same N tasks three ways through :class:`worker.queues.TaskPublisher`, each into a fresh queue:
without confirms (the baseline: fast, but a broker crash can drop tasks silently), with confirms awaited per
batch (the default, ``queue.confirm_batch``), and with a confirm awaited after every task (``confirm_batch: 1``,
what turning on ``confirm_publish`` in kombu's transport options does). The figure is each mode's time over
the baseline's.

    .venv/bin/python -m scripts.bench.enqueue --tasks 5000
"""

from __future__ import annotations

import argparse
import time
import uuid

from scripts.bench.report import markdown_table, write_section
from worker.queues import QueueSettings, TaskPublisher, connection, task_queue
from worker.tasks import Task


def measure(url: str, tasks: list[str], *, confirm: bool, batch: int) -> float:
    """Seconds to publish ``tasks`` (confirmed, when asked) into a fresh queue, which is deleted afterwards."""
    settings = QueueSettings(url=url, tasks=f"bench-{uuid.uuid4().hex[:10]}", confirm_publish=confirm,
                             confirm_batch=batch)
    try:
        begin = time.perf_counter()
        with TaskPublisher(settings) as publisher:
            for body in tasks:
                publisher.publish_task(body)
            publisher.flush()
        return time.perf_counter() - begin
    finally:
        with connection(settings) as conn:
            task_queue(settings)(conn.default_channel).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    tasks = [Task.for_location(f"s3://bench/cards/{index:07d}.jpg").to_json() for index in range(args.tasks)]
    default_batch = QueueSettings().confirm_batch
    modes = [("no confirms (baseline)", False, 1), (f"confirms per batch of {default_batch} (default)", True,
                                                     default_batch), ("a confirm per task", True, 1)]
    measure(args.rabbitmq_url, tasks[:200], confirm=True, batch=default_batch)  # warm the connection path
    times = {label: measure(args.rabbitmq_url, tasks, confirm=confirm, batch=batch) for label, confirm, batch in modes}
    baseline = times[modes[0][0]]
    rows = [[label, f"{seconds:.2f}", f"{args.tasks / seconds:,.0f}", f"{seconds / baseline:.2f}"]
            for label, seconds in times.items()]
    body = (f"{args.tasks:,} tasks published to a fresh durable classic queue on RabbitMQ on loopback, one process.\n\n"
            + markdown_table(["mode", "seconds", "tasks / s", "time / baseline"], rows))
    print(body)
    if not args.no_write:
        write_section("enqueue-confirms", "Enqueue: RabbitMQ publisher confirms, batched", body)


if __name__ == "__main__":
    main()
