"""Interop: the project's own legacy client, and ``cardpipe run`` with the ``legacy`` upstream, against
``cardpipe serve`` over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_server_harness import (
    APPID,
    BUCKET,
    OCR_PATH,
    SECRET_ID,
    SECRET_KEY,
    Server,
    generated_cards,
    serving,
    shared_recognizer,
    static_site,
)
from worker.api.errors import ApiError
from worker.api.legacy import codes
from worker.api.legacy.client import LegacyClient
from worker.api.legacy.signing import Credential
from worker.api.server.settings import ServeSettings

ROOT = Path(__file__).resolve().parent.parent
CARD_COUNT = 3


@pytest.fixture(scope="module")
def cards() -> tuple[tuple[bytes, dict[str, Any]], ...]:
    return generated_cards(CARD_COUNT)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving(ServeSettings(allow_private_urls=True, queue_timeout_s=60.0)) as running_server:
        yield running_server


def _client(server: Server, secret_key: str = SECRET_KEY) -> LegacyClient:
    return LegacyClient(server.base_url + OCR_PATH, appid=APPID, bucket=BUCKET,
                        credential=Credential(APPID, SECRET_ID, secret_key), timeout_s=120)


def test_legacy_client_reads_a_card_in_both_modes(server: Server, cards) -> None:  # type: ignore[no-untyped-def]
    data, _label = cards[0]
    expected = shared_recognizer().recognize(data)
    with _client(server) as client, static_site({"/card.jpg": data}) as site:
        if expected.ok:
            assert client.recognize(data).data.items == expected.data.items
            assert client.recognize(url=f"{site}/card.jpg").value("卡号") == expected.value("卡号")
        else:
            with pytest.raises(ApiError) as caught:
                client.recognize(data)
            assert caught.value.code == expected.code


def test_legacy_client_sees_signature_failures_as_halting(server: Server) -> None:
    with _client(server, secret_key="not-the-key") as client, pytest.raises(ApiError) as caught:
        client.recognize(b"\xff\xd8\xff not really a jpeg")
    assert caught.value.code == codes.SIGNATURE_FAILED
    assert caught.value.disposition is codes.Disposition.HALT


def test_cardpipe_run_processes_a_folder_through_the_server(server: Server, cards, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "cards"
    folder.mkdir()
    expected_ok = 0
    for index, (data, _label) in enumerate(cards):
        (folder / f"card_{index}.jpg").write_bytes(data)
        expected_ok += shared_recognizer().recognize(data).ok
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff this is not a jpeg")
    config = tmp_path / "pipeline.yaml"
    config.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: var/outcomes\n"
                      "ratelimit:\n  backend: none\nworker:\n  idle_exit_s: 0.3\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDPIPE_")}
    env.update({"PYTHONPATH": str(ROOT), "CARDPIPE_UPSTREAM__URL": server.base_url + OCR_PATH,
                "CARDPIPE_UPSTREAM__APPID": APPID, "CARDPIPE_UPSTREAM__BUCKET": BUCKET,
                "CARDPIPE_UPSTREAM__SECRET_ID": SECRET_ID, "CARDPIPE_UPSTREAM__SECRET_KEY": SECRET_KEY,
                "CARDPIPE_UPSTREAM__TIMEOUT_S": "120"})
    finished = subprocess.run([sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING",
                               "run", str(folder), "--json", "--concurrency", "2"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])  # the summary is the last line
    assert summary["ok"] == expected_ok
    assert summary["dead_by_code"].get(str(codes.IMAGE_DECODE_FAILED), 0) >= 1
    assert summary["missing"] == 0
    assert SECRET_KEY not in finished.stderr
