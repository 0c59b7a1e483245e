"""The shared limiter's Redis unreachable: no call (fail closed), the upstream is not blamed (the circuit stays
closed), the worker says so and exits 6 within ``ratelimit.unreachable_exit_s``, every task still queued; and
broker heartbeats keep flowing while tasks wait (on the limiter, or on an open circuit).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.reliability import cardpipe, depth, rabbit_case
from tests.test_run import _outcome_ids


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(120)
def test_an_unreachable_limiter_stops_the_worker_with_its_own_code(
        tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    port = _dead_port()
    with rabbit_case(tmp_path, rabbitmq_url, unique_name, images=6, quorum=False) as case, FakeUpstream() as fake:
        # Heartbeats every second: a drain loop that stops reading the socket while tasks wait loses the broker.
        env = case.env(fake.url, CARDPIPE_QUEUE__HEARTBEAT_S="1", CARDPIPE_RATELIMIT__BACKEND="redis",
                       CARDPIPE_RATELIMIT__REDIS_URL=f"redis://127.0.0.1:{port}/0",
                       CARDPIPE_RATELIMIT__UNREACHABLE_EXIT_S="6")
        enqueued, _ = cardpipe(case.config, "enqueue", str(case.folder), env=env)
        assert enqueued.returncode == 0, enqueued.stderr
        done, elapsed = cardpipe(case.config, "worker", "--until-empty", "--concurrency", "1", env=env)
        assert fake.total_calls == 0, "fail closed: no call without a token"
        assert done.returncode == 6, done.stderr
        assert f"the shared rate limiter's Redis at redis://127.0.0.1:{port}/0 is unreachable" in done.stderr
        assert "circuit" not in done.stderr and "upstream" not in done.stderr.lower()
        assert "broker.lost" not in done.stderr and "heartbeat" not in done.stderr.lower()
        assert "Traceback" not in done.stderr
        assert 5 < elapsed < 60
        assert _outcome_ids(tmp_path) == ([], []), "nothing dead-lettered: not the images' fault"
        assert depth(case.settings) == 6, "every task is still queued"


@pytest.mark.timeout(120)
def test_heartbeats_flow_while_the_circuit_is_open(tmp_path: Path, rabbitmq_url: str, unique_name: str) -> None:
    with rabbit_case(tmp_path, rabbitmq_url, unique_name, images=4, quorum=False) as case, \
            FakeUpstream(default=Reply(http_status=503, code=0)) as fake:
        env = case.env(fake.url, CARDPIPE_QUEUE__HEARTBEAT_S="1", CARDPIPE_RETRY__CIRCUIT_THRESHOLD="1",
                       CARDPIPE_RETRY__CIRCUIT_COOLDOWN_S="20", CARDPIPE_WORKER__OUTAGE_EXIT_S="6")
        enqueued, _ = cardpipe(case.config, "enqueue", str(case.folder), env=env)
        assert enqueued.returncode == 0, enqueued.stderr
        done, elapsed = cardpipe(case.config, "worker", "--until-empty", "--concurrency", "1", env=env)
        assert done.returncode == 5, done.stderr
        assert "broker.lost" not in done.stderr and "heartbeat" not in done.stderr.lower(), done.stderr
        assert elapsed < 60
        assert _outcome_ids(tmp_path) == ([], [])
        assert depth(case.settings) == 4
