"""Outcomes in a local directory: one file per task, written atomically and at most once.

Why link rather than rename: ``os.replace`` would silently overwrite an outcome another worker wrote a moment
earlier; ``os.link`` of a fully written, fsynced temporary file onto the final name is atomic and fails when
the name exists, so the first outcome wins and a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from worker.outcomes.base import DEAD_DIR, RESULTS_DIR, RUNS_DIR, OutcomeStore, OutcomeStoreError

_TASK_ID = re.compile(r"^[0-9a-f]{8,64}$")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,79}$")


class LocalOutcomeStore(OutcomeStore):
    """``<root>/results/<task_id>.json`` and ``<root>/dead/<task_id>.json``.

    >>> import tempfile; store = LocalOutcomeStore(tempfile.mkdtemp())
    >>> store.exists("0" * 32)
    False
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        try:
            for folder in (RESULTS_DIR, DEAD_DIR):
                (self.root / folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutcomeStoreError(f"cannot create the outcome directory {self.root}: {exc}") from exc

    def _path(self, folder: str, task_id: str) -> Path:
        if not _TASK_ID.match(task_id):
            raise OutcomeStoreError(f"not a task id: {task_id!r}")
        return self.root / folder / f"{task_id}.json"

    def _exists(self, folder: str, task_id: str) -> bool:
        return self._path(folder, task_id).exists()

    def _create(self, folder: str, task_id: str, payload: bytes) -> bool:
        final = self._path(folder, task_id)
        directory = final.parent
        try:
            with _durable_temp_file(directory, task_id, payload) as temp_name:
                try:
                    os.link(temp_name, final)
                except FileExistsError:
                    return False
            _fsync_directory(directory)
        except OSError as exc:
            raise OutcomeStoreError(f"cannot write {final}: {exc}") from exc
        return True

    def _read(self, folder: str, task_id: str) -> bytes | None:
        try:
            return self._path(folder, task_id).read_bytes()
        except FileNotFoundError:
            return None

    def _delete(self, folder: str, task_id: str) -> bool:
        try:
            self._path(folder, task_id).unlink()
        except FileNotFoundError:
            return False
        _fsync_directory(self.root / folder)
        return True

    def _ids(self, folder: str) -> Iterator[str]:
        with os.scandir(self.root / folder) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(".json") and not e.name.startswith("."))
        for name in names:
            yield name[: -len(".json")]


    def _scan_ids(self, folder: str) -> Iterator[str]:
        # Streamed, unsorted: sorting ten million names would hold them all in memory (export, lookups).
        with os.scandir(self.root / folder) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".json") and not name.startswith("."):
                    yield name[: -len(".json")]

    def _put_run(self, run_id: str, payload: bytes) -> None:
        if not _RUN_ID.match(run_id):
            raise OutcomeStoreError(f"not a run id: {run_id!r}")
        directory = self.root / RUNS_DIR
        try:
            directory.mkdir(exist_ok=True)
            with _durable_temp_file(directory, run_id, payload) as temp_name:
                os.replace(temp_name, directory / f"{run_id}.json")  # a run record is rewritten, never raced
        except OSError as exc:
            raise OutcomeStoreError(f"cannot write the run record {directory / run_id}.json: {exc}") from exc

    def _run_payloads(self) -> Iterator[bytes]:
        directory = self.root / RUNS_DIR
        if not directory.is_dir():
            return
        for path in sorted(directory.glob("*.json")):
            with contextlib.suppress(FileNotFoundError):
                yield path.read_bytes()


@contextlib.contextmanager
def _durable_temp_file(directory: Path, name: str, payload: bytes) -> Iterator[str]:
    """A hidden temporary file in ``directory`` holding ``payload``, fsynced; removed on exit unless renamed."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        yield temp_name
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)


def _fsync_directory(directory: Path) -> None:
    """Make the new name itself durable (a crash right after the link must not lose the outcome)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
