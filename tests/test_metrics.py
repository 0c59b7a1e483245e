"""The worker's metrics endpoint, scraped over HTTP while real workers consume real tasks from a fake upstream.

One process serves its own samples; with several processes (started inside ``multiprocess_metrics()``) one
endpoint serves the sum of all of them, and the children do not try to bind the port themselves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.upstream import FakeUpstream, Reply
from tests.test_run import _cardpipe, _config, _env, _folder, _outcome_ids
from worker.config import load_config
from worker.metrics import metric_names, multiprocess_metrics, worker_endpoint

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode("utf-8")
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def _scrape_until(port: int, done: Callable[[Samples], bool], timeout_s: float = 120) -> Samples:
    deadline = time.monotonic() + timeout_s
    last: Samples = {}
    while time.monotonic() < deadline:
        try:
            last = _scrape(port)
        except OSError:
            time.sleep(0.1)
            continue
        if done(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"the endpoint never showed the expected counts; last scrape: {last}")


def _script(fake: FakeUpstream, images: list[bytes]) -> None:
    fake.script(images[0], [Reply(code=15), Reply()])   # transient once: one retry, then read
    fake.script(images[1], [Reply(code=-9010)])          # permanent: one dead letter


def _check_counts(samples: Samples, count: int, calls: int, started: float) -> None:
    assert _value(samples, "cardpipe_tasks_total", status="ok", code="0") == count - 1
    assert _value(samples, "cardpipe_tasks_total", status="dead", code="-9010") == 1
    assert _value(samples, "cardpipe_upstream_calls_total", code="0") == count - 1
    assert _value(samples, "cardpipe_upstream_calls_total", code="15") == 1
    assert _value(samples, "cardpipe_retries_total", stage="recognize", code="15") == 1
    assert _value(samples, "cardpipe_upstream_latency_seconds_count") == calls
    assert _value(samples, "cardpipe_limiter_wait_seconds_count") == calls
    assert _value(samples, "cardpipe_in_flight_tasks") == 0
    assert _value(samples, "cardpipe_circuit_open") == 0
    assert _value(samples, "cardpipe_upstream_last_success_timestamp_seconds") >= started - 1
    assert _value(samples, "cardpipe_ratelimit_rate", backend="none") == 10


def _enqueue(tmp_path: Path, fake: FakeUpstream, count: int) -> tuple[Path, dict[str, str]]:
    """``count`` tasks on the embedded queue (one transient then read, one permanent failure); config and env."""
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path)
    _script(fake, images)
    env = {**_env(fake.url), "CARDPIPE_STORAGE__LOCAL_ROOTS": f'["{folder}"]'}
    subprocess.run(_cardpipe(config, "enqueue", str(folder)), env=env, check=True, capture_output=True, timeout=60)
    return config, env


@pytest.mark.parametrize("processes", [1, 2])
def test_a_worker_serves_the_metrics_of_all_its_processes_while_it_runs(tmp_path: Path, processes: int) -> None:
    count = 12
    port = _free_port()
    started = time.time()
    with FakeUpstream(default=Reply(delay=0.05)) as fake:
        config, env = _enqueue(tmp_path, fake, count)
        worker = subprocess.Popen(_cardpipe(config, "worker", "--metrics-port", str(port), "--concurrency", "2",
                                            "--processes", str(processes)),
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            first = _scrape_until(port, lambda s: ("cardpipe_queue_messages", frozenset({("queue", "cardpipe-tasks")}))
                                  in s)
            assert 0 <= _value(first, "cardpipe_queue_messages") <= count
            samples = _scrape_until(port, lambda s: _value(s, "cardpipe_tasks_total") == count)
            _check_counts(samples, count, fake.total_calls, started)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 130, stderr
    assert sorted(map(len, _outcome_ids(tmp_path))) == [1, count - 1]


def _wait_for_line(stream: IO[str], needle: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        if needle in line:
            return
        if not line:
            break
    raise AssertionError(f"never saw {needle!r}")


def test_two_worker_processes_share_one_endpoint(tmp_path: Path) -> None:
    count = 16
    port = _free_port()
    started = time.time()
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path)
    with FakeUpstream(default=Reply(delay=0.3)) as fake:
        _script(fake, images)
        base_env = {**_env(fake.url), "CARDPIPE_STORAGE__LOCAL_ROOTS": f'["{folder}"]'}
        settings = load_config(config)
        with multiprocess_metrics() as shared, worker_endpoint(settings, port):
            env = {**base_env, **{k: v for k, v in os.environ.items() if k not in base_env}}
            # Each child is told the same port: it must leave it to the parent rather than fail to bind.
            command = [*_cardpipe(config, "--log-format", "json", "worker", "--concurrency", "2",
                                  "--metrics-port", str(port))]
            command[command.index("WARNING")] = "INFO"
            workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True) for _ in range(2)]
            for worker in workers:  # both consume before the tasks arrive, so that both get some
                assert worker.stderr is not None
                _wait_for_line(worker.stderr, "consumer.started")
            subprocess.run(_cardpipe(config, "enqueue", str(folder)), env=base_env, check=True,
                           capture_output=True, timeout=60)
            samples = _scrape_until(port, lambda s: _value(s, "cardpipe_tasks_total") == count)
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                _, stderr = worker.communicate(timeout=60)
                assert worker.returncode == 130, stderr
                shared.process_exited(worker.pid)
            _check_counts(samples, count, fake.total_calls, started)
            by_process = {f.name.rsplit("_", 1)[-1] for f in shared.directory.glob("counter_*.db")}
            assert by_process == {f"{w.pid}.db" for w in workers}, "both processes did part of the work"
            after = _scrape(port)
            assert _value(after, "cardpipe_tasks_total") == count, "counts outlive the processes"
            assert not list(shared.directory.glob("gauge_live*")), "live gauges of exited processes are dropped"
        directory = shared.directory
    assert not directory.exists()
    assert sorted(map(len, _outcome_ids(tmp_path))) == [1, count - 1]


def test_metric_names_follow_prometheus_conventions() -> None:
    names = metric_names()
    assert {"cardpipe_tasks_total", "cardpipe_upstream_calls_total", "cardpipe_upstream_latency_seconds_bucket",
            "cardpipe_limiter_wait_seconds_bucket", "cardpipe_retries_total", "cardpipe_in_flight_tasks",
            "cardpipe_circuit_open", "cardpipe_upstream_last_success_timestamp_seconds",
            "cardpipe_queue_messages", "cardpipe_ratelimit_rate"} <= names
    for name in names:
        assert name.startswith("cardpipe_") and name == name.lower(), name
        assert "_total" not in name or name.endswith("_total"), name


def test_a_configured_metrics_port_does_not_make_run_processes_fight_over_it(tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path, 6)
    config = _config(tmp_path)
    with FakeUpstream() as fake:
        env = {**_env(fake.url), "CARDPIPE_WORKER__METRICS_PORT": str(_free_port())}
        done = subprocess.run(_cardpipe(config, "run", str(folder), "--processes", "2", "--no-progress"), env=env,
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert sorted(map(len, _outcome_ids(tmp_path))) == [0, 6]

