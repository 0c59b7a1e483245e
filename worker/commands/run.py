"""``cardpipe run SOURCE``: the main job. Enqueue a source, process it to the end, print a summary.

Steps (see :mod:`worker.jobs.run_source`): enqueue every task of SOURCE that has no outcome yet; process the
queue with ``--concurrency`` threads in each of ``--processes`` processes until it is drained (a progress bar
on stderr meanwhile); check that every enqueued task has its outcome; print the summary (ok, dead letters by
code, skipped, throughput, wall time). Interrupted, even by ``kill -9``, the same command finishes the rest.

Example::

    cardpipe run ./samples
    cardpipe run s3://cards/2026-11/ --concurrency 8 --processes 2

Each run has a run id: its tasks carry it into their outcomes, and its run record (source, start and end,
counts) is written next to the outcomes (``cardpipe runs`` lists them).

Exit codes: 0 every image has an outcome (dead letters included); 1 some have none (lost, or stopped);
2 bad configuration or source; 3 halted (credentials/configuration refused, outcome store unusable);
4 broker unreachable or refusing our login; 5 upstream failing for too long; 6 the shared rate limiter's
Redis unreachable; 7 the source holds no images (empty or mistyped); 130 interrupted.
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
from worker.commands import global_args
from worker.config import load_config
from worker.exit_codes import EXIT_CONFIG, EXIT_HALTED, EXIT_INCOMPLETE, EXIT_NO_IMAGES
from worker.jobs.consume import threads_per_process
from worker.jobs.run_source import RunRequest, allow_source_folder, run_source
from worker.outcomes import OutcomeStoreError, open_outcomes
from worker.progress import RunProgress, RunTally, summary_json, summary_table
from worker.results.recording import RunRecorder, no_images_message, tally_counts
from worker.sources import open_source


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a folder, an s3:// or cos:// prefix, an image, or a .txt/.lst file of locations")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="threads per process calling the pipeline (default: worker.concurrency)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        if args.processes < 1 or (args.concurrency is not None and args.concurrency < 1):
            raise ConfigError("--processes and --concurrency must be >= 1")
        settings = load_config(args.config)
        source = open_source(args.source, settings.storage)
        allow_source_folder(settings, source)
        outcomes = open_outcomes(settings.outcomes, settings.storage)
        recorder = RunRecorder(outcomes, settings, source)
        recorder.begin()
        source = recorder.stamp(source)
    except CardpipeError as exc:
        print(f"cardpipe run: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    tally = RunTally()
    concurrency = args.concurrency or threads_per_process(settings, args.processes)
    request = RunRequest(source, processes=args.processes, concurrency=concurrency,
                         global_args=global_args(args))
    with RunProgress(tally, enabled=not args.no_progress) as progress:
        try:
            result = run_source(settings, request, outcomes, progress, tally)
        except BrokerUnavailable as exc:
            print(f"cardpipe run: {exc}", file=sys.stderr)
            recorder.finish(exit_code=exc.exit_code, reason=str(exc), counts=tally_counts(tally, 0),
                            dead_by_code=tally.dead_by_code)
            return exc.exit_code
        except (CardpipeError, OSError, kombu.exceptions.OperationalError) as exc:
            code, reason = (EXIT_HALTED, f"the outcome store is unusable: {exc}") \
                if isinstance(exc, OutcomeStoreError) else (EXIT_INCOMPLETE, str(exc))
            print(f"cardpipe run: {reason}", file=sys.stderr)
            recorder.finish(exit_code=code, reason=reason, counts=tally_counts(tally, 0),
                            dead_by_code=tally.dead_by_code)
            return code
    if result.exit_code == 0 and not tally.enqueued and not tally.already_done:
        result.exit_code, result.reason = EXIT_NO_IMAGES, no_images_message(source)
    wall_s = time.monotonic() - started
    missing = len(result.missing)
    recorder.finish(exit_code=result.exit_code, reason=result.reason, counts=tally_counts(tally, missing),
                    dead_by_code=tally.dead_by_code)
    if result.exit_code == EXIT_NO_IMAGES:
        print(f"cardpipe run: {result.reason}", file=sys.stderr)
        return EXIT_NO_IMAGES
    if args.json:
        print(json.dumps({**summary_json(tally, wall_s=wall_s, processing_s=result.processing_s, missing=missing),
                          "exit_code": result.exit_code, "reason": result.reason, "run_id": recorder.run_id,
                          "outcomes": outcomes.location}))
    else:
        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 120)  # a pipe or a file: do not truncate paths to 80 columns
        console.print(summary_table(tally, wall_s=wall_s, processing_s=result.processing_s, missing=missing,
                                    source=source.description, outcomes=outcomes.location))
        print(recorder.where_to_look())  # plain: a long path must stay whole for copy and paste
    if result.exit_code != 0:
        print(f"cardpipe run: {result.reason}", file=sys.stderr)
    return result.exit_code
