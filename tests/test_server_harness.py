"""Shared pieces of the server tests: a real uvicorn on a loopback port, signed requests, test images.

Not a test module by itself (it defines no tests); the ``test_server*`` modules import from it. The recognizer
is loaded once per test session and shared by every server the tests start.
"""

from __future__ import annotations

import functools
import io
import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn
from PIL import Image
from starlette.applications import Starlette

from worker.api.legacy.schema import BankCardResponse
from worker.api.legacy.signing import Credential, sign
from worker.api.server import OCR_PATH, create_app
from worker.api.server.settings import ServeSettings

APPID = "1252821871"
SECRET_ID = "AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK"
SECRET_KEY = "nwOKDouy5JctNOlnere4gkVoOUz5EYAb"
OTHER_APPID = "200001"
OTHER_SECRET_ID = "AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv"
OTHER_SECRET_KEY = "bLcPnl88WU30VY57ipRhSePfPdOfSruK"
BUCKET = "tencentyun"

CREDENTIALS = [Credential(APPID, SECRET_ID, SECRET_KEY), Credential(OTHER_APPID, OTHER_SECRET_ID, OTHER_SECRET_KEY)]


@functools.cache
def shared_recognizer() -> Any:
    """The process-wide recognizer, loaded on first use only."""
    from worker.recognizer import get_recognizer

    return get_recognizer()


def authorization(appid: str = APPID, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY, *,
                  bucket: str = BUCKET, ttl: int = 3600, now: int | None = None) -> str:
    return sign(appid, secret_id, secret_key, bucket=bucket, ttl=ttl, now=now)


def png_bytes(size: tuple[int, int] = (320, 200), color: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (200, 120), color) for color in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


@functools.cache
def generated_cards(count: int, *, level: str = "clean", seed: int = 11) -> tuple[tuple[bytes, dict[str, Any]], ...]:
    """``count`` synthetic card photos with their labels, from the project's card generator (fixed seed)."""
    from scripts.make_cards import generate

    with tempfile.TemporaryDirectory(prefix="cardpipe-server-cards-") as folder:
        labels = generate(folder, count, level, seed)
        return tuple(((Path(folder) / label["file"]).read_bytes(), label) for label in labels)


TEXT_BOUNDARY = "cardpipe-test-boundary"


def text_only_multipart(fields: dict[str, str]) -> bytes:
    """A multipart/form-data body with text parts only (httpx would send such a form urlencoded)."""
    parts = [f'--{TEXT_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return ("".join(parts) + f"--{TEXT_BOUNDARY}--\r\n").encode()


@dataclass
class Server:
    """A server running in this process; ``post_*`` helpers sign requests as a legacy client does."""

    base_url: str
    client: httpx.Client = field(repr=False)

    def post_json(self, document: Any, *, auth: str | None = None, content_type: str = "application/json",
                  **kwargs: Any) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if auth is not None:
            headers["Authorization"] = auth
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        return self.client.post(OCR_PATH, content=body, headers=headers, **kwargs)

    def post_images(self, images: list[bytes], *, auth: str | None = None, appid: str | None = APPID,
                    bucket: str | None = BUCKET, url: str | None = None) -> httpx.Response:
        data = {key: value for key, value in (("appid", appid), ("bucket", bucket), ("url", url))
                if value is not None}
        files = [("image", (f"card{i}.jpg", image, "image/jpeg")) for i, image in enumerate(images)]
        headers = {"Authorization": auth} if auth is not None else {}
        if files:
            return self.client.post(OCR_PATH, data=data, files=files, headers=headers)
        return self.client.post(OCR_PATH, content=text_only_multipart(data), headers={
            **headers, "Content-Type": f"multipart/form-data; boundary={TEXT_BOUNDARY}"})

    def healthy(self) -> bool:
        response = self.client.get("/healthz")
        return response.status_code == 200 and response.json() == {"status": "ok"}


def raw_post(server: Server, headers: str, body_start: str = "") -> tuple[bytes, dict[str, Any]]:
    """Send a hand-written POST (headers after the Host and Authorization lines, then the start of a body, sent
    as is even when it is shorter than declared) and read the reply: (its head, its JSON body).

    For what no HTTP client will send: a declared body that never comes, or one that stalls half way.
    """
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall((f"POST {OCR_PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization()}\r\n"
                            f"{headers}\r\n{body_start}").encode())
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            assert chunk, f"connection closed after {received!r}"
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head, json.loads(body)


def answer_of(response: httpx.Response) -> BankCardResponse:
    """The single JSON object a request answered, checked against the seed's shape."""
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert isinstance(document, dict), document
    assert set(document) == {"code", "message", "data"}
    return BankCardResponse.model_validate(document)


@contextmanager
def running(app: Starlette, *, startup_timeout_s: float = 120.0) -> Iterator[Server]:
    """Run ``app`` under uvicorn in a thread on a free loopback port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        try:
            yield Server(base_url=base_url, client=client)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()


@contextmanager
def serving(settings: ServeSettings | None = None, *, recognizer: Any = None,
            credentials: list[Credential] | None = None) -> Iterator[Server]:
    """A server with ``settings`` (defaults otherwise) and the shared recognizer unless one is given."""
    app = create_app(settings or ServeSettings(), credentials or CREDENTIALS,
                     recognizer=recognizer if recognizer is not None else shared_recognizer())
    with running(app) as server:
        yield server


class StaticFiles(BaseHTTPRequestHandler):
    """A loopback web server for url mode: fixed bodies, a redirect, a hang and a 404."""

    routes: ClassVar[dict[str, bytes]] = {}
    release: ClassVar[threading.Event] = threading.Event()

    def do_GET(self) -> None:
        if self.path.startswith("/redirect-to/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path.removeprefix("/redirect-to/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/hang":
            self.release.wait(timeout=30)
            return
        body = self.routes.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for the tests."""


@contextmanager
def static_site(routes: dict[str, bytes]) -> Iterator[str]:
    """Serve ``routes`` (path -> body) on a free loopback port; yields the base url."""
    handler = type("Routes", (StaticFiles,), {"routes": routes, "release": threading.Event()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        handler.release.set()
        httpd.shutdown()
        httpd.server_close()
