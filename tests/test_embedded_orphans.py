"""A lone ``cardpipe worker`` on the embedded queue killed with -9 loses none of the messages it held: the rows
of messages in flight survive the sweep, and the next worker makes them visible again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.reliability import cardpipe
from tests.test_run import _cardpipe, _config, _env, _folder, _outcome_ids
from tests.test_supervision import _done_count, _wait_for

CONCURRENCY = 2
PREFETCH = 4


def _invisible_rows(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "conf" / "var" / "queue.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM kombu_message WHERE visible = 0").fetchone()[0])


@pytest.mark.timeout(240)
def test_a_lone_worker_killed_with_sigkill_loses_no_message_and_pays_at_most_prefetch_twice(
        tmp_path: Path) -> None:
    count = 16
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path)
    config.write_text(config.read_text() + f"storage:\n  local_roots: [{folder}]\n", encoding="utf-8")
    with FakeUpstream(default=Reply(delay=0.4)) as fake:
        env = {**_env(fake.url), "CARDPIPE_QUEUE__PREFETCH": str(PREFETCH)}
        enqueued, _ = cardpipe(config, "enqueue", str(folder), env=env)
        assert enqueued.returncode == 0, enqueued.stderr
        victim = subprocess.Popen(_cardpipe(config, "worker", "--concurrency", str(CONCURRENCY)), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _wait_for(lambda: _done_count(tmp_path) >= 4, 90), "the worker got going"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        assert _invisible_rows(tmp_path) >= 1, "the rows of the messages in flight survived"
        resumed, _ = cardpipe(config, "worker", "--until-empty", "--concurrency", str(CONCURRENCY), env=env)
        assert resumed.returncode == 0, resumed.stderr
        results, dead = _outcome_ids(tmp_path)
        assert (len(results), dead) == (count, []), "every task ended with one outcome"
        calls = [fake.calls_for(image) for image in images]
    assert set(calls) <= {1, 2}, calls
    assert calls.count(2) <= PREFETCH, f"only the messages in flight at the kill are paid twice: {calls}"
    assert _invisible_rows(tmp_path) == 0, "the finished worker swept every settled row"
