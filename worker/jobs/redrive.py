"""Redrive dead letters: send their tasks round again once the cause is fixed.

Redrive deletes a dead letter before it re-enqueues the task: a worker that sees the task must not find the
old outcome and skip it. If publishing fails, the dead letter is written back, so nothing is lost either way.
A code filter matches the whole code or its family: ``retries_exhausted`` matches ``retries_exhausted:15``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from worker.outcomes import OutcomeStore
from worker.queues import TaskPublisher
from worker.tasks import DeadLetter


def code_matches(code: str, wanted: str | None) -> bool:
    """True when ``code`` is ``wanted`` or belongs to its family (``family:detail``)."""
    return wanted is None or code == wanted or code.startswith(f"{wanted}:")


def matching(store: OutcomeStore, code: str | None) -> Iterator[DeadLetter]:
    return (dead for dead in store.iter_dead_letters() if code_matches(dead.code, code))


#: Dead letters redriven between two waits for the broker's confirms.
REDRIVE_BATCH = 200


def redrive(store: OutcomeStore, publisher: TaskPublisher, dead_letters: Iterable[DeadLetter], *,
            dry_run: bool = False) -> tuple[int, list[str]]:
    """Re-enqueue each dead letter's task; returns (redriven count, notes about those that could not be).

    Each batch waits for the broker's confirms; when publishing fails, every dead letter of the unconfirmed
    batch is written back (a task that did get through then finds its old outcome and is skipped: not lost).
    """
    redriven, notes = 0, []
    batch: list[DeadLetter] = []

    def write_back() -> None:
        for unconfirmed in batch:
            store.write_dead_letter(unconfirmed)

    def confirm() -> None:
        try:
            publisher.flush()
        except Exception:
            write_back()
            raise
        batch.clear()

    for dead in dead_letters:
        if dead.task is None:
            notes.append(f"{dead.task_id}: the message was not a task ({dead.code}); nothing to redrive")
            continue
        if dry_run:
            redriven += 1
            continue
        store.delete_dead_letter(dead.task_id)
        batch.append(dead)
        try:
            publisher.publish_task(dead.task.redriven(dead).to_json())
        except Exception:
            write_back()
            raise
        redriven += 1
        if len(batch) >= REDRIVE_BATCH:
            confirm()
    if batch:
        confirm()
    return redriven, notes
