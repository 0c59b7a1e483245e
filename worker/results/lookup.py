"""Finding outcomes the way people name images: by id prefix (as ``dlq list`` shows them) or by location.

An argument of 4 to 32 hex digits is an id prefix; anything else is a location (a path, ``s3://``, ...). A
prefix must name one outcome; several get an :class:`AmbiguousId` listing them so the user can type more.

>>> looks_like_id_prefix("3f2a"), looks_like_id_prefix("photos/a.jpg")
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.api.errors import CardpipeError
from worker.outcomes import DEAD_DIR, RESULTS_DIR, OutcomeStore
from worker.tasks import DeadLetter, Result

_ID_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")
#: Most candidates listed when a prefix is ambiguous.
SHOWN_CANDIDATES = 10


class OutcomeNotFound(CardpipeError, LookupError):
    """Nothing in the store matches what was asked for."""


class AmbiguousId(CardpipeError, LookupError):
    """An id prefix that names more than one outcome."""


def looks_like_id_prefix(text: str) -> bool:
    return bool(_ID_PREFIX.match(text.strip().lower()))


@dataclass(frozen=True)
class Found:
    folder: str
    task_id: str

    @property
    def is_dead_letter(self) -> bool:
        return self.folder == DEAD_DIR


def resolve_id(store: OutcomeStore, prefix: str, *, dead_letters_only: bool = False) -> Found:
    """The one outcome (or dead letter) whose id starts with ``prefix``."""
    prefix = prefix.strip().lower()
    if not looks_like_id_prefix(prefix):
        raise OutcomeNotFound(f"{prefix!r} is not a task id or id prefix (4 or more hex digits)")
    folders = (DEAD_DIR,) if dead_letters_only else (RESULTS_DIR, DEAD_DIR)
    found = [Found(folder, task_id) for folder, task_id in store.ids_with_prefix(prefix, SHOWN_CANDIDATES + 1, folders)]
    what = "dead letter" if dead_letters_only else "outcome"
    if not found:
        raise OutcomeNotFound(f"no {what} with an id starting {prefix} in {store.location}")
    if len(found) > 1:
        shown = ", ".join(f.task_id for f in found[:SHOWN_CANDIDATES])
        raise AmbiguousId(f"{prefix} starts {'more than ' if len(found) > SHOWN_CANDIDATES else ''}"
                          f"{min(len(found), SHOWN_CANDIDATES)} {what} ids ({shown}); type more of it")
    return found[0]


def find_outcomes(store: OutcomeStore, wanted: str) -> list[Found]:
    """The outcomes ``wanted`` names: by id prefix first, then as a location."""
    wanted = wanted.strip()
    if looks_like_id_prefix(wanted):
        try:
            return [resolve_id(store, wanted)]
        except OutcomeNotFound:
            pass  # a file called "cafe1234" may still be a location
    try:
        found = [Found(folder, task_id) for folder, task_id in store.ids_at_location(wanted)]
    except CardpipeError:
        found = []
    if not found:
        raise OutcomeNotFound(f"no outcome for {wanted!r} in {store.location} (give a location as it was "
                              "enqueued, or a task id prefix)")
    return found


def load(store: OutcomeStore, found: Found) -> Result | DeadLetter | None:
    if found.is_dead_letter:
        return store.read_dead_letter(found.task_id)
    return store.read_result(found.task_id)
