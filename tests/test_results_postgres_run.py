"""``cardpipe run`` with the Postgres outcome sink, end to end: killed with SIGKILL and run again, the database
going away mid-run (the worker stops, nothing is acknowledged without its outcome, the rerun completes), and
the reading commands (runs, show, export, dlq) on what it wrote."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.test_run import _cardpipe, _env, _folder


def _config(tmp_path: Path, sink: str, queue_url: str = "sqla+sqlite:///var/queue.sqlite", tasks: str = "") -> Path:
    (tmp_path / "conf").mkdir(exist_ok=True)
    config = tmp_path / "conf" / "pipeline.yaml"
    queue = f"queue:\n  url: {queue_url}\n" + (
        f"  tasks: {tasks}\n  results: {tasks}-r\n  dead_letters: {tasks}-d\n" if tasks else "")
    config.write_text(
        queue + f"outcomes:\n  sink: {sink}\n  postgres:\n    timeout_s: 2\n"
        "ratelimit:\n  backend: none\n"
        "retry:\n  initial_backoff_s: 0.01\n  max_backoff_s: 0.05\n"
        "worker:\n  idle_exit_s: 0.3\n", encoding="utf-8")
    return config


def _rows(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT task_id, kind FROM cardpipe_outcomes").fetchall()


def _wait_for_rows(url: str, at_least: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if len(_rows(url)) >= at_least:
                return
        except psycopg.Error:
            pass  # the schema is not there yet
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} outcomes after {timeout_s} s")


@pytest.mark.timeout(240)
def test_killed_run_on_postgres_resumes_and_the_readers_work(tmp_path: Path, postgres_url: str) -> None:
    count = 24
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path, postgres_url)
    with FakeUpstream(default=Reply(delay=0.1)) as fake:
        fake.script(images[5], [Reply(code=-1102)])
        victim = subprocess.Popen(_cardpipe(config, "run", str(folder), "--concurrency", "2"), env=_env(fake.url),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_rows(postgres_url, 6)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        before = len(_rows(postgres_url))
        assert 6 <= before < count, "the kill landed mid-run"
        calls_before = fake.total_calls
        resumed = subprocess.run(_cardpipe(config, "run", str(folder), "--json", "--concurrency", "2"),
                                 env=_env(fake.url), capture_output=True, text=True, timeout=180)
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["missing"] == 0 and summary["skipped"] == before
        assert summary["outcomes"].startswith("postgresql://postgres@127.0.0.1")
        assert fake.total_calls - calls_before == count - before, "images with an outcome are never sent again"
    rows = _rows(postgres_url)
    assert len(rows) == count and len({task_id for task_id, _ in rows}) == count
    assert [kind for _, kind in rows].count("dead_letter") == 1

    env = _env("http://127.0.0.1:9")
    runs = subprocess.run(_cardpipe(config, "runs", "--json"), env=env, capture_output=True, text=True, timeout=60)
    records = [json.loads(line) for line in runs.stdout.splitlines()]
    assert [r["status"] for r in records] == ["running", "complete"], "the killed run's record stays running"
    assert records[1]["run_id"] == summary["run_id"] and records[1]["counts"]["skipped"] == before

    exported = subprocess.run(_cardpipe(config, "export", "--run", "latest", "--status", "ok"), env=env,
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert table and {row["run_id"] for row in table} == {summary["run_id"]}
    assert len(table) == summary["ok"]

    shown = subprocess.run(_cardpipe(config, "show", str(folder / "card_005.jpg")), env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    dead = json.loads(shown.stdout)
    assert dead["kind"] == "dead_letter" and dead["code"] == "-1102"
    listed = subprocess.run(_cardpipe(config, "dlq", "list", "--json"), env=env, capture_output=True, text=True,
                            timeout=60)
    assert [json.loads(line)["task_id"] for line in listed.stdout.splitlines()] == [dead["task_id"]]


def _queued(rabbitmq_url: str, name: str) -> int:
    import kombu

    with kombu.Connection(rabbitmq_url) as conn:
        channel = conn.channel()
        try:
            return channel.queue_declare(queue=name, passive=True).message_count
        finally:
            channel.close()


def _delete_queues(rabbitmq_url: str, names: list[str]) -> None:
    import kombu

    with kombu.Connection(rabbitmq_url) as conn:
        channel = conn.channel()
        for name in names:
            channel.queue_delete(queue=name)
        channel.close()


@pytest.mark.timeout(240)
def test_postgres_going_away_stops_the_run_and_loses_nothing(tmp_path: Path, postgres_url: str,
                                                              postgres_server: str, rabbitmq_url: str,
                                                              unique_name: str) -> None:
    count = 30
    folder, _ = _folder(tmp_path, count)
    config = _config(tmp_path, postgres_url, queue_url=rabbitmq_url, tasks=unique_name)
    database = postgres_url.rsplit("/", 1)[1]
    try:
        with FakeUpstream(default=Reply(delay=0.05)) as fake:
            running = subprocess.Popen(_cardpipe(config, "run", str(folder), "--json", "--concurrency", "2"),
                                       env=_env(fake.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            _wait_for_rows(postgres_url, 5)
            with psycopg.connect(postgres_server, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                              (database,))
            _, err = running.communicate(timeout=120)
            assert running.returncode == 3, (running.returncode, err[-2000:])
            assert "the outcome store is unusable" in err, err[-2000:]
            with psycopg.connect(postgres_server, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            written = {task_id for task_id, _ in _rows(postgres_url)}
            assert len(written) < count, "the database went away mid-run"
            # Every task without an outcome is still on the queue: none was acknowledged without its outcome.
            assert _queued(rabbitmq_url, unique_name) >= count - len(written)

            rerun = subprocess.run(_cardpipe(config, "run", str(folder), "--json", "--concurrency", "2"),
                                   env=_env(fake.url), capture_output=True, text=True, timeout=180)
            assert rerun.returncode == 0, rerun.stderr
            assert json.loads(rerun.stdout)["missing"] == 0
        rows = _rows(postgres_url)
        assert len(rows) == count and len({task_id for task_id, _ in rows}) == count
    finally:
        _delete_queues(rabbitmq_url, [unique_name, f"{unique_name}-r", f"{unique_name}-d"])
