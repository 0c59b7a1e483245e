"""``cardpipe serve``'s start-up and help, a 7 MB upload read back as JSON by common clients, and ``cardpipe sign``
producing headers that curl can send to ``cardpipe serve``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from tests.test_server_harness import APPID, SECRET_ID, SECRET_KEY, Server, authorization, generated_cards, serving
from worker.api.legacy import codes
from worker.api.server.settings import ServeSettings

ROOT = Path(__file__).resolve().parent.parent
SEVEN_MB = 7 * 1024 * 1024


def _cardpipe(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CARDPIPE_")}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "worker", *args], env=environment, capture_output=True, text=True,
                          timeout=timeout)


def test_a_busy_port_fails_at_once_with_a_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        finished = _cardpipe("serve", "--port", str(port),
                             env={"CARDPIPE_CREDENTIALS": f"{APPID}:{SECRET_ID}:{SECRET_KEY}"})
    assert finished.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr
    assert "loading_recognizer" not in finished.stdout + finished.stderr, "the port is bound before models load"
    assert time.monotonic() - started < 60


def test_serve_help_names_the_credentials_variable_and_file() -> None:
    shown = _cardpipe("serve", "--help").stdout
    assert "CARDPIPE_CREDENTIALS" in shown and "--credentials-file" in shown and "credentials file" in shown


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving(ServeSettings()) as running:
        yield running


def _multipart_of_seven_mb() -> tuple[bytes, str]:
    boundary = "seven-mb-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="appid"\r\n\r\n{APPID}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + b"\xff" * SEVEN_MB + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_7_mb_upload_is_read_back_as_413_code_20_by_requests_httpx_and_urllib(server: Server) -> None:
    body, content_type = _multipart_of_seven_mb()
    url = f"{server.base_url}/ocr/bankcard"
    for attempt in range(2):  # twice each: a reset is a race, so one lucky pass proves little
        headers = {"Authorization": authorization(), "Content-Type": content_type}
        with_requests = requests.post(url, data=body, headers=headers, timeout=60)
        assert (with_requests.status_code, with_requests.json()["code"]) == (413, codes.IMAGE_TOO_LARGE), attempt
        with_httpx = httpx.post(url, content=body, headers=headers, timeout=60)
        assert (with_httpx.status_code, with_httpx.json()["code"]) == (413, codes.IMAGE_TOO_LARGE)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 413 and json.loads(refused.value.read())["code"] == codes.IMAGE_TOO_LARGE
    assert server.healthy()


def _sign(*args: str) -> subprocess.CompletedProcess[str]:
    return _cardpipe("sign", *args, env={"CARDPIPE_UPSTREAM__SECRET_ID": SECRET_ID,
                                         "CARDPIPE_UPSTREAM__SECRET_KEY": SECRET_KEY})


def _header_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "headers.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _curl(*args: str) -> dict[str, object]:
    done = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@needs_curl
def test_sign_prints_a_header_curl_sends_to_the_legacy_endpoint(server: Server, tmp_path: Path) -> None:
    signed = _sign("--appid", APPID)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.startswith("Authorization: ") and SECRET_KEY not in signed.stdout
    card = tmp_path / "card.jpg"
    card.write_bytes(generated_cards(2)[0][0])
    answer = _curl("-H", f"@{_header_file(tmp_path, signed.stdout)}", "-F", f"appid={APPID}", "-F",
                   f"image=@{card}", f"{server.base_url}/ocr/bankcard")
    assert answer["code"] == 0 and answer["data"]["items"][0]["itemstring"] == generated_cards(2)[0][1]["number"]


@needs_curl
def test_a_once_signature_is_good_for_one_request(server: Server, tmp_path: Path) -> None:
    headers = _header_file(tmp_path, _sign("--appid", APPID, "--once").stdout)
    body = json.dumps({"appid": APPID, "url": ""})
    call = ("-H", f"@{headers}", "-H", "Content-Type: application/json", "--data-binary", body,
            f"{server.base_url}/ocr/bankcard")
    assert _curl(*call)["code"] == codes.URL_EMPTY
    assert _curl(*call)["code"] == codes.REPLAY_ATTACK


@needs_curl
def test_sign_v3_prints_headers_curl_sends_to_api_3_0(server: Server, tmp_path: Path) -> None:
    import base64

    data, label = generated_cards(2)[1]
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"ImageBase64": base64.b64encode(data).decode()}), encoding="utf-8")
    host = server.base_url.removeprefix("http://")
    signed = _sign("--v3", "--host", host, "--body", str(body), "--region", "ap-guangzhou")
    assert signed.returncode == 0, signed.stderr
    answer = _curl("-H", f"@{_header_file(tmp_path, signed.stdout)}", "--data-binary", f"@{body}",
                   f"{server.base_url}/")
    assert answer["Response"]["CardNo"] == label["number"]


def test_sign_refuses_without_its_secrets_or_arguments() -> None:
    missing = _cardpipe("sign", "--appid", APPID)
    assert missing.returncode == 2 and "CARDPIPE_UPSTREAM__SECRET_ID" in missing.stderr
    no_body = _sign("--v3", "--host", "127.0.0.1:1")
    assert no_body.returncode == 2 and "--body" in no_body.stderr
