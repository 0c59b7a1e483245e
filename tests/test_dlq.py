"""``cardpipe dlq`` on the embedded queue: list, filter by code family, redrive without losing anything."""

from __future__ import annotations

import json
from pathlib import Path

import kombu
import pytest

from worker.cli import main
from worker.config import load_config
from worker.outcomes import open_outcomes
from worker.queues import connection, task_queue
from worker.tasks import DeadLetter, Task, utc_now


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: ./var/outcomes\n")
    return path


def _dead(location: str, code: str, reason: str = "failed") -> DeadLetter:
    task = Task.for_location(location)
    now = utc_now()
    return DeadLetter(task_id=task.id, task=task, code=code, reason=reason, attempts=3, first_attempt_at=now,
                      last_attempt_at=now, worker="test")


def _drain(config_path: Path) -> list[dict]:
    settings = load_config(config_path)
    bodies = []
    with connection(settings.queue) as conn, conn.SimpleQueue(task_queue(settings.queue)) as queue:
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                break
            bodies.append(json.loads(message.body) if isinstance(message.body, str) else message.payload)
            message.ack()
    return bodies


def test_redrive_by_code_family_moves_only_those_tasks(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_outcomes(load_config(config_path).outcomes)
    transient = [_dead(f"/data/t{i}.jpg", f"retries_exhausted:{c}") for i, c in enumerate(("15", "-5208"))]
    permanent = _dead("/data/p.jpg", "-9011", "no card number 6225760000000000 passed")
    for dead in [*transient, permanent]:
        assert store.write_dead_letter(dead)

    assert main(["--config", str(config_path), "dlq", "list", "--json", "--code", "retries_exhausted"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(d["task_id"] for d in listed) == sorted(d.task_id for d in transient)

    assert main(["--config", str(config_path), "dlq", "redrive", "--code", "retries_exhausted"]) == 0
    assert "redrove 2 task(s)" in capsys.readouterr().out
    assert sorted(store.dead_letter_ids()) == [permanent.task_id]
    bodies = _drain(config_path)
    assert sorted(b["id"] for b in bodies) == sorted(d.task_id for d in transient)
    assert all(b["attempt"] == 1 for b in bodies)


def test_redrive_refuses_without_a_selection_and_reports_unknown_ids(config_path: Path) -> None:
    assert main(["--config", str(config_path), "dlq", "redrive"]) == 2
    assert main(["--config", str(config_path), "dlq", "redrive", "0" * 32]) == 1
    assert main(["--config", str(config_path), "dlq", "show", "0" * 32]) == 1


def test_dry_run_changes_nothing(config_path: Path) -> None:
    store = open_outcomes(load_config(config_path).outcomes)
    dead = _dead("/data/x.jpg", "not_found")
    store.write_dead_letter(dead)
    assert main(["--config", str(config_path), "dlq", "redrive", "--all", "--dry-run"]) == 0
    assert list(store.dead_letter_ids()) == [dead.task_id]
    assert _drain(config_path) == []


def test_failed_publish_puts_the_dead_letter_back(config_path: Path) -> None:
    from worker.jobs.redrive import redrive

    store = open_outcomes(load_config(config_path).outcomes)
    dead = _dead("/data/y.jpg", "retries_exhausted:15")
    store.write_dead_letter(dead)

    class BrokenPublisher:
        def publish_task(self, body: str) -> None:
            raise kombu.exceptions.OperationalError("broker down")

    with pytest.raises(kombu.exceptions.OperationalError):
        redrive(store, BrokenPublisher(), [dead])  # type: ignore[arg-type]
    assert store.read_dead_letter(dead.task_id) is not None
