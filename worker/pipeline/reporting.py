"""What became of a task (:class:`Outcome`), and how each one is counted (metrics) and logged."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from worker.metrics import metrics
from worker.observability import get_logger

log = get_logger("pipeline")


class OutcomeStatus(enum.StrEnum):
    OK = "ok"                #: a result was written
    DEAD = "dead"            #: a dead letter was written
    SKIPPED = "skipped"      #: the task already had an outcome: nothing called, nothing written
    IGNORED = "ignored"      #: the message asked for nothing (an S3 test event, a removal event)
    REQUEUE = "requeue"      #: not finished (outage or shutdown): put the message back, write nothing


@dataclass(frozen=True)
class Outcome:
    """What became of one task (or, for an event with several records, of each of them: ``parts``)."""

    status: OutcomeStatus
    task_id: str | None = None
    code: str | None = None
    reason: str = ""
    attempts: int = 0
    parts: tuple[Outcome, ...] = field(default_factory=tuple)
    #: The image's location, so that a log line can be matched to its image (masked in logs like all text).
    location: str | None = None

    def leaves(self) -> tuple[Outcome, ...]:
        """The per-task outcomes: this one, or its parts for a multi-record event."""
        return tuple(p for part in self.parts for p in part.leaves()) if self.parts else (self,)

    @classmethod
    def combine(cls, outcomes: list[Outcome]) -> Outcome:
        """One outcome for a message that carried several tasks: REQUEUE wins (the message must come back)."""
        if not outcomes:
            return cls(OutcomeStatus.IGNORED, reason="the event names no new object")
        if len(outcomes) == 1:
            return outcomes[0]
        status = OutcomeStatus.REQUEUE if any(o.status is OutcomeStatus.REQUEUE for o in outcomes) \
            else OutcomeStatus.OK
        return cls(status, parts=tuple(outcomes))


def report(outcome: Outcome, on_outcome: Callable[[Outcome], None] | None = None) -> Outcome:
    """Count and log each per-task outcome of ``outcome`` (and hand it to ``on_outcome``); returns ``outcome``."""
    for leaf in outcome.leaves():
        metrics().tasks.labels(status=leaf.status.value, code=leaf.code or "").inc()
        # Dead letters are worth a line at INFO; the rest would drown a terminal on a large run.
        emit = log.info if leaf.status is OutcomeStatus.DEAD else log.debug
        emit("task.done", task_id=leaf.task_id, location=leaf.location, status=leaf.status.value,
             code=leaf.code, attempts=leaf.attempts, reason=leaf.reason or None)
        if on_outcome is not None:
            on_outcome(leaf)
    return outcome
