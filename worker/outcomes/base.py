"""The outcome store's contract, shared by the local-directory, S3 and PostgreSQL implementations.

Every task ends with exactly one outcome: a result or a dead letter, one JSON object at
``<sink>/results/<task_id>.json`` or ``<sink>/dead/<task_id>.json`` (a row of ``cardpipe_outcomes`` in
PostgreSQL, see :mod:`worker.outcomes.postgres`). Writes are create-once: a second write of
the same task's outcome (a redelivery racing the first) returns False and changes nothing, which is what turns
at-least-once delivery into exactly-once effects.

Beside the outcomes, each ``cardpipe run`` keeps its run record (``<sink>/runs/<run_id>.json``, rewritten at the
end of the run), and readers (``show``, ``export``, ``dlq``) find outcomes by id prefix or location and stream
them raw, so that a corrupt one is reported rather than fatal.
"""


from __future__ import annotations

import abc
import enum
import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from worker.api.errors import CardpipeError
from worker.outcomes.cardnumbers import KEEP_FULL, CardNumberProtector
from worker.outcomes.errors import OutcomeStoreError as OutcomeStoreError  # re-exported: the stores raise it
from worker.tasks import DeadLetter, Result, normalize_location, task_id_for

OutcomeT = TypeVar("OutcomeT", Result, DeadLetter)

RESULTS_DIR = "results"
DEAD_DIR = "dead"
RUNS_DIR = "runs"


class OutcomeKind(enum.StrEnum):
    RESULT = "result"
    DEAD_LETTER = "dead_letter"


class OutcomeStore(abc.ABC):
    """Where results and dead letters are kept, keyed by task id."""

    #: Human-readable place, for summaries and errors (a directory, an ``s3://`` prefix or a ``postgresql://``
    #: URL without its password).
    location: str
    #: How card numbers are kept at rest (``outcomes.card_number``); applied by :meth:`write_result`.
    card_numbers: CardNumberProtector = KEEP_FULL
    #: The run this process works for (``outcomes.run_id``, set by ``cardpipe run`` for its workers): every
    #: outcome written here records it, whichever run enqueued the task (that one stays in ``task.run_id``).
    run_id: str | None = None

    @abc.abstractmethod
    def _exists(self, folder: str, task_id: str) -> bool: ...

    @abc.abstractmethod
    def _create(self, folder: str, task_id: str, payload: bytes) -> bool:
        """Write ``payload`` unless the object exists; True when this call created it."""

    @abc.abstractmethod
    def _read(self, folder: str, task_id: str) -> bytes | None: ...

    @abc.abstractmethod
    def _delete(self, folder: str, task_id: str) -> bool: ...

    @abc.abstractmethod
    def _ids(self, folder: str) -> Iterator[str]: ...

    @abc.abstractmethod
    def _put_run(self, run_id: str, payload: bytes) -> None:
        """Write (or rewrite) a run record."""

    @abc.abstractmethod
    def _run_payloads(self) -> Iterator[bytes]:
        """Every run record, in any order."""

    def _scan_ids(self, folder: str) -> Iterator[str]:
        """The ids in ``folder`` in any order; backends that sort in :meth:`_ids` stream here instead."""
        return self._ids(folder)

    # --- public surface ---------------------------------------------------------------------------------------

    def kind_of(self, task_id: str) -> OutcomeKind | None:
        """Which outcome the task has, or None when it has none yet."""
        if self._exists(RESULTS_DIR, task_id):
            return OutcomeKind.RESULT
        if self._exists(DEAD_DIR, task_id):
            return OutcomeKind.DEAD_LETTER
        return None

    def exists(self, task_id: str) -> bool:
        """True when the task already has an outcome (result or dead letter)."""
        return self.kind_of(task_id) is not None

    def write_result(self, result: Result) -> bool:
        """Store a result once; False when the task already had an outcome.

        Only the other kind is checked first: ``_create`` itself refuses a second result (conditional write),
        so checking for one here too would cost an S3 sink a HEAD per task for nothing.
        """
        if self._exists(DEAD_DIR, result.task_id):
            return False
        result = self.as_stored(result)
        return self._create(RESULTS_DIR, result.task_id, _encode(result))

    def write_dead_letter(self, dead_letter: DeadLetter) -> bool:
        """Store a dead letter once; False when the task already had an outcome (see :meth:`write_result`)."""
        if self._exists(RESULTS_DIR, dead_letter.task_id):
            return False
        dead_letter = self.as_stored(dead_letter)
        return self._create(DEAD_DIR, dead_letter.task_id, _encode(dead_letter))

    def as_stored(self, outcome: OutcomeT) -> OutcomeT:
        """``outcome`` as this store keeps it: stamped with its run, card number protected."""
        if self.run_id is not None and outcome.run_id != self.run_id:
            outcome = outcome.model_copy(update={"run_id": self.run_id})
        if isinstance(outcome, Result):
            return self.card_numbers.protect(outcome)  # type: ignore[return-value]
        return outcome

    def read_result(self, task_id: str) -> Result | None:
        raw = self._read(RESULTS_DIR, task_id)
        return None if raw is None else Result.model_validate_json(raw)

    def read_dead_letter(self, task_id: str) -> DeadLetter | None:
        raw = self._read(DEAD_DIR, task_id)
        return None if raw is None else DeadLetter.model_validate_json(raw)

    def delete_dead_letter(self, task_id: str) -> bool:
        """Remove a dead letter (after a redrive re-enqueued its task); True when it existed."""
        return self._delete(DEAD_DIR, task_id)

    def result_ids(self) -> Iterator[str]:
        return self._ids(RESULTS_DIR)

    def dead_letter_ids(self) -> Iterator[str]:
        return self._ids(DEAD_DIR)

    def iter_results(self) -> Iterator[Result]:
        for task_id in self._ids(RESULTS_DIR):
            result = self.read_result(task_id)
            if result is not None:
                yield result

    def iter_dead_letters(self) -> Iterator[DeadLetter]:
        for task_id in self._ids(DEAD_DIR):
            dead_letter = self.read_dead_letter(task_id)
            if dead_letter is not None:
                yield dead_letter


    # --- run records and readers ------------------------------------------------------------------------------

    def save_run(self, run_id: str, record: dict[str, Any]) -> None:
        """Write the run record ``record`` (see :mod:`worker.results.runs`), replacing an earlier version."""
        self._put_run(run_id, _encode(record))

    def run_records(self) -> Iterator[bytes]:
        """The raw run records (JSON), in any order."""
        return self._run_payloads()

    def raw_outcomes(self, folders: Iterable[str] = (RESULTS_DIR, DEAD_DIR), *, run_id: str | None = None,
                     since: Any = None) -> Iterator[tuple[str, str, bytes]]:
        """(folder, task id, raw JSON) of every outcome, streamed in any order.

        ``run_id`` and ``since`` are hints a backend may use to read less (Postgres filters in SQL); callers
        still filter what they parse. An outcome removed between listing and reading is skipped.
        """
        for folder in folders:
            for task_id in self._scan_ids(folder):
                raw = self._read(folder, task_id)
                if raw is not None:
                    yield folder, task_id, raw

    def ids_with_prefix(self, prefix: str, limit: int = 20,
                        folders: Iterable[str] = (RESULTS_DIR, DEAD_DIR)) -> list[tuple[str, str]]:
        """(folder, task id) of outcomes in ``folders`` whose id starts with ``prefix``; at most ``limit``."""
        found: list[tuple[str, str]] = []
        for folder in folders:
            for task_id in self._scan_ids(folder):
                if task_id.startswith(prefix):
                    found.append((folder, task_id))
                    if len(found) >= limit:
                        return found
        return found

    def ids_at_location(self, location: str) -> list[tuple[str, str]]:
        """(folder, task id) of the outcomes of the image at ``location`` (any ETag or version of it).

        The id of the location without a version is tried first (local files, lists); otherwise every
        outcome is read, which on a large file or S3 sink takes a while (the Postgres sink uses its index).
        """
        wanted = normalize_location(location)
        direct = task_id_for(location)
        kind = self.kind_of(direct)
        if kind is not None:
            return [(RESULTS_DIR if kind is OutcomeKind.RESULT else DEAD_DIR, direct)]
        found = []
        for folder, task_id, raw in self.raw_outcomes():
            try:
                data = json.loads(raw)
                stored = data.get("location") or (data.get("task") or {}).get("location")
                if stored and normalize_location(stored) == wanted:
                    found.append((folder, task_id))
            except (ValueError, AttributeError, CardpipeError):
                continue  # a corrupt outcome cannot be the one asked for
        return found


def _encode(record: BaseModel | dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, one line (non-ASCII field and bank names kept readable; ``jq`` indents on demand).

    Why pydantic's serializer for outcomes: it writes the bytes straight from the model in compiled code, where
    ``json.dumps(indent=...)`` falls back to the pure-Python encoder, which cost more per outcome than the
    rest of the outcome write's Python code. Run records are plain dicts, written once per run.
    """
    if isinstance(record, BaseModel):
        return record.model_dump_json().encode("utf-8") + b"\n"
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
