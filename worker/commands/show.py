"""``cardpipe show LOCATION_OR_ID``: print the outcome of one image, found by location or task id prefix.

Example::

    cardpipe show ./photos/card-0042.jpg
    cardpipe show 3f2a9c
    cardpipe show s3://cards/2026-11/a.jpg --sink postgresql://cardpipe@db/cards

Prints the stored outcome as JSON (a result, with the card number as ``outcomes.card_number`` stores it, or a
dead letter), one object per outcome when the location has several (an object rewritten under a new ETag).

Exit codes: 0 found; 1 nothing matches (or the prefix is ambiguous: the message lists the candidates);
2 bad configuration.
"""

from __future__ import annotations

import argparse
import json
import sys

from worker.api.errors import CardpipeError
from worker.commands._reading import EXIT_FAILED as EXIT_NOT_FOUND
from worker.commands._reading import open_for_reading
from worker.results.lookup import find_outcomes, load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wanted", metavar="LOCATION_OR_ID", help="the image's location, or its task id (a prefix)")
    parser.add_argument("--sink", help="the outcome store to read (default: outcomes.sink)")


def run(args: argparse.Namespace) -> int:
    opened = open_for_reading("show", args.config, args.sink)
    if isinstance(opened, int):
        return opened
    _, store = opened
    try:
        found = find_outcomes(store, args.wanted)
        shown = 0
        for match in found:
            outcome = load(store, match)
            if outcome is not None:
                print(json.dumps(outcome.model_dump(mode="json"), ensure_ascii=False, indent=2))
                shown += 1
    except (CardpipeError, ValueError) as exc:
        print(f"cardpipe show: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    return 0 if shown else EXIT_NOT_FOUND
