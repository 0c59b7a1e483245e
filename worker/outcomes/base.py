"""The outcome store's contract, shared by the local-directory and S3 implementations.

Every task ends with exactly one outcome: a result or a dead letter, one JSON object at
``<sink>/results/<task_id>.json`` or ``<sink>/dead/<task_id>.json``. Writes are create-once: a second write of
the same task's outcome (a redelivery racing the first) returns False and changes nothing, which is what turns
at-least-once delivery into exactly-once effects.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator

from pydantic import BaseModel

from worker.api.errors import CardpipeError
from worker.tasks import DeadLetter, Result

RESULTS_DIR = "results"
DEAD_DIR = "dead"


class OutcomeKind(enum.StrEnum):
    RESULT = "result"
    DEAD_LETTER = "dead_letter"


class OutcomeStoreError(CardpipeError):
    """The outcome store cannot be written or read (disk full, bucket missing, access denied)."""


class OutcomeStore(abc.ABC):
    """Where results and dead letters are kept, keyed by task id."""

    #: Human-readable place, for summaries and errors (a directory or an ``s3://`` prefix).
    location: str

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
        return self._create(RESULTS_DIR, result.task_id, _encode(result))

    def write_dead_letter(self, dead_letter: DeadLetter) -> bool:
        """Store a dead letter once; False when the task already had an outcome (see :meth:`write_result`)."""
        if self._exists(RESULTS_DIR, dead_letter.task_id):
            return False
        return self._create(DEAD_DIR, dead_letter.task_id, _encode(dead_letter))

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


def _encode(record: BaseModel) -> bytes:
    """Compact UTF-8 JSON, one line (non-ASCII field and bank names kept readable; ``jq`` indents on demand).

    Why pydantic's serializer: it writes the bytes straight from the model in compiled code, where
    ``json.dumps(indent=...)`` falls back to the pure-Python encoder, which cost more per outcome than the
    rest of the outcome write's Python code.
    """
    return record.model_dump_json().encode("utf-8") + b"\n"
