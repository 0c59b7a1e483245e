"""``cardpipe run SOURCE``: the main job. Enqueue a source, process it to the end, print a summary.

Steps: enqueue every task of SOURCE that has no outcome yet; process the queue with ``--concurrency`` threads
in each of ``--processes`` processes until it is drained (a progress bar on stderr meanwhile); check that every
enqueued task has its outcome; print the summary (ok, dead letters by code, skipped, throughput, wall time).

Resumable: interrupted, even by ``kill -9``, the same command finishes the rest, and every image ends with
exactly one outcome. The embedded SQLite queue loses unacknowledged messages on a crash and keeps delivered
rows forever, so with it ``run`` owns the queue: it purges it before enqueueing (the re-enqueue of every task
without an outcome is the reconciliation) and after a complete run (the cleanup). Shared brokers are never
purged.

Example::

    cardpipe run ./samples
    cardpipe run s3://cards/2026-11/ --concurrency 8 --processes 2

Each run has a run id: its tasks carry it into their outcomes, and its run record (source, start and end,
counts) is written next to the outcomes (``cardpipe runs`` lists them).

Exit codes: 0 every image has an outcome (dead letters included); 1 some have none (lost, or stopped);
2 bad configuration or source; 3 halted (credentials/configuration refused, outcome store unusable);
4 broker unreachable; 5 upstream failing for too long; 6 the source holds no images (empty or mistyped);
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import queue as stdlib_queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import kombu.exceptions
from rich.console import Console

from worker.api.errors import CardpipeError, ConfigError
from worker.commands.enqueue import EnqueueReport, enqueue_source
from worker.commands.worker import consume, stop_on_signals
from worker.config import Settings, load_config
from worker.consumer import EXIT_OK
from worker.observability import get_logger
from worker.outcomes import OutcomeStore, OutcomeStoreError, open_outcomes
from worker.pipeline import Outcome
from worker.progress import RunProgress, RunTally, summary_json, summary_table
from worker.queues import TaskPublisher, purge_embedded_queue
from worker.results.recording import NoImagesFound, RunRecorder, no_images_message, tally_counts
from worker.sources import FolderSource, ListFileSource, SingleFileSource, Source, open_source

log = get_logger("run")

EXIT_INCOMPLETE = 1
EXIT_CONFIG = 2
EXIT_NO_IMAGES = 6
#: Rounds of re-enqueueing tasks still without an outcome after a clean drain (messages lost in transit).
MAX_ROUNDS = 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a folder, an s3:// or cos:// prefix, an image, or a .txt/.lst file of locations")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="threads per process calling the pipeline (default: worker.concurrency)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


@dataclass
class _Round:
    exit_code: int
    reason: str


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        if args.processes < 1 or (args.concurrency is not None and args.concurrency < 1):
            raise ConfigError("--processes and --concurrency must be >= 1")
        settings = load_config(args.config)
        source = open_source(args.source, settings.storage)
        _allow_source_folder(settings, source)
        outcomes = open_outcomes(settings.outcomes, settings.storage)
        recorder = RunRecorder(outcomes, settings, source)
        recorder.begin()
        source = recorder.stamp(source)
    except CardpipeError as exc:
        print(f"cardpipe run: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    tally = RunTally()
    processing_s = 0.0
    missing: set[str] = set()
    outcome = _Round(EXIT_OK, "")
    with RunProgress(tally, enabled=not args.no_progress) as progress:
        try:
            enqueued = _enqueue(settings, source, outcomes, progress, tally)
            if not enqueued.enqueued and not enqueued.skipped:
                raise NoImagesFound(no_images_message(source))
            missing = set(enqueued.task_ids)
            for _ in range(MAX_ROUNDS):
                progress.processing(tally.finished + len(enqueued.task_ids))
                began = time.monotonic()
                outcome = _process(settings, args, tally, progress)
                processing_s += time.monotonic() - began
                try:
                    missing = _without_outcome(outcomes, missing)
                except OutcomeStoreError:
                    if outcome.exit_code == EXIT_OK:
                        raise
                    break  # the round stopped on the same store; its reason says so
                if outcome.exit_code != EXIT_OK or not missing:
                    break
                log.warning("run.reconcile", missing=len(missing), note="re-enqueueing tasks that have no outcome")
                with TaskPublisher(settings.queue) as publisher:
                    enqueued = enqueue_source(_Ids(source, missing), outcomes, publisher, keep_ids=True)
        except NoImagesFound as exc:
            print(f"cardpipe run: {exc}", file=sys.stderr)
            recorder.finish(exit_code=EXIT_NO_IMAGES, reason=str(exc), counts={}, dead_by_code={})
            return EXIT_NO_IMAGES
        except (CardpipeError, OSError, kombu.exceptions.OperationalError) as exc:
            print(f"cardpipe run: {exc}", file=sys.stderr)
            recorder.finish(exit_code=EXIT_INCOMPLETE, reason=str(exc), counts=tally_counts(tally, len(missing)),
                            dead_by_code=tally.dead_by_code)
            return EXIT_INCOMPLETE
    if not missing and settings.queue.is_embedded and outcome.exit_code == EXIT_OK:
        purge_embedded_queue(settings.queue)  # drop the delivered rows the SQLite transport keeps
    wall_s = time.monotonic() - started
    code = _exit_code(outcome, missing)
    recorder.finish(exit_code=code, reason=outcome.reason, counts=tally_counts(tally, len(missing)),
                    dead_by_code=tally.dead_by_code)
    if args.json:
        print(json.dumps({**summary_json(tally, wall_s=wall_s, processing_s=processing_s, missing=len(missing)),
                          "exit_code": code, "reason": outcome.reason, "run_id": recorder.run_id,
                          "outcomes": outcomes.location}))
    else:
        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 120)  # a pipe or a file: do not truncate paths to 80 columns
        console.print(summary_table(tally, wall_s=wall_s, processing_s=processing_s, missing=len(missing),
                                      source=source.description, outcomes=outcomes.location))
        console.print(recorder.where_to_look(), markup=False, highlight=False)
    if code != 0:
        reason = outcome.reason if outcome.exit_code != EXIT_OK else \
            f"{len(missing)} image(s) have no outcome; run the same command again to finish them"
        print(f"cardpipe run: {reason}", file=sys.stderr)
    return code


def _allow_source_folder(settings: Settings, source: Source) -> None:
    """Naming a local folder (or list, or image) on the command line lets this run read inside it."""
    folder = source.root if isinstance(source, FolderSource) else \
        source.path.parent if isinstance(source, ListFileSource | SingleFileSource) else None
    if folder is not None and folder not in settings.storage.local_roots:
        settings.storage.local_roots = [*settings.storage.local_roots, folder]


def _exit_code(outcome: _Round, missing: set[str]) -> int:
    if outcome.exit_code != EXIT_OK:
        return outcome.exit_code
    return EXIT_INCOMPLETE if missing else 0


def _enqueue(settings: Settings, source: Source, outcomes: OutcomeStore, progress: RunProgress,
             tally: RunTally) -> EnqueueReport:
    if settings.queue.is_embedded:
        stale = purge_embedded_queue(settings.queue)
        if stale:
            log.info("run.purged", stale_messages=stale, note="re-enqueued below if they have no outcome")
    with TaskPublisher(settings.queue) as publisher:
        report = enqueue_source(source, outcomes, publisher, keep_ids=True,
                                on_page=lambda r: progress.enqueueing(r.enqueued + r.skipped))
    tally.already_done = report.skipped
    tally.enqueued = report.enqueued
    return report


def _without_outcome(outcomes: OutcomeStore, task_ids: set[str]) -> set[str]:
    if not task_ids:
        return set()
    if len(task_ids) < 2000:
        return {task_id for task_id in task_ids if not outcomes.exists(task_id)}
    done = set(outcomes.result_ids()) | set(outcomes.dead_letter_ids())
    return task_ids - done


class _Ids(Source):
    """The tasks of ``source`` whose ids are in ``wanted`` (re-enumerated, so each keeps its location)."""

    def __init__(self, source: Source, wanted: set[str]) -> None:
        self.source = source
        self.wanted = wanted
        self.description = source.description

    def pages(self) -> Any:
        for page in self.source.pages():
            kept = [task for task in page if task.id in self.wanted]
            if kept:
                yield kept


# --- processing ---------------------------------------------------------------------------------------------------

def _process(settings: Settings, args: argparse.Namespace, tally: RunTally, progress: RunProgress) -> _Round:
    if args.processes == 1:
        def settled(outcome: Outcome) -> None:
            for leaf in outcome.leaves():
                tally.add(leaf.status.value, leaf.code)
            progress.update()

        report = consume(settings, concurrency=args.concurrency, until_empty=True, on_settled=settled)
        return _Round(report.exit_code, report.reason)
    return _process_with_children(settings, args, tally, progress)


def _child_command(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "worker", "--log-level", args.log_level]
    if args.config:
        command += ["--config", str(args.config)]
    command += ["worker", "--until-empty", "--progress-jsonl"]
    if args.concurrency is not None:
        command += ["--concurrency", str(args.concurrency)]
    return command


def _child_environment(settings: Settings, processes: int) -> dict[str, str]:
    env = dict(os.environ)
    env["CARDPIPE_STORAGE__LOCAL_ROOTS"] = json.dumps([str(root) for root in settings.storage.local_roots])
    if settings.ratelimit.backend == "local":
        # One local bucket per process: split the quota so that the processes together keep to it.
        env["CARDPIPE_RATELIMIT__RATE"] = repr(settings.ratelimit.rate / processes)
        env["CARDPIPE_RATELIMIT__BURST"] = str(max(1, settings.ratelimit.burst // processes))
    return env


def _process_with_children(settings: Settings, args: argparse.Namespace, tally: RunTally,
                           progress: RunProgress) -> _Round:
    lines: stdlib_queue.Queue[tuple[int, str | None]] = stdlib_queue.Queue()
    children = [subprocess.Popen(_child_command(args), stdout=subprocess.PIPE, text=True, encoding="utf-8",
                                 env=_child_environment(settings, args.processes))
                for _ in range(args.processes)]
    readers = [threading.Thread(target=_read_lines, args=(i, child.stdout, lines), daemon=True)
               for i, child in enumerate(children)]
    for reader in readers:
        reader.start()
    stopping: list[str] = []

    def stop_children(reason: str) -> None:
        stopping.append(reason)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    reports: dict[int, dict[str, Any]] = {}
    open_streams = len(children)
    with stop_on_signals(stop_children):
        while open_streams:
            index, line = lines.get()
            if line is None:
                open_streams -= 1
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "report" in event:
                reports[index] = event["report"]
                if event["report"].get("exit_code") not in (EXIT_OK, None) and not stopping:
                    stop_children(event["report"].get("reason", "a worker stopped"))
                continue
            tally.add(str(event.get("status")), event.get("code"))
            progress.update()
        codes = [child.wait() for child in children]
    return _combine_children(codes, reports, stopping)


def _read_lines(index: int, stream: IO[str] | None, lines: stdlib_queue.Queue[tuple[int, str | None]]) -> None:
    if stream is not None:
        for line in stream:
            lines.put((index, line))
    lines.put((index, None))


def _combine_children(codes: list[int], reports: dict[int, dict[str, Any]], stopping: list[str]) -> _Round:
    failed = [(i, code) for i, code in enumerate(codes) if code != EXIT_OK]
    if not failed:
        return _Round(EXIT_OK, "")
    # The first worker that failed on its own says why; the others were stopped because of it.
    own = [(i, c) for i, c in failed if c not in (130, -signal.SIGTERM)] or failed
    index, code = own[0]
    reason = reports.get(index, {}).get("reason") or (stopping[0] if stopping else f"worker exited with {code}")
    return _Round(code if code > 0 else EXIT_INCOMPLETE, reason)
