"""A redriven task ends with an outcome after the next ``worker`` or ``run``, keeping the permission its folder
had and its history (the codes and attempts of its earlier dead letters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.reliability import cardpipe
from tests.test_run import _config, _env, _outcome_ids


def _images(folder: Path, prefix: str, count: int) -> list[bytes]:
    folder.mkdir(parents=True)
    images = []
    for index in range(count):
        data = f"{prefix} card {index}".encode()
        (folder / f"{prefix}_{index}.jpg").write_bytes(data)
        images.append(data)
    return images


def _result(tmp_path: Path, task_id: str) -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / "conf/var/outcomes/results" / f"{task_id}.json").read_text())


@pytest.mark.timeout(240)
def test_redrive_then_worker_keeps_the_folder_permission_and_the_history(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere" / "cards"   # outside the config's folder: readable only because it was named
    images = _images(folder, "a", 3)
    config = _config(tmp_path)
    with FakeUpstream() as fake:
        fake.script(images[1], [Reply(code=-1102)])
        env = _env(fake.url)
        first, _ = cardpipe(config, "run", str(folder), "--no-progress", env=env)
        assert first.returncode == 0, first.stderr
        results, dead = _outcome_ids(tmp_path)
        assert len(results) == 2 and len(dead) == 1
        redriven, _ = cardpipe(config, "dlq", "redrive", "--code", "-1102", env=env)
        assert redriven.returncode == 0 and "redrove 1" in redriven.stdout, redriven.stderr
        worked, _ = cardpipe(config, "worker", "--until-empty", env=env)
        assert worked.returncode == 0, worked.stderr
        assert [fake.calls_for(image) for image in images] == [1, 2, 1]
    results, dead = _outcome_ids(tmp_path)
    assert len(results) == 3 and dead == [], "the redriven task ended as a result, not bad_location"
    task = _result(tmp_path, next(r for r in results if _result(tmp_path, r)["task"]["history"]))["task"]
    assert task["attempt"] == 1
    assert [(h["code"], h["attempts"]) for h in task["history"]] == [("-1102", 1)]


@pytest.mark.timeout(240)
def test_redrive_then_a_run_of_another_folder_keeps_the_redriven_tasks(tmp_path: Path) -> None:
    first_folder, second_folder = tmp_path / "one", tmp_path / "two"
    first_images = _images(first_folder, "one", 3)
    second_images = _images(second_folder, "two", 3)
    config = _config(tmp_path)
    with FakeUpstream() as fake:
        fake.script(first_images[0], [Reply(code=-9011)])
        fake.script(first_images[2], [Reply(code=-9011)])
        env = _env(fake.url)
        first, _ = cardpipe(config, "run", str(first_folder), "--no-progress", env=env)
        assert first.returncode == 0, first.stderr
        redriven, _ = cardpipe(config, "dlq", "redrive", "--code", "-9011", env=env)
        assert "redrove 2" in redriven.stdout, redriven.stderr
        second, _ = cardpipe(config, "run", str(second_folder), "--json", env=env)
        assert second.returncode == 0, second.stderr
        assert [fake.calls_for(image) for image in first_images + second_images] == [2, 1, 2, 1, 1, 1]
    results, dead = _outcome_ids(tmp_path)
    assert len(results) == 6 and dead == [], "the redriven tasks were processed by the run, not dropped"


