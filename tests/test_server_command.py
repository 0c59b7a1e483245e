"""``cardpipe serve`` as a real process: it refuses to start without credentials (saying how to give them),
and with them it loads the recognizer, serves on the asked port and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.test_server_harness import (
    APPID,
    BUCKET,
    SECRET_ID,
    SECRET_KEY,
    TEXT_BOUNDARY,
    authorization,
    text_only_multipart,
)
from worker.api.legacy import codes

ROOT = Path(__file__).resolve().parent.parent


def _environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key != "CARDPIPE_CREDENTIALS" and not key.startswith("CARDPIPE_SERVE__")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", "serve", *args], cwd=tmp_path, env=_environment(**env),
                          capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refuses_to_start_without_credentials_and_says_how(tmp_path: Path) -> None:
    finished = _serve(tmp_path, "--port", str(_free_port()))
    assert finished.returncode == 2
    assert "no credentials" in finished.stderr
    assert "CARDPIPE_CREDENTIALS=" in finished.stderr and "--credentials-file" in finished.stderr


def test_refuses_malformed_credentials_without_echoing_them(tmp_path: Path) -> None:
    finished = _serve(tmp_path, CARDPIPE_CREDENTIALS=f"{APPID}:{SECRET_ID}:{SECRET_KEY},oops-{SECRET_KEY}")
    assert finished.returncode == 2
    assert "CARDPIPE_CREDENTIALS entry 2" in finished.stderr
    assert SECRET_KEY not in finished.stderr + finished.stdout


def test_serves_with_a_credentials_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(f"{APPID}:{SECRET_ID}:{SECRET_KEY}\n", encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "serve", "--port", str(port), "--credentials-file", str(credentials)],
        cwd=tmp_path, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "cardpipe serve did not become healthy"
            time.sleep(0.2)
        body = text_only_multipart({"appid": APPID, "bucket": BUCKET})
        response = httpx.post(f"{base_url}/ocr/bankcard", content=body, headers={
            "Authorization": authorization(), "Content-Type": f"multipart/form-data; boundary={TEXT_BOUNDARY}"})
        assert response.json()["code"] == codes.NO_IMAGE_OR_URL
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says what stopped it.
    assert process.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    assert SECRET_KEY not in err
