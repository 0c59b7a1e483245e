"""A broker that is down or refuses our login: ``run``, ``worker`` and ``enqueue`` exit 4 within a bound, with
one line naming the broker (password masked) and the cause, no traceback; a signal acts within 2 s meanwhile.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.reliability import cardpipe, env_for, rabbit_config
from tests.test_run import _cardpipe, _folder
from worker.broker import masked_url


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _one_line(stderr: str, command: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"cardpipe {command}:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.timeout(120)
def test_worker_exits_4_within_the_default_30_s(tmp_path: Path, unique_name: str) -> None:
    config = rabbit_config(tmp_path, f"amqp://guest:s3cret@127.0.0.1:{_dead_port()}//", unique_name)
    with FakeUpstream() as fake:
        done, elapsed = cardpipe(config, "worker", env=env_for(fake.url), timeout=100)
    assert done.returncode == 4
    line = _one_line(done.stderr, "worker")
    assert "guest:****@127.0.0.1" in line and "s3cret" not in done.stderr and "unreachable" in line
    assert 20 < elapsed < 60


@pytest.mark.timeout(120)
def test_run_and_enqueue_exit_4_within_the_configured_bound(tmp_path: Path, unique_name: str) -> None:
    folder, _ = _folder(tmp_path, 3)
    config = rabbit_config(tmp_path, f"amqp://guest:guest@127.0.0.1:{_dead_port()}//", unique_name)
    with FakeUpstream() as fake:
        env = env_for(fake.url, CARDPIPE_QUEUE__UNREACHABLE_EXIT_S="3")
        for args in (("enqueue", str(folder)), ("run", str(folder), "--no-progress")):
            done, elapsed = cardpipe(config, *args, env=env, timeout=60)
            assert done.returncode == 4, (args, done.stderr)
            assert "unreachable" in _one_line(done.stderr, args[0])
            assert elapsed < 20


@pytest.mark.timeout(120)
def test_a_run_with_nothing_left_to_do_still_says_the_broker_is_down(tmp_path: Path, unique_name: str,
                                                                      rabbitmq_url: str) -> None:
    folder, _ = _folder(tmp_path, 2)
    config = rabbit_config(tmp_path, rabbitmq_url, unique_name)
    with FakeUpstream() as fake:
        first, _ = cardpipe(config, "run", str(folder), "--no-progress", env=env_for(fake.url))
        assert first.returncode == 0, first.stderr
        env = env_for(fake.url, CARDPIPE_QUEUE__URL=f"amqp://guest:guest@127.0.0.1:{_dead_port()}//",
                      CARDPIPE_QUEUE__UNREACHABLE_EXIT_S="3")
        again, elapsed = cardpipe(config, "run", str(folder), "--no-progress", env=env, timeout=60)
    assert again.returncode == 4 and elapsed < 20, again.stderr


@pytest.mark.timeout(120)
def test_a_refused_login_exits_4_at_once(tmp_path: Path, unique_name: str, rabbitmq_url: str) -> None:
    folder, _ = _folder(tmp_path, 2)
    config = rabbit_config(tmp_path, "amqp://guest:wrong-password@127.0.0.1:5672//", unique_name)
    with FakeUpstream() as fake:
        for args in (("worker", "--until-empty"), ("enqueue", str(folder)), ("run", str(folder), "--no-progress")):
            done, elapsed = cardpipe(config, *args, env=env_for(fake.url), timeout=60)
            assert done.returncode == 4, (args, done.stderr)
            line = _one_line(done.stderr, args[0])
            assert "refused our login" in line and "wrong-password" not in done.stderr
            assert elapsed < 20


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_acts_within_2_s_while_reconnecting(tmp_path: Path, unique_name: str, signum: int) -> None:
    config = rabbit_config(tmp_path, f"amqp://guest:guest@127.0.0.1:{_dead_port()}//", unique_name)
    with FakeUpstream() as fake:
        worker = subprocess.Popen(_cardpipe(config, "worker"), env=env_for(fake.url), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(4)  # the interpreter is up and retrying by now
        assert worker.poll() is None
        sent = time.monotonic()
        worker.send_signal(signum)
        code = worker.wait(timeout=30)
        took = time.monotonic() - sent
    assert code == 130
    assert took < 4, f"took {took:.1f} s to act on the signal"
    assert "Traceback" not in (worker.stderr.read() if worker.stderr else "")


def test_a_password_is_masked_even_where_the_url_does_not_parse() -> None:
    """kombu names a transport given as a class by its repr ("<class '...'>://user:pw@host"), which urlsplit
    does not read as a URL: the password must still not come out."""
    assert masked_url("amqp://guest:s3cret@rabbit:5672//") == "amqp://guest:****@rabbit:5672//"
    assert masked_url("<class 'worker.amqp_transport.Transport'>://guest:s3cret@127.0.0.1:5672//") == \
        "<class 'worker.amqp_transport.Transport'>://guest:****@127.0.0.1:5672//"
    assert masked_url("redis://:s3cret@cache:6379/0") == "redis://:****@cache:6379/0"
    assert masked_url("redis://cache:6379/0") == "redis://cache:6379/0"
