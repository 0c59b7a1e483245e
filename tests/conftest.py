"""Shared fixtures: real peers on loopback (RabbitMQ, Redis, moto's S3/SQS server), and the recognizer with its engine.

A test that needs a peer asks for its fixture. When the peer is not reachable the test is skipped with the
reason, unless ``CARDPIPE_REQUIRE_SERVICES`` is set (CI sets it), where it fails instead: CI must never
pass by skipping.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from worker.recognizer.engine import OcrEngine
    from worker.recognizer.service import Recognizer

ROOT = Path(__file__).resolve().parent.parent

RABBITMQ_URL = os.environ.get("CARDPIPE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("CARDPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    """The process-wide recognizer with the default settings (its sessions load once per process)."""
    from worker.recognizer import RecognizerSettings, get_recognizer

    return get_recognizer(RecognizerSettings())


@pytest.fixture(scope="session")
def engine(recognizer: Recognizer) -> OcrEngine:
    """The shared recognizer's engine, for tests of single reads."""
    return recognizer.engine


def services_required() -> bool:
    return os.environ.get("CARDPIPE_REQUIRE_SERVICES", "").strip() not in {"", "0", "false", "no"}


def _reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or, under CARDPIPE_REQUIRE_SERVICES, fail) when ``host:port`` does not answer."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{reason} and CARDPIPE_REQUIRE_SERVICES is set")
    pytest.skip(reason)


@pytest.fixture
def rabbitmq_url() -> str:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL


@pytest.fixture
def redis_url() -> str:
    """The loopback Redis. Never flushed: other runs may share it, so tests keep to keys of their own
    (``unique_name``)."""
    need_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port: real HTTP, real boto3 wire protocol."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        if services_required():
            pytest.fail(f"moto[server] is not installed: {exc}")
        pytest.skip(f"moto[server] is not installed: {exc}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server: str) -> str:
    """Fake credentials and the moto endpoint in the environment; returns the endpoint URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses: for buckets, queues and prefixes on shared peers."""
    return f"t{uuid.uuid4().hex[:12]}"


POSTGRES_ADMIN_URL = os.environ.get("CARDPIPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the loopback PostgreSQL (skip, or fail under CARDPIPE_REQUIRE_SERVICES, when absent)."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped after): parallel runs never share tables."""
    import psycopg

    name = f"cardpipe_t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
