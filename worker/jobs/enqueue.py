"""Enqueue a source: every task it names, except those whose outcome exists, goes to the task queue.

The source is read page by page; after each page the publisher's confirms are awaited and only then is the
page checkpointed, so a resumed enqueue never skips a task the broker did not take. Within a page, the
listing is checkpointed after each task the broker holds (every task without publisher confirms, each batch
of ``queue.confirm_batch`` with them), so a listing killed mid-page publishes again at most the tasks not
yet confirmed, not the whole page. Tasks with an outcome are skipped from one listing of the outcome store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from worker.config import Settings
from worker.outcomes import OutcomeStore
from worker.queues import TaskPublisher
from worker.sources import Source


@dataclass
class EnqueueReport:
    enqueued: int = 0
    skipped: int = 0
    task_ids: list[str] = field(default_factory=list)


def checkpoint_dir(settings: Settings) -> Path:
    return settings.base_dir / "var" / "checkpoints"


def enqueue_source(source: Source, outcomes: OutcomeStore, publisher: TaskPublisher, *, skip_done: bool = True,
                   keep_ids: bool = False, already_queued: Collection[str] = (),
                   on_page: Callable[[EnqueueReport], None] | None = None,
                   throttle: Callable[[EnqueueReport], None] | None = None,
                   report: EnqueueReport | None = None) -> EnqueueReport:
    """Publish every task of ``source`` (those without an outcome, when ``skip_done``); checkpoint per page.

    Parameters:
        source: the tasks.
        outcomes: consulted to skip tasks that are done.
        publisher: where the tasks go.
        skip_done: skip tasks whose outcome exists.
        keep_ids: remember the ids of enqueued tasks (``cardpipe run`` checks them at the end).
        already_queued: ids known to be on the queue already: counted as enqueued, not published twice.
        on_page: called after each page (progress).
        throttle: called before each publish; it may wait (backpressure) or raise to stop enqueueing.
        report: the report to fill in (a caller on another thread can then read it as it grows).
    """
    report = report if report is not None else EnqueueReport()
    done = ids_with_an_outcome(outcomes) if skip_done else frozenset()
    for page in source.pages():
        for task in page:
            if task.id in done:
                report.skipped += 1
                continue
            if task.id not in already_queued:
                if throttle is not None:
                    throttle(report)
                publisher.publish_task(task.to_json())
                if publisher.all_confirmed:
                    # Everything so far is on the broker: a listing killed from here on resumes after this task.
                    source.checkpoint_task(task)
            report.enqueued += 1
            if keep_ids:
                report.task_ids.append(task.id)
        publisher.flush()
        source.checkpoint(page)
        if on_page is not None:
            on_page(report)
    return report


def ids_with_an_outcome(outcomes: OutcomeStore) -> frozenset[str]:
    """Every task id that has a result or a dead letter, from one listing of the store.

    Why a listing: checking each task costs a request (S3) or a ``stat`` (local) per task, while a listing
    costs one request per 1,000 outcomes, so a rerun over a finished source skips at listing speed. Outcomes
    written after the listing are caught by the worker's own check before any paid call.
    """
    return frozenset(outcomes.result_ids()) | frozenset(outcomes.dead_letter_ids())
