"""What ``cardpipe run`` does to leave a trace: its run id on every outcome it makes, and its run record.

:class:`RunRecorder` is the whole hook: ``begin()`` writes the record as running and makes this process and
its worker processes write the run id into every outcome (``outcomes.run_id``, also through the environment
for the children), ``stamp(source)`` makes every task it enqueues carry it too (a task enqueued by a killed
run and finished by the next keeps the first in ``task.run_id``; the outcome names the run that made it),
``finish(...)`` rewrites the record with the counts. It also names the sources that held nothing, so an empty
or mistyped source is said as such.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from worker.config import Settings
from worker.observability import get_logger
from worker.outcomes import OutcomeStore, OutcomeStoreError
from worker.progress import RunTally
from worker.results.runs import RunRecord, save_run, settings_digest
from worker.sources import FolderSource, S3InventorySource, S3PrefixSource, Source
from worker.tasks import Task

log = get_logger("results.recording")

#: How the run id reaches worker processes (they load their settings from the environment).
RUN_ID_VARIABLE = "CARDPIPE_OUTCOMES__RUN_ID"
#: What a folder source holds, for "no images found" (it takes every regular file, these are the usual ones).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


class RunStampedSource(Source):
    """``source``'s tasks, each carrying ``run_id``."""

    def __init__(self, source: Source, run_id: str) -> None:
        self.source = source
        self.run_id = run_id
        self.description = source.description

    def pages(self) -> Iterator[list[Task]]:
        for page in self.source.pages():
            yield [task.model_copy(update={"run_id": self.run_id}) for task in page]

    def checkpoint(self, page: list[Task]) -> None:
        self.source.checkpoint(page)


class RunRecorder:
    """The run record of one ``cardpipe run`` against ``store``."""

    def __init__(self, store: OutcomeStore, settings: Settings, source: Source) -> None:
        self.store = store
        self.settings = settings
        self.record = RunRecord.start(source.description, store.location,
                                      settings_digest=settings_digest(settings.redacted()))
        self._previous_variable: str | None = None

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def begin(self) -> None:
        save_run(self.store, self.record)
        self.settings.outcomes.run_id = self.run_id
        self.store.run_id = self.run_id
        self._previous_variable = os.environ.get(RUN_ID_VARIABLE)
        os.environ[RUN_ID_VARIABLE] = self.run_id  # the worker processes inherit it; finish() restores it
        log.info("run.started", run_id=self.run_id, outcomes=self.store.location)

    def stamp(self, source: Source) -> Source:
        return RunStampedSource(source, self.run_id)

    def where_to_look(self) -> str:
        """The lines under the run summary that say where the outcomes are and how to read them."""
        return (f"run {self.run_id}: outcomes in {self.store.location}\n"
                f"  one image:  cardpipe show LOCATION_OR_ID\n"
                f"  as a table: cardpipe export --run {self.run_id} -o results.csv  (or .parquet)\n"
                f"  failures:   cardpipe dlq list    all runs: cardpipe runs")

    def finish(self, *, exit_code: int, reason: str, counts: Mapping[str, int],
               dead_by_code: Mapping[str, int]) -> None:
        """Rewrite the record with the end state; a store that fails now is logged (the outcomes are safe)."""
        if self._previous_variable is None:
            os.environ.pop(RUN_ID_VARIABLE, None)
        else:
            os.environ[RUN_ID_VARIABLE] = self._previous_variable
        self.record = self.record.finish(exit_code=exit_code, reason=reason, counts=counts, dead_by_code=dead_by_code)
        try:
            save_run(self.store, self.record)
        except OutcomeStoreError as exc:
            log.warning("run.record_not_saved", run_id=self.run_id, error=str(exc))


def no_images_message(source: Source) -> str:
    """What to say when ``source`` enumerated nothing: where it looked and for what."""
    if isinstance(source, RunStampedSource):
        source = source.source
    if isinstance(source, FolderSource):
        looked = f"every file under it, e.g. {' '.join(IMAGE_SUFFIXES)}; hidden files skipped"
    elif isinstance(source, S3PrefixSource):
        looked = "every object under the prefix; check the bucket and prefix spelling"
    elif isinstance(source, S3InventorySource):
        looked = "every object the inventory report lists"
    else:
        looked = "one location per line; blank lines and # comments skipped"
    return f"no images found in {source.description} (looked for {looked})"


def tally_counts(tally: RunTally, missing: int) -> dict[str, int]:
    """The run record's counts from the run's tally."""
    return {"enqueued": tally.enqueued, "ok": tally.ok, "dead": tally.dead,
            "skipped": tally.already_done + tally.skipped, "ignored": tally.ignored, "missing": missing}
