"""``cardpipe enqueue SOURCE``: turn a folder, an S3/COS prefix or a list file into tasks on the queue.

Tasks whose outcome already exists are skipped (no second paid call later), unless ``--all``. An S3 prefix
is enqueued page by page and checkpointed after each page under ``var/checkpoints`` (next to pipeline.yaml),
so an interrupted backfill of millions of objects resumes where it stopped; ``--from-start`` ignores the
checkpoint. On RabbitMQ every page is confirmed by the broker before it is checkpointed.

Example::

    cardpipe enqueue s3://cards/2026-11/
    cardpipe enqueue ./photos
    cardpipe enqueue locations.txt --all

Exit codes: 0 enqueued; 1 the source failed part way; 2 bad configuration or source; 4 the broker is
unreachable, refuses our login, or did not confirm the tasks.
"""

from __future__ import annotations

import argparse
import sys

import kombu.exceptions

from worker.api.errors import CardpipeError, ConfigError
from worker.broker import BrokerUnavailable
from worker.config import load_config
from worker.exit_codes import EXIT_CONFIG, EXIT_FAILED
from worker.jobs.enqueue import checkpoint_dir, enqueue_source
from worker.outcomes import open_outcomes
from worker.queues import TaskPublisher
from worker.sources import S3PrefixSource, open_source


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a folder, an s3:// or cos:// prefix, an image, or a .txt/.lst file of locations")
    parser.add_argument("--all", action="store_true", help="enqueue tasks that already have an outcome too")
    parser.add_argument("--from-start", action="store_true", help="ignore an S3 prefix's listing checkpoint")


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
    except BrokerUnavailable as exc:
        print(f"cardpipe enqueue: {exc}", file=sys.stderr)
        return exc.exit_code
    except CardpipeError as exc:
        print(f"cardpipe enqueue: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, kombu.exceptions.OperationalError) as exc:
        print(f"cardpipe enqueue: the queue failed ({settings.queue.scheme}): {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"enqueued {report.enqueued} task(s) from {source.description}; "
          f"skipped {report.skipped} with an outcome already")
    return 0
