"""``cardpipe export [SINK]``: every image's outcome as one table row, to CSV, JSON lines or Parquet.

Columns: location, task id, run id, status (ok / dead), code, reason, card number (and its HMAC under
``card_number: hmac``), bank, institution code, card name, card kind, expiry, each field's confidence,
attempts, worker, processed_at. Card numbers are written as ``outcomes.card_number`` (or ``--card-number``)
says; a number the sink already stores masked stays masked.

Streams: memory stays flat for any number of outcomes. A corrupt outcome (a file that is not JSON, a row that
is not an outcome) is reported on stderr with its id, skipped, and counted in the closing line. With ``-o``
the table is written to ``FILE.partial`` and renamed when complete.

Example::

    cardpipe export -o backfill.parquet
    cardpipe export s3://outcomes/2026-11/ --format csv --status dead -o dead.csv
    cardpipe export --run latest --since 2026-12-01 > latest.csv

Exit codes: 0 exported (corrupt outcomes skipped are counted, not fatal); 1 the store cannot be read;
2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from worker.api.errors import CardpipeError, ConfigError
from worker.commands._reading import EXIT_CONFIG, EXIT_FAILED
from worker.config import load_config
from worker.outcomes import CardNumberPolicy
from worker.results.export import STATUSES, ExportFilter, ExportReport, export_rows, parse_since
from worker.results.runs import find_run
from worker.results.sinks import open_sink
from worker.results.writers import FORMATS, CsvWriter, JsonLinesWriter, ParquetWriter, RowWriter

#: Rows between two progress updates.
PROGRESS_EVERY = 2000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sink", nargs="?", metavar="SINK",
                        help="a directory, s3:// prefix or postgresql:// URL (default: outcomes.sink)")
    parser.add_argument("--format", choices=FORMATS, help="default: from -o's suffix, else csv")
    parser.add_argument("-o", "--output", help="the file to write (default: stdout; required for parquet)")
    parser.add_argument("--run", help="only this run's outcomes: a run id, its prefix, or 'latest'")
    parser.add_argument("--since", help="only outcomes processed at or after this ISO date/time (UTC if naive)")
    parser.add_argument("--status", choices=STATUSES, default="all", help="ok, dead or all (default)")
    parser.add_argument("--card-number", choices=[p.value for p in CardNumberPolicy],
                        help="how to write card numbers (default: outcomes.card_number)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress line")


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower().lstrip(".") if args.output else ""
    return {"parquet": "parquet", "pq": "parquet", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "csv")


def run(args: argparse.Namespace) -> int:
    fmt = _format(args)
    try:
        if fmt == "parquet" and not args.output:
            raise ConfigError("parquet needs a file: add -o FILE.parquet")
        settings = load_config(args.config)
        protector = settings.outcomes.protector(args.card_number)
        since = parse_since(args.since) if args.since else None
    except (ConfigError, ValueError) as exc:
        print(f"cardpipe export: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        store = open_sink(settings, args.sink)
        run_id = find_run(store, args.run).run_id if args.run else None
    except ConfigError as exc:
        print(f"cardpipe export: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (CardpipeError, LookupError) as exc:
        print(f"cardpipe export: {exc}", file=sys.stderr)
        return EXIT_FAILED

    selection = ExportFilter(status=args.status, run_id=run_id, since=since)
    report = ExportReport()
    started = time.monotonic()

    def corrupt(task_id: str, reason: str) -> None:
        print(f"cardpipe export: skipped {task_id}: {reason}", file=sys.stderr)

    target = Path(args.output) if args.output else None
    partial = target.with_name(target.name + ".partial") if target else None
    console = Console(stderr=True)
    progress = Progress(SpinnerColumn(), TextColumn("exporting {task.completed:,} rows"),
                        TextColumn("({task.fields[rate]:,.0f} rows/s)"), TimeElapsedColumn(), console=console,
                        disable=args.no_progress or not console.is_terminal)
    try:
        with progress, _open_output(partial, fmt) as stream:
            bar = progress.add_task("export", total=None, rate=0.0)
            writer = _writer(fmt, stream, partial)
            for row in export_rows(store, selection, protector, report, on_corrupt=corrupt):
                writer.write(row)
                if report.rows % PROGRESS_EVERY == 0:
                    progress.update(bar, completed=report.rows,
                                    rate=report.rows / max(time.monotonic() - started, 1e-6))
            writer.close()
            progress.update(bar, completed=report.rows)
        if partial is not None and target is not None:
            os.replace(partial, target)
    except (CardpipeError, OSError) as exc:
        if partial is not None:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        print(f"cardpipe export: {exc}", file=sys.stderr)
        return EXIT_FAILED
    took = time.monotonic() - started
    where = str(target) if target else "stdout"
    print(f"cardpipe export: {report.rows} row(s) (ok {report.ok}, dead {report.dead}) from {store.location} "
          f"to {where} as {fmt} in {took:.1f} s; {len(report.corrupt)} corrupt outcome(s) skipped",
          file=sys.stderr)
    return 0


@contextlib.contextmanager
def _open_output(partial: Path | None, fmt: str):  # type: ignore[no-untyped-def]
    if partial is None:
        yield sys.stdout
    elif fmt == "parquet":
        yield None  # pyarrow opens the file itself
    else:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            yield handle


def _writer(fmt: str, stream: IO[str] | None, partial: Path | None) -> RowWriter:
    if fmt == "parquet":
        return ParquetWriter(str(partial))
    assert stream is not None
    return CsvWriter(stream) if fmt == "csv" else JsonLinesWriter(stream)
