"""``cardpipe enqueue`` and ``cardpipe worker`` as separate commands, and a worker stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.fakes.upstream import FakeUpstream, Reply
from tests.test_run import _cardpipe, _config, _env, _folder, _outcome_ids


def test_enqueue_then_worker_until_empty(tmp_path: Path) -> None:
    folder, images = _folder(tmp_path, 5)
    config = _config(tmp_path)
    with FakeUpstream() as fake:
        fake.script(images[1], [Reply(code=-9010)])
        env = {**_env(fake.url), "CARDPIPE_STORAGE__LOCAL_ROOTS": f'["{folder}"]'}
        enqueued = subprocess.run(_cardpipe(config, "enqueue", str(folder)), env=env, capture_output=True,
                                  text=True, timeout=60)
        assert enqueued.returncode == 0, enqueued.stderr
        assert "enqueued 5 task(s)" in enqueued.stdout
        worked = subprocess.run(_cardpipe(config, "worker", "--until-empty", "--concurrency", "2"), env=env,
                                capture_output=True, text=True, timeout=120)
        assert worked.returncode == 0, worked.stderr
        again = subprocess.run(_cardpipe(config, "enqueue", str(folder)), env=env, capture_output=True, text=True,
                               timeout=60)
        assert "enqueued 0 task(s)" in again.stdout and "skipped 5" in again.stdout
    results, dead = _outcome_ids(tmp_path)
    assert (len(results), len(dead)) == (4, 1)


def test_sigterm_finishes_in_flight_and_requeues_the_rest(tmp_path: Path) -> None:
    count = 20
    folder, _ = _folder(tmp_path, count)
    config = _config(tmp_path)
    with FakeUpstream(default=Reply(delay=0.2)) as fake:
        env = {**_env(fake.url), "CARDPIPE_STORAGE__LOCAL_ROOTS": f'["{folder}"]'}
        subprocess.run(_cardpipe(config, "enqueue", str(folder)), env=env, check=True, capture_output=True,
                       timeout=60)
        worker = subprocess.Popen(_cardpipe(config, "worker", "--concurrency", "2"), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while fake.total_calls < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 130, stderr
        assert "stopped by SIGTERM" in stderr
        calls = fake.total_calls
        done = len(_outcome_ids(tmp_path)[0])
        assert done == calls, "every call that started ended with a written outcome"
        assert done < count
        # The rest is still queued: a second worker finishes it without calling for the finished ones again.
        finish = subprocess.run(_cardpipe(config, "worker", "--until-empty", "--concurrency", "4"), env=env,
                                capture_output=True, text=True, timeout=120)
        assert finish.returncode == 0, finish.stderr
        assert fake.total_calls == count
    assert len(_outcome_ids(tmp_path)[0]) == count
