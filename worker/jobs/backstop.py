"""Take in the broker's backstop: what RabbitMQ dead-lettered becomes our own dead letters (``delivery_limit``).

Why: a quorum task queue hands a message to the backstop queue after ``queue.delivery_limit`` deliveries (a
message that kept crashing or stopping workers). Left there it would be lost to cardpipe: no outcome, no task.
So ``cardpipe dlq`` and the end of ``cardpipe run`` move each one into the outcome store as a dead letter
with code ``delivery_limit`` (a readable task keeps its task, so ``cardpipe dlq redrive`` sends it round
again), and only then acknowledge it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kombu.message import Message

from worker.broker import connect
from worker.config import Settings
from worker.observability import get_logger
from worker.outcomes import OutcomeStore
from worker.queues import backstop_queue, connection, uses_backstop
from worker.tasks import DELIVERY_LIMIT, BadMessage, DeadLetter, Task, body_id, message_excerpt, utc_now

log = get_logger("jobs.backstop")


@dataclass
class BackstopReport:
    """What was taken in: the dead letters written, and messages whose task already had an outcome."""

    dead_letters: list[DeadLetter] = field(default_factory=list)
    already_done: int = 0

    @property
    def taken(self) -> int:
        return len(self.dead_letters) + self.already_done


def absorb_backstop(settings: Settings, outcomes: OutcomeStore, *, worker: str = "cardpipe-dlq") -> BackstopReport:
    """Move every message of the backstop queue into the outcome store; nothing to do without one."""
    report = BackstopReport()
    if not uses_backstop(settings.queue):
        return report
    with connection(settings.queue) as conn:
        connect(conn, url=settings.queue.url, timeout_s=settings.queue.unreachable_exit_s)
        queue = backstop_queue(settings.queue)(conn.default_channel)
        queue.declare()
        while (message := queue.get(no_ack=False)) is not None:
            dead = _dead_letter(message, settings.queue.delivery_limit, worker)
            if outcomes.exists(dead.task_id):
                report.already_done += 1
            elif outcomes.write_dead_letter(dead):
                report.dead_letters.append(dead)
            message.ack()
    if report.taken:
        log.warning("backstop.taken_in", queue=settings.queue.backstop, dead_letters=len(report.dead_letters),
                    already_done=report.already_done)
    return report


def _dead_letter(message: Message, limit: int, worker: str) -> DeadLetter:
    body: Any = message.body
    raw = bytes(body) if isinstance(body, bytes | bytearray | memoryview) else str(body).encode("utf-8", "replace")
    deliveries = _deliveries(message.headers or {}) or limit
    reason = (f"the broker dead-lettered this message after {deliveries} deliveries (queue.delivery_limit is "
              f"{limit}): each time, the worker holding it stopped or crashed before it was settled")
    now = utc_now()
    try:
        task: Task | None = Task.from_json(raw)
    except BadMessage:
        task = None
    if task is not None:
        return DeadLetter(task_id=task.id, task=task, code=DELIVERY_LIMIT, reason=reason, attempts=deliveries,
                          first_attempt_at=now, last_attempt_at=now, worker=worker)
    return DeadLetter(task_id=body_id(raw), message_excerpt=message_excerpt(raw),
                      code=DELIVERY_LIMIT,
                      reason=reason, attempts=deliveries, first_attempt_at=now, last_attempt_at=now, worker=worker)


def _deliveries(headers: dict[str, Any]) -> int | None:
    count = headers.get("x-delivery-count")
    if isinstance(count, int):
        return count + 1
    for death in headers.get("x-death") or []:
        if isinstance(death, dict) and isinstance(death.get("count"), int) and death.get("reason") == "delivery_limit":
            return int(death["count"])
    return None
