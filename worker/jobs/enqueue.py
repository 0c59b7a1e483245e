"""Enqueue a source: every task it names, except those whose outcome exists, goes to the task queue.

The source is read page by page; after each page the publisher's confirms are awaited and only then is the
page checkpointed, so a resumed enqueue never skips a task the broker did not take.
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
                   on_page: Callable[[EnqueueReport], None] | None = None) -> EnqueueReport:
    """Publish every task of ``source`` (those without an outcome, when ``skip_done``); checkpoint per page.

    Parameters:
        source: the tasks.
        outcomes: consulted to skip tasks that are done.
        publisher: where the tasks go.
        skip_done: skip tasks whose outcome exists.
        keep_ids: remember the ids of enqueued tasks (``cardpipe run`` checks them at the end).
        already_queued: ids known to be on the queue already: counted as enqueued, not published twice.
        on_page: called after each page (progress).
    """
    report = EnqueueReport()
    for page in source.pages():
        for task in page:
            if skip_done and outcomes.exists(task.id):
                report.skipped += 1
                continue
            if task.id not in already_queued:
                publisher.publish_task(task.to_json())
            report.enqueued += 1
            if keep_ids:
                report.task_ids.append(task.id)
        publisher.flush()
        source.checkpoint(page)
        if on_page is not None:
            on_page(report)
    return report
