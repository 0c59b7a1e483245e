"""Worker processes die with their parent, whatever kills it, and never overlap a resumed run; SIGTERM drains
them. For ``cardpipe run --processes`` and ``cardpipe worker --processes`` alike (one supervision module).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.test_run import _cardpipe, _config, _env, _folder, _outcome_ids
from worker.supervision import run_children


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _done_count(tmp_path: Path) -> int:
    return sum(map(len, _outcome_ids(tmp_path)))


@pytest.mark.timeout(300)
def test_run_killed_with_sigkill_takes_its_workers_with_it_and_the_resumed_run_pays_each_image_once(
        tmp_path: Path) -> None:
    count = 40
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path)
    with FakeUpstream(default=Reply(delay=0.2)) as fake:
        victim = subprocess.Popen(_cardpipe(config, "run", str(folder), "--json", "--processes", "4",
                                            "--concurrency", "2"),
                                  env=_env(fake.url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _wait_for(lambda: _done_count(tmp_path) >= 8, 90), "the run got going"
        children = _children(victim.pid)
        assert len(children) == 4
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        # The resumed run starts at once, while the old workers may still be finishing their in-flight calls.
        resumed = subprocess.run(_cardpipe(config, "run", str(folder), "--json", "--processes", "2"),
                                 env=_env(fake.url), capture_output=True, text=True, timeout=240)
        lingering = [child for child in children if _alive(child)]
        assert not lingering, f"the killed run's workers {lingering} are gone (resumed run: exit " \
                              f"{resumed.returncode}, {resumed.stderr[-600:]})"
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["missing"] == 0
        results, dead = _outcome_ids(tmp_path)
        assert len(results) == count and dead == []
        assert [fake.calls_for(image) for image in images] == [1] * count, "no image paid twice"


@pytest.mark.timeout(240)
def test_worker_processes_drain_on_sigterm_and_die_on_sigkill(tmp_path: Path) -> None:
    count = 30
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path)
    with FakeUpstream(default=Reply(delay=0.3)) as fake:
        env = {**_env(fake.url), "CARDPIPE_STORAGE__LOCAL_ROOTS": json.dumps([str(folder)])}
        enqueued = subprocess.run(_cardpipe(config, "enqueue", str(folder)), env=env, capture_output=True,
                                  text=True, timeout=60)
        assert enqueued.returncode == 0, enqueued.stderr
        worker = subprocess.Popen(_cardpipe(config, "worker", "--processes", "2", "--concurrency", "2"), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert _wait_for(lambda: _done_count(tmp_path) >= 4, 90)
        children = _children(worker.pid)
        assert len(children) == 2
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 130
        assert not any(_alive(child) for child in children)
        assert fake.total_calls == _done_count(tmp_path), "every paid call in flight at SIGTERM was finished"
        stderr = worker.stderr.read() if worker.stderr else ""
        assert "Traceback" not in stderr

        worker = subprocess.Popen(_cardpipe(config, "worker", "--processes", "2", "--concurrency", "2"), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _wait_for(lambda: len(_children(worker.pid)) == 2, 30)
        children = _children(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        assert _wait_for(lambda: not any(_alive(child) for child in children), 20), "children die with the parent"
        calls = fake.total_calls
        time.sleep(1)
        assert fake.total_calls == calls, "no call after the workers are gone"
        assert fake.total_calls == _done_count(tmp_path)

        finished = subprocess.run(_cardpipe(config, "worker", "--until-empty", "--processes", "2"), env=env,
                                  capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
    assert _done_count(tmp_path) == count, "the killed worker's children gave back what they had not started"
    assert [fake.calls_for(image) for image in images] == [1] * count


@pytest.mark.parametrize(("codes", "reports", "stopping", "expected"), [
    ([0, 0], {}, [], (0, "")),
    ([4, 130], {0: {"reason": "the broker at amqp://... is unreachable"}}, ["the broker"], (4, "the broker at")),
    ([130, 6], {1: {"reason": "the shared rate limiter's Redis at ..."}}, ["x"], (6, "the shared rate limiter")),
    ([130, -signal.SIGTERM], {}, ["stopped by a signal"], (130, "stopped by a signal")),
    ([0, -signal.SIGKILL], {}, [], (1, "a worker process was killed by SIGKILL")),
])
def test_the_first_worker_that_failed_on_its_own_gives_the_exit_code_and_reason(
        codes: list[int], reports: dict, stopping: list[str], expected: tuple[int, str]) -> None:  # type: ignore[type-arg]
    from worker.supervision import ChildrenReport

    report = ChildrenReport(codes=codes, reports=reports, stopping=stopping)
    assert report.exit_code == expected[0]
    assert expected[1] in report.reason


def test_each_child_that_exits_is_reported_with_its_pid() -> None:
    report_line = 'import json; print(json.dumps({"report": {"exit_code": 0}}), flush=True)'
    exited: list[int] = []
    children = run_children([sys.executable, "-c", report_line], 2, env=dict(os.environ),
                            on_outcome=lambda _event: None, stop=threading.Event(), grace_s=5,
                            on_exit=exited.append)
    assert children.codes == [0, 0]
    assert len(set(exited)) == 2 and all(pid > 0 for pid in exited)
