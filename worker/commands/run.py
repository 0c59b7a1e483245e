"""``cardpipe run SOURCE``: the main job. Enqueue a source, process it to the end, print a summary.

Steps (see :mod:`worker.jobs.run_source`): enqueue every task of SOURCE that has no outcome yet; process the
queue with ``--concurrency`` threads in each of ``--processes`` processes until it is drained (a progress bar
on stderr meanwhile); check that every enqueued task has its outcome; print the summary (ok, dead letters by
code, skipped, throughput, wall time). Interrupted, even by ``kill -9``, the same command finishes the rest.

Example::

    cardpipe run ./samples
    cardpipe run s3://cards/2026-11/ --concurrency 8 --processes 2

Exit codes: 0 every image has an outcome (dead letters included); 1 some have none (lost, or stopped);
2 bad configuration or source; 3 halted (credentials/configuration refused, outcome store unusable);
4 broker unreachable or refusing our login; 5 upstream failing for too long; 6 the shared rate limiter's
Redis unreachable; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import kombu.exceptions
from rich.console import Console

from worker.api.errors import CardpipeError, ConfigError
from worker.broker import BrokerUnavailable
from worker.config import load_config
from worker.jobs.grants import apply_grants
from worker.jobs.run_source import EXIT_INCOMPLETE, RunRequest, allow_source_folder, run_source
from worker.outcomes import open_outcomes
from worker.progress import RunProgress, RunTally, summary_json, summary_table
from worker.sources import open_source

EXIT_CONFIG = 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a folder, an s3:// or cos:// prefix, an image, or a .txt/.lst file of locations")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="threads per process calling the pipeline (default: worker.concurrency)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def global_args(args: argparse.Namespace) -> list[str]:
    """The ``cardpipe`` options a child worker process is started with."""
    options = ["--log-level", args.log_level]
    return [*options, "--config", str(args.config)] if args.config else options


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        if args.processes < 1 or (args.concurrency is not None and args.concurrency < 1):
            raise ConfigError("--processes and --concurrency must be >= 1")
        settings = load_config(args.config)
        source = open_source(args.source, settings.storage)
        allow_source_folder(settings, source)
        apply_grants(settings)
        outcomes = open_outcomes(settings.outcomes, settings.storage)
    except CardpipeError as exc:
        print(f"cardpipe run: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    tally = RunTally()
    request = RunRequest(source, processes=args.processes, concurrency=args.concurrency,
                         global_args=global_args(args))
    with RunProgress(tally, enabled=not args.no_progress) as progress:
        try:
            result = run_source(settings, request, outcomes, progress, tally)
        except BrokerUnavailable as exc:
            print(f"cardpipe run: {exc}", file=sys.stderr)
            return exc.exit_code
        except (CardpipeError, OSError, kombu.exceptions.OperationalError) as exc:
            print(f"cardpipe run: {exc}", file=sys.stderr)
            return EXIT_INCOMPLETE
    wall_s = time.monotonic() - started
    missing = len(result.missing)
    if args.json:
        print(json.dumps({**summary_json(tally, wall_s=wall_s, processing_s=result.processing_s, missing=missing),
                          "exit_code": result.exit_code, "reason": result.reason}))
    else:
        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 120)  # a pipe or a file: do not truncate paths to 80 columns
        console.print(summary_table(tally, wall_s=wall_s, processing_s=result.processing_s, missing=missing,
                                    source=source.description, outcomes=outcomes.location))
    if result.exit_code != 0:
        print(f"cardpipe run: {result.reason}", file=sys.stderr)
    return result.exit_code
