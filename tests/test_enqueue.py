"""Enqueueing a source: tasks with an outcome are skipped from one listing of the outcome store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from worker.commands.enqueue import enqueue_source
from worker.outcomes import LocalOutcomeStore
from worker.queues import QueueSettings, TaskPublisher, pending_count
from worker.sources import ListFileSource
from worker.tasks import DeadLetter, Task, utc_now


class _CountingStore(LocalOutcomeStore):
    """A local store that counts per-task checks and listings."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.checks = 0
        self.listings = 0

    def _exists(self, folder: str, task_id: str) -> bool:
        self.checks += 1
        return super()._exists(folder, task_id)

    def _ids(self, folder: str) -> Iterator[str]:
        self.listings += 1
        return super()._ids(folder)


def test_a_rerun_skips_done_tasks_from_one_listing_not_one_check_per_task(tmp_path: Path) -> None:
    locations = tmp_path / "locations.txt"
    locations.write_text("".join(f"/cards/{index:04d}.jpg\n" for index in range(1200)), encoding="utf-8")
    store = _CountingStore(tmp_path / "outcomes")
    now = utc_now()
    for index in range(0, 1200, 2):  # every other task already has an outcome
        task = Task.for_location(f"/cards/{index:04d}.jpg")
        store.write_dead_letter(DeadLetter(task_id=task.id, task=task, code="-1102", reason="x", attempts=1,
                                           first_attempt_at=now, last_attempt_at=now, worker="test:1"))
    store.checks = store.listings = 0
    settings = QueueSettings(url=f"sqla+sqlite:///{tmp_path / 'queue.sqlite'}")
    with TaskPublisher(settings) as publisher:
        report = enqueue_source(ListFileSource(locations), store, publisher)
    assert (report.enqueued, report.skipped) == (600, 600)
    assert (store.checks, store.listings) == (0, 2)  # the results and dead-letter folders, once each
    assert pending_count(settings) == 600
