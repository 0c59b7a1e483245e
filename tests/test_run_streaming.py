"""``cardpipe run`` streams: its workers start while the source is still being listed, and the producer stays
a bounded number of tasks ahead of the outcomes (the queue never holds the whole source)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from worker.config import load_config
from worker.jobs import run_source as run_module
from worker.jobs.run_source import RunRequest, run_source
from worker.outcomes import open_outcomes
from worker.progress import RunProgress, RunTally
from worker.queues import pending_count
from worker.sources import Source
from worker.tasks import Task

PAGES, PAGE = 4, 3


class _WatchedSource(Source):
    """Pages of real files; before each later page, waits (bounded) for an outcome to exist and notes the queue."""

    def __init__(self, folder: Path, results: Path, settings: object) -> None:
        self.folder, self.results, self.settings = folder, results, settings
        self.description = str(folder)
        self.outcome_seen_while_listing = False
        self.pending_seen: list[int] = []

    def pages(self) -> Iterator[list[Task]]:
        for number in range(PAGES):
            if number == 1:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not any(self.results.glob("*.json")):
                    time.sleep(0.05)
                self.outcome_seen_while_listing = any(self.results.glob("*.json"))
            self.pending_seen.append(pending_count(self.settings.queue) or 0)  # type: ignore[attr-defined]
            yield [Task.for_location(str(self.folder / f"card_{number}_{index}.jpg")) for index in range(PAGE)]


def test_workers_start_while_the_source_is_listed_and_the_queue_stays_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "STREAM_AHEAD", 2, raising=False)
    folder = tmp_path / "images"
    folder.mkdir()
    for number in range(PAGES):
        for index in range(PAGE):
            (folder / f"card_{number}_{index}.jpg").write_bytes(f"image {number} {index}".encode())
    config = tmp_path / "pipeline.yaml"
    config.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: var/outcomes\n"
                      "ratelimit:\n  backend: none\nworker:\n  idle_exit_s: 0.2\n  concurrency: 2\n", encoding="utf-8")
    with FakeUpstream() as fake:
        monkeypatch.setenv("CARDPIPE_UPSTREAM__URL", fake.url)
        monkeypatch.setenv("CARDPIPE_UPSTREAM__APPID", "1250000000")
        settings = load_config(config)
        settings.storage.local_roots = [folder]
        outcomes = open_outcomes(settings.outcomes, settings.storage)
        source = _WatchedSource(folder, tmp_path / "var" / "outcomes" / "results", settings)
        tally = RunTally()
        with RunProgress(tally, enabled=False) as progress:
            result = run_source(settings, RunRequest(source=source, concurrency=2), outcomes, progress, tally)
        assert result.exit_code == 0, result.reason
        assert fake.total_calls == PAGES * PAGE
    assert source.outcome_seen_while_listing, "no outcome was written before the source was fully listed"
    assert max(source.pending_seen) <= 2 + 1, source.pending_seen  # STREAM_AHEAD, plus the one being published
    assert len(list(outcomes.result_ids())) == PAGES * PAGE and result.missing == set()
