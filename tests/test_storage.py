"""Storage: local files under roots, S3 on moto's real server, HTTP from a loopback server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from worker.storage import FetchError, S3Settings, StorageSettings, open_storage, s3_client, scheme_of
from worker.storage.http import HttpStorage
from worker.storage.local import LocalStorage
from worker.storage.s3 import S3Storage, parse_location

LIMIT = 6 * 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0" + b"card" * 100


# --- local ------------------------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    base.mkdir()
    (base / "a.jpg").write_bytes(JPEG)
    (base / "empty.jpg").write_bytes(b"")
    (base / "sub").mkdir()
    (base / "sub" / "卡 1.jpg").write_bytes(JPEG)
    (tmp_path / "secret.txt").write_bytes(b"outside")
    return base


def test_local_fetch_and_head(root: Path) -> None:
    storage = LocalStorage([root], max_bytes=LIMIT)
    fetched = storage.fetch(str(root / "a.jpg"))
    assert fetched.data == JPEG and fetched.content_type == "image/jpeg" and fetched.etag
    info = storage.head(str(root / "a.jpg"))
    assert info.size == len(JPEG) and info.etag == fetched.etag
    assert storage.fetch((root / "sub" / "卡 1.jpg").as_uri()).data == JPEG  # file:// URL, percent-encoded


def test_local_refuses_paths_outside_the_roots(root: Path) -> None:
    storage = LocalStorage([root], max_bytes=LIMIT)
    for location in (str(root / ".." / "secret.txt"), str(root / "sub" / ".." / ".." / "secret.txt"), "/etc/passwd"):
        with pytest.raises(FetchError) as caught:
            storage.fetch(location)
        assert caught.value.code == "bad_location" and not caught.value.transient


def test_local_refuses_a_symlink_escaping_the_roots(root: Path) -> None:
    (root / "link.jpg").symlink_to(root.parent / "secret.txt")
    (root / "inside.jpg").symlink_to(root / "a.jpg")
    storage = LocalStorage([root], max_bytes=LIMIT)
    with pytest.raises(FetchError, match="outside") as caught:
        storage.fetch(str(root / "link.jpg"))
    assert caught.value.code == "bad_location"
    assert storage.fetch(str(root / "inside.jpg")).data == JPEG  # a symlink that stays inside is fine


def test_a_folder_is_resolved_once_and_a_symlinked_folder_still_checked(root: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "b.jpg").write_bytes(JPEG)
    (root / "escape").symlink_to(root.parent)
    (root / "inside").symlink_to(root / "sub")
    storage = LocalStorage([root], max_bytes=LIMIT)
    resolved: list[str] = []
    real = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda path, **kw: resolved.append(path) or real(path, **kw))
    for name in ("a.jpg", "b.jpg", "a.jpg"):
        assert storage.fetch(str(root / name)).data == JPEG
    assert resolved == [str(root)], "one resolution for three files of one folder"
    with pytest.raises(FetchError, match="outside"):
        storage.fetch(str(root / "escape" / "secret.txt"))
    with pytest.raises(FetchError, match="outside"):
        storage.fetch(str(root / "sub" / ".." / ".."))
    assert storage.fetch(str(root / "inside" / "卡 1.jpg")).data == JPEG


def test_local_missing_empty_directory_and_special_files(root: Path) -> None:
    storage = LocalStorage([root], max_bytes=LIMIT)
    fifo = root / "pipe.jpg"
    os.mkfifo(fifo)
    expected = {str(root / "nope.jpg"): "not_found", str(root / "empty.jpg"): "empty",
                str(root / "sub"): "bad_location", str(fifo): "bad_location", "": "bad_location",
                "file://elsewhere/a.jpg": "bad_location"}
    for location, code in expected.items():
        with pytest.raises(FetchError) as caught:
            storage.fetch(location)
        assert caught.value.code == code, location


def test_local_big_file_is_refused_without_reading_it(root: Path) -> None:
    big = root / "big.jpg"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB that occupy no disk
    storage = LocalStorage([root], max_bytes=LIMIT)
    with pytest.raises(FetchError) as caught:
        storage.fetch(str(big))
    assert caught.value.code == "too_large" and "52428800" in caught.value.reason
    with pytest.raises(FetchError):
        storage.head(str(big))


def test_relative_locations_resolve_from_the_working_directory(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    storage = open_storage(StorageSettings())  # default root: "."
    assert storage.fetch("a.jpg").data == JPEG
    assert storage.fetch("./sub/卡 1.jpg").data == JPEG
    with pytest.raises(FetchError):
        storage.fetch("../secret.txt")


def test_scheme_dispatch() -> None:
    assert [scheme_of(x) for x in ("a.jpg", "file:///a.jpg", "s3://b/k", "COS://b/k", "https://h/k")] == \
        ["local", "local", "s3", "s3", "http"]
    with pytest.raises(FetchError) as caught:
        scheme_of("ftp://host/a.jpg")
    assert caught.value.code == "bad_location"
    with pytest.raises(ValueError):
        StorageSettings(max_bytes=0)
    with pytest.raises(ValueError):
        StorageSettings(s3={"adressing_style": "path"})


# --- S3 on moto's server ----------------------------------------------------------------------------------


def test_parse_location_takes_keys_literally() -> None:
    assert parse_location("s3://b/dir/scan 1 卡?.jpg#x") == ("b", "dir/scan 1 卡?.jpg#x")
    assert parse_location("cos://bucket-1250000000/a%20b.jpg") == ("bucket-1250000000", "a%20b.jpg")
    for bad in ("s3://", "s3://bucket", "s3://bucket/", "s3:/bucket/key", "gs://b/k"):
        with pytest.raises(FetchError) as caught:
            parse_location(bad)
        assert caught.value.code == "bad_location"


@pytest.fixture
def bucket(aws_env: str, unique_name: str) -> str:
    boto3.client("s3", endpoint_url=aws_env).create_bucket(Bucket=unique_name)
    return unique_name


def test_s3_fetch_head_missing_empty_and_odd_keys(aws_env: str, bucket: str) -> None:
    raw = boto3.client("s3", endpoint_url=aws_env)
    odd_key = "2024/06/scan 1 卡?#+.jpg"
    raw.put_object(Bucket=bucket, Key=odd_key, Body=JPEG, ContentType="image/jpeg")
    raw.put_object(Bucket=bucket, Key="empty.jpg", Body=b"")
    storage = S3Storage(s3_client(S3Settings(endpoint_url=aws_env)), max_bytes=LIMIT)
    fetched = storage.fetch(f"s3://{bucket}/{odd_key}")
    assert fetched.data == JPEG and fetched.content_type == "image/jpeg"
    assert fetched.etag and '"' not in fetched.etag
    info = storage.head(f"cos://{bucket}/{odd_key}")
    assert (info.size, info.etag) == (len(JPEG), fetched.etag)
    for location, code in ((f"s3://{bucket}/missing.jpg", "not_found"), (f"s3://{bucket}x/a.jpg", "not_found"),
                           (f"s3://{bucket}/empty.jpg", "empty")):
        with pytest.raises(FetchError) as caught:
            storage.fetch(location)
        assert caught.value.code == code and not caught.value.transient
    with pytest.raises(FetchError) as caught:
        storage.head(f"s3://{bucket}/missing.jpg")
    assert caught.value.code == "not_found"


def test_s3_too_large_is_refused(aws_env: str, bucket: str) -> None:
    boto3.client("s3", endpoint_url=aws_env).put_object(Bucket=bucket, Key="big.jpg", Body=b"\0" * (7 * 1024 * 1024))
    storage = open_storage(StorageSettings(s3=S3Settings(endpoint_url=aws_env, addressing_style="path")))
    with pytest.raises(FetchError) as caught:
        storage.fetch(f"s3://{bucket}/big.jpg")
    assert caught.value.code == "too_large" and "7340032" in caught.value.reason


def test_s3_client_is_shared_and_honours_aws_endpoint_url(aws_env: str, bucket: str) -> None:
    settings = S3Settings(max_pool_connections=7)  # no endpoint: boto3 reads AWS_ENDPOINT_URL (moto)
    client = s3_client(settings)
    assert s3_client(S3Settings(max_pool_connections=7)) is client
    boto3.client("s3", endpoint_url=aws_env).put_object(Bucket=bucket, Key="a.jpg", Body=JPEG)
    assert S3Storage(client, max_bytes=LIMIT).fetch(f"s3://{bucket}/a.jpg").data == JPEG


def test_s3_unreachable_endpoint_is_transient(aws_env: str) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = s3_client(S3Settings(endpoint_url=f"http://127.0.0.1:{port}"), timeout_s=2)
    with pytest.raises(FetchError) as caught:
        S3Storage(client, max_bytes=LIMIT).fetch("s3://bucket/a.jpg")
    assert caught.value.code == "unavailable" and caught.value.transient


# --- HTTP from a loopback server --------------------------------------------------------------------------


class ImageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self) -> None:
        if self.path == "/a.jpg":
            self._send(200, JPEG, {"Content-Type": "image/jpeg", "ETag": '"abc"'})
        elif self.path == "/empty.jpg":
            self._send(200, b"")
        elif self.path == "/moved.jpg":
            self._send(302, b"", {"Location": "/a.jpg"})
        elif self.path == "/forbidden.jpg":
            self._send(403, b"no")
        elif self.path == "/busy.jpg":
            self._send(503, b"busy")
        elif self.path == "/teapot.jpg":
            self._send(418, b"")
        elif self.path == "/big.jpg":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b"\0" * 65536)  # the client must give up after the headers
            self.close_connection = True
        elif self.path == "/chunked-big.jpg":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\0" * 65536
            for _ in range(200):  # 12.5 MB unless the client hangs up first
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/slow.jpg":
            time.sleep(1.5)
            self._send(200, JPEG)
        else:
            self._send(404, b"")


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_fetch_head_and_redirect(image_server: str) -> None:
    storage = HttpStorage(timeout_s=5, max_bytes=LIMIT)
    fetched = storage.fetch(f"{image_server}/a.jpg")
    assert (fetched.data, fetched.etag, fetched.content_type) == (JPEG, '"abc"', "image/jpeg")
    assert storage.fetch(f"{image_server}/moved.jpg").data == JPEG
    assert storage.head(f"{image_server}/a.jpg").size == len(JPEG)
    storage.close()


@pytest.mark.parametrize(("path", "code", "transient"), [
    ("/missing.jpg", "not_found", False),
    ("/forbidden.jpg", "forbidden", False),
    ("/busy.jpg", "unavailable", True),
    ("/teapot.jpg", "bad_location", False),
    ("/empty.jpg", "empty", False),
    ("/big.jpg", "too_large", False),
    ("/chunked-big.jpg", "too_large", False),
    ("/slow.jpg", "timeout", True),
])
def test_http_failures(image_server: str, path: str, code: str, transient: bool) -> None:
    storage = open_storage(StorageSettings(timeout_s=0.5))
    with pytest.raises(FetchError) as caught:
        storage.fetch(f"{image_server}{path}")
    assert (caught.value.code, caught.value.transient) == (code, transient)


def test_http_connection_refused_is_transient() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        HttpStorage(timeout_s=2, max_bytes=LIMIT).fetch(f"http://127.0.0.1:{port}/a.jpg")
    assert caught.value.code == "unavailable" and caught.value.transient
