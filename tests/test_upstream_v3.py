"""The API 3.0 upstream: answers mapped to dispositions, and ``cardpipe run`` end to end against ``cardpipe serve``
speaking API 3.0."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_run import _config as pipeline_config
from tests.test_server_harness import SECRET_ID, SECRET_KEY, generated_cards, serving
from worker.api.legacy.codes import Disposition
from worker.api.server.settings import ServeSettings
from worker.api.v3 import codes
from worker.api.v3.client import V3Client, interpret
from worker.api.v3.errors import V3Error
from worker.upstreams import UpstreamSettings, open_upstream

ROOT = Path(__file__).resolve().parent.parent


def _error(code: str, status: int = 200) -> V3Error:
    body = json.dumps({"Response": {"Error": {"Code": code, "Message": "m"}, "RequestId": "r"}}).encode()
    with pytest.raises(V3Error) as raised:
        interpret(status, body)
    return raised.value


@pytest.mark.parametrize(("code", "disposition"), [
    ("AuthFailure.SignatureFailure", Disposition.HALT),
    ("AuthFailure.SecretIdNotFound", Disposition.HALT),
    ("AuthFailure.SignatureExpire", Disposition.HALT),
    ("RequestLimitExceeded", Disposition.RETRY),
    ("RequestLimitExceeded.UinLimitExceeded", Disposition.RETRY),
    ("InternalError", Disposition.RETRY),
    ("FailedOperation.OcrFailed", Disposition.DEAD_LETTER),
    ("FailedOperation.ImageDecodeFailed", Disposition.DEAD_LETTER),
    ("FailedOperation.DownLoadError", Disposition.DEAD_LETTER),
])
def test_3_0_codes_map_to_dispositions(code: str, disposition: Disposition) -> None:
    error = _error(code)
    assert (error.code, error.disposition, error.request_id) == (code, disposition, "r")


def test_answers_that_are_not_the_api_are_transient() -> None:
    assert _error("x", 502).disposition is Disposition.RETRY
    for status, body in ((502, b"<html>bad gateway</html>"), (200, b"not json"), (429, b"slow down")):
        with pytest.raises(V3Error) as raised:
            interpret(status, body)
        assert raised.value.disposition is Disposition.RETRY


def test_no_answer_in_time_or_no_connection_is_transient() -> None:
    """A server that takes the call and says nothing, and a port nobody listens on: InternalError (retried)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with V3Client(f"http://127.0.0.1:{silent.getsockname()[1]}", secret_id="AKIDv3", secret_key="k",
                      timeout_s=0.5, connect_timeout_s=0.5) as client, pytest.raises(V3Error) as timed_out:
            client.recognize(b"\xff\xd8image")
        port = silent.getsockname()[1]
    assert timed_out.value.code == codes.INTERNAL_ERROR and "HttpTimeout" in timed_out.value.message
    with V3Client(f"http://127.0.0.1:{port}", secret_id="AKIDv3", secret_key="k",
                  connect_timeout_s=0.5) as client, pytest.raises(V3Error) as refused:
        client.recognize(b"\xff\xd8image")
    assert refused.value.code == codes.INTERNAL_ERROR and refused.value.transient


def test_a_success_keeps_the_3_0_fields() -> None:
    body = {"Response": {"CardNo": "6225760000000008", "BankInfo": "招商银行(03080000)", "ValidDate": "08/2028",
                         "CardType": "借记卡", "CardName": "一卡通", "CardCategory": "", "WarningCode": [-9112],
                         "QualityValue": 80, "RequestId": "r"}}
    answer = interpret(200, json.dumps(body).encode())
    assert answer.to_wire() == body["Response"]


def test_the_v3_upstream_needs_a_key_pair() -> None:
    from worker.api.errors import ConfigError

    with pytest.raises(ConfigError, match="secret_id"):
        open_upstream(UpstreamSettings(url="http://127.0.0.1:1", protocol="v3"))
    upstream = open_upstream(UpstreamSettings(url="http://127.0.0.1:1", protocol="v3", secret_id="a",
                                              secret_key="b", region="ap-guangzhou"))
    assert upstream.name == "v3"
    with pytest.raises(V3Error) as raised:
        upstream.recognize(b"\xff\xd8\xff")
    assert raised.value.code == codes.INTERNAL_ERROR and raised.value.transient
    upstream.close()


def test_the_same_body_is_never_signed_twice_in_one_second() -> None:
    moments = iter([100.2, 100.4, 100.9, 101.0])
    slept: list[float] = []
    client = V3Client("http://127.0.0.1:1", secret_id="a", secret_key="b", clock=lambda: next(moments),
                      sleep=slept.append)
    assert client._fresh.timestamp_for(b"x") == 100
    assert client._fresh.timestamp_for(b"y") == 100
    assert client._fresh.timestamp_for(b"x") == 101
    assert slept and 0 < slept[0] <= 0.6 + 1e-9
    client.close()


def _run(tmp_path: Path, url: str, secret_key: str) -> subprocess.CompletedProcess[str]:
    config = pipeline_config(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPIPE_")}
    env.update({"CARDPIPE_UPSTREAM__URL": url, "CARDPIPE_UPSTREAM__PROTOCOL": "v3",
                "CARDPIPE_UPSTREAM__REGION": "ap-guangzhou", "CARDPIPE_UPSTREAM__SECRET_ID": SECRET_ID,
                "CARDPIPE_UPSTREAM__SECRET_KEY": secret_key,
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)})
    command = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", "run",
               str(tmp_path / "cards"), "--json", "--concurrency", "2"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _outcomes(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    folder = tmp_path / "conf" / "var" / "outcomes" / kind
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] \
        if folder.exists() else []


def test_cardpipe_run_with_the_v3_upstream_against_cardpipe_serve(tmp_path: Path) -> None:
    cards = generated_cards(2)
    folder = tmp_path / "cards"
    folder.mkdir()
    for index, (data, _label) in enumerate(cards):
        (folder / f"card_{index}.jpg").write_bytes(data)
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    with serving(ServeSettings()) as server:
        done = _run(tmp_path, server.base_url, SECRET_KEY)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["ok"], summary["dead_by_code"]) == (2, {codes.IMAGE_DECODE_FAILED: 1})
    results = {Path(r["task"]["location"]).name: r["response"] for r in _outcomes(tmp_path, "results")}
    for index, (_data, label) in enumerate(cards):
        answer = results[f"card_{index}.jpg"]
        assert answer["CardNo"] == label["number"] and answer["BankInfo"] == label["bank"]
        assert {"CardType", "CardName", "ValidDate", "CardCategory", "WarningCode", "QualityValue",
                "RequestId"} <= set(answer)


def test_cardpipe_run_halts_on_an_auth_failure_without_dead_letters(tmp_path: Path) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "a.jpg").write_bytes(generated_cards(2)[0][0])
    with serving(ServeSettings()) as server:
        done = _run(tmp_path, server.base_url, "not-the-key")
    assert done.returncode == 3, done.stderr
    assert "AuthFailure.SignatureFailure" in done.stderr + done.stdout
    assert _outcomes(tmp_path, "dead") == []
