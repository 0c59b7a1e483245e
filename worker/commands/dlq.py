"""``cardpipe dlq``: see what failed and why, and send it round again once the cause is fixed.

Dead letters live in the outcome store (``<sink>/dead/<task_id>.json``), so this works the same on every
transport. A code filter matches the whole code or its family: ``retries_exhausted`` matches
``retries_exhausted:15`` and ``retries_exhausted:-5208``.

Redrive (see :mod:`worker.jobs.redrive`) deletes a dead letter before it re-enqueues the task, and writes it
back when the broker does not confirm the task, so nothing is lost either way; the redriven task carries the
dead letter's code and attempts in its history. On RabbitMQ with ``queue.quorum``, every action first takes
in what the broker dead-lettered into its backstop queue (code ``delivery_limit``, see
:mod:`worker.jobs.backstop`); ``cardpipe dlq backstop`` does only that.

Example::

    cardpipe dlq list --code -9011
    cardpipe dlq show 3f2a
    cardpipe dlq redrive --code retries_exhausted
    cardpipe dlq redrive 3f2a 9b1c
    cardpipe dlq backstop

Every command takes a task id or a prefix of one (4 hex digits or more, as long as it names one dead letter).
``list`` prints each dead letter's full id and location (a card number in a path is masked on screen),
newest last, the same order in the table and ``--json``; ``--limit N`` keeps the newest N.

Exit codes: 0 done; 1 the outcome store failed, or a named dead letter does not exist; 2 bad configuration,
or ``redrive`` without an id, ``--code`` or ``--all``; 4 the broker is unreachable or refuses our login.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from collections import Counter
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from worker.api.errors import CardpipeError, ConfigError
from worker.broker import BrokerUnavailable
from worker.config import Settings, load_config
from worker.exit_codes import EXIT_CONFIG, EXIT_FAILED
from worker.jobs.backstop import BackstopReport, absorb_backstop
from worker.jobs.redrive import code_matches, matching, redrive
from worker.observability import mask_digits_in_text
from worker.outcomes import OutcomeStore, open_outcomes
from worker.queues import TaskPublisher
from worker.results.lookup import OutcomeNotFound, resolve_id
from worker.tasks import DeadLetter


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list dead letters (newest last)")
    listing.add_argument("--code", help="only this code, or this code family (e.g. retries_exhausted)")
    listing.add_argument("--limit", type=int, default=50, help="the newest N dead letters (0: all; default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    actions.add_parser("stats", help="count dead letters by code")
    show = actions.add_parser("show", help="print one dead letter as JSON")
    show.add_argument("task_id", help="a task id or a prefix of one")
    redrive = actions.add_parser("redrive", help="re-enqueue dead-lettered tasks and remove their dead letters")
    redrive.add_argument("task_ids", nargs="*", metavar="TASK_ID",
                         help="these tasks, by id or id prefix (default: all matching --code)")
    redrive.add_argument("--code", help="only dead letters with this code or code family")
    redrive.add_argument("--all", action="store_true", help="every dead letter (required when no id or code is given)")
    redrive.add_argument("--dry-run", action="store_true", help="say what would be redriven, change nothing")
    actions.add_parser("backstop", help="turn what the broker dead-lettered (quorum queues) into dead letters")


def newest_last(dead_letters: Iterable[DeadLetter], limit: int) -> list[DeadLetter]:
    """The newest ``limit`` dead letters (all when 0), oldest first: what ``list`` prints, table or JSON.

    Keeps only ``limit`` entries in memory while it reads a large dead-letter store.
    """
    def key(dead: DeadLetter) -> tuple[object, str]:
        return dead.last_attempt_at, dead.task_id

    if limit:
        return sorted(heapq.nlargest(limit, dead_letters, key=key), key=key)
    return sorted(dead_letters, key=key)


def _print_entries(dead_letters: list[DeadLetter]) -> None:
    """One block per dead letter, never cut whatever the terminal width: the full id and location."""
    for dead in dead_letters:
        location = mask_digits_in_text(dead.location) if dead.location else "(not a task: unreadable message)"
        print(f"{dead.task_id}  {dead.code}  {dead.attempts} attempt(s)  "
              f"{dead.last_attempt_at.strftime('%Y-%m-%d %H:%M:%S')} UTC")
        print(f"    location: {location}")
        print(f"    reason:   {dead.reason}")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        print(f"cardpipe dlq: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    console = Console()
    try:
        store = open_outcomes(settings.outcomes, settings.storage)
        try:
            taken = absorb_backstop(settings, store)
        except BrokerUnavailable as exc:
            if args.action == "backstop":
                raise
            print(f"cardpipe dlq: the broker's backstop queue was not checked: {exc}", file=sys.stderr)
            taken = BackstopReport()
        if taken.taken or args.action == "backstop":
            print(f"took in {len(taken.dead_letters)} message(s) from the broker's backstop queue "
                  f"{settings.queue.backstop} as delivery_limit dead letters"
                  + (f" ({taken.already_done} already had an outcome)" if taken.already_done else ""),
                  file=sys.stderr)
        if args.action == "backstop":
            return 0
        if args.action == "list":
            selected = newest_last(matching(store, args.code), args.limit)
            if args.json:
                for dead in selected:
                    print(dead.model_dump_json())
            else:
                _print_entries(selected)
                print(f"{len(selected)} dead letter(s), newest last, in {store.location}; "
                      "details: cardpipe dlq show ID_PREFIX", file=sys.stderr)
            return 0
        if args.action == "stats":
            counts = Counter(dead.code for dead in store.iter_dead_letters())
            table = Table("code", "dead letters")
            for code, count in counts.most_common():
                table.add_row(code, str(count))
            console.print(table)
            console.print(f"{sum(counts.values())} dead letter(s) in {store.location}")
            return 0
        if args.action == "show":
            dead = store.read_dead_letter(resolve_id(store, args.task_id, dead_letters_only=True).task_id)
            if dead is None:
                print(f"cardpipe dlq: no dead letter with id {args.task_id}", file=sys.stderr)
                return EXIT_FAILED
            print(json.dumps(dead.model_dump(mode="json"), ensure_ascii=False, indent=2))
            return 0
        return _redrive_command(args, store, settings)
    except BrokerUnavailable as exc:
        print(f"cardpipe dlq: {exc}", file=sys.stderr)
        return exc.exit_code
    except CardpipeError as exc:
        print(f"cardpipe dlq: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _dead_letter_named(store: OutcomeStore, id_or_prefix: str) -> DeadLetter | None:
    try:
        return store.read_dead_letter(resolve_id(store, id_or_prefix, dead_letters_only=True).task_id)
    except OutcomeNotFound:
        return None  # reported with the other unknown ids; an ambiguous prefix raises and says so


def _redrive_command(args: argparse.Namespace, store: OutcomeStore, settings: Settings) -> int:
    if not (args.task_ids or args.code or args.all):
        print("cardpipe dlq redrive: name task ids, a --code, or --all", file=sys.stderr)
        return EXIT_CONFIG
    if args.task_ids:
        found = [_dead_letter_named(store, task_id) for task_id in args.task_ids]
        missing = [tid for tid, dead in zip(args.task_ids, found, strict=True) if dead is None]
        if missing:
            print(f"cardpipe dlq redrive: no dead letter with id {', '.join(missing)}", file=sys.stderr)
            return EXIT_FAILED
        selected = [dead for dead in found if dead is not None and code_matches(dead.code, args.code)]
    else:
        selected = list(matching(store, args.code))
    with TaskPublisher(settings.queue) as publisher:
        count, notes = redrive(store, publisher, selected, dry_run=args.dry_run)
    for note in notes:
        print(note, file=sys.stderr)
    verb = "would redrive" if args.dry_run else "redrove"
    print(f"{verb} {count} task(s) to {settings.queue.tasks}")
    return 0
