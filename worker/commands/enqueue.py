"""``cardpipe enqueue SOURCE``: turn a folder, an S3/COS prefix or a list file into tasks on the queue.

Tasks whose outcome already exists are skipped (no second paid call later), unless ``--all``. An S3 prefix
is enqueued page by page and checkpointed after each page under ``var/checkpoints`` (next to pipeline.yaml),
so an interrupted backfill of millions of objects resumes where it stopped; ``--from-start`` ignores the
checkpoint.

Example::

    cardpipe enqueue s3://cards/2026-11/
    cardpipe enqueue ./photos
    cardpipe enqueue locations.txt --all
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import kombu.exceptions

from worker.api.errors import CardpipeError, ConfigError
from worker.config import Settings, load_config
from worker.outcomes import OutcomeStore, open_outcomes
from worker.queues import TaskPublisher
from worker.sources import S3PrefixSource, Source, open_source

EXIT_FAILED = 1
EXIT_CONFIG = 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a folder, an s3:// or cos:// prefix, an image, or a .txt/.lst file of locations")
    parser.add_argument("--all", action="store_true", help="enqueue tasks that already have an outcome too")
    parser.add_argument("--from-start", action="store_true", help="ignore an S3 prefix's listing checkpoint")


@dataclass
class EnqueueReport:
    enqueued: int = 0
    skipped: int = 0
    task_ids: list[str] = field(default_factory=list)


def checkpoint_dir(settings: Settings) -> Path:
    return settings.base_dir / "var" / "checkpoints"


def enqueue_source(source: Source, outcomes: OutcomeStore, publisher: TaskPublisher, *, skip_done: bool = True,
                   keep_ids: bool = False, on_page: Callable[[EnqueueReport], None] | None = None) -> EnqueueReport:
    """Publish every task of ``source`` (those without an outcome, when ``skip_done``); checkpoint each task.

    Parameters:
        source: the tasks.
        outcomes: consulted to skip tasks that are done.
        publisher: where the tasks go.
        skip_done: skip tasks whose outcome exists.
        keep_ids: remember the ids of enqueued tasks (``cardpipe run`` checks them at the end).
        on_page: called after each page (progress).
    """
    report = EnqueueReport()
    done = ids_with_an_outcome(outcomes) if skip_done else frozenset()
    for page in source.pages():
        for task in page:
            if task.id in done:
                report.skipped += 1
                continue
            publisher.publish_task(task.to_json())
            source.checkpoint_task(task)
            report.enqueued += 1
            if keep_ids:
                report.task_ids.append(task.id)
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


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        print(f"cardpipe enqueue: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        source = open_source(args.source, settings.storage, checkpoint_dir=checkpoint_dir(settings))
        if isinstance(source, S3PrefixSource) and args.from_start:
            source.clear_checkpoint()
        outcomes = open_outcomes(settings.outcomes, settings.storage)
        with TaskPublisher(settings.queue) as publisher:
            report = enqueue_source(source, outcomes, publisher, skip_done=not args.all)
        if isinstance(source, S3PrefixSource):
            source.clear_checkpoint()
    except CardpipeError as exc:
        print(f"cardpipe enqueue: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, kombu.exceptions.OperationalError) as exc:
        print(f"cardpipe enqueue: the queue is unreachable ({settings.queue.scheme}): {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"enqueued {report.enqueued} task(s) from {source.description}; "
          f"skipped {report.skipped} with an outcome already")
    return 0
