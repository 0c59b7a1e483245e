"""``cardpipe runs``: the runs that wrote to the outcome store, oldest first, with their counts.

Example::

    cardpipe runs
    cardpipe runs --json
    cardpipe runs postgresql://cardpipe@db/cards

Exit codes: 0 listed (possibly none); 1 the store cannot be read; 2 bad configuration.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from worker.api.errors import CardpipeError
from worker.commands._reading import EXIT_FAILED, open_for_reading
from worker.results.runs import list_runs


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sink", nargs="?", metavar="SINK", help="an outcome store (default: outcomes.sink)")
    parser.add_argument("--json", action="store_true", help="one JSON object per run instead of a table")
    parser.add_argument("--limit", type=int, default=20, help="the newest N runs (0: all; default 20)")


def run(args: argparse.Namespace) -> int:
    opened = open_for_reading("runs", args.config, args.sink)
    if isinstance(opened, int):
        return opened
    _, store = opened
    try:
        records = list_runs(store)
    except CardpipeError as exc:
        print(f"cardpipe runs: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.limit:
        records = records[-args.limit:]
    if args.json:
        for record in records:
            print(record.model_dump_json())
        return 0
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    if not records:
        console.print(f"no runs recorded in {escape(store.location)}")
        return 0
    table = Table("run id", "started (UTC)", "took", "status", "ok", "dead", "skipped", "missing", "source",
                  title=escape(f"runs in {store.location}"), title_justify="left")
    table.columns[0].no_wrap = True
    table.columns[-1].overflow = "fold"
    for record in records:
        took = f"{(record.finished_at - record.started_at).total_seconds():.0f} s" if record.finished_at else "-"
        counts = record.counts
        table.add_row(record.run_id, record.started_at.strftime("%Y-%m-%d %H:%M:%S"), took, record.status,
                      str(counts.get("ok", "")), str(counts.get("dead", "")), str(counts.get("skipped", "")),
                      str(counts.get("missing", "")), escape(record.source))
    console.print(table)
    console.print("outcomes of one run: cardpipe export --run RUN_ID -o run.csv")
    return 0
