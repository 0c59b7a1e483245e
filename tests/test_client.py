"""The legacy client against the fake upstream over real HTTP: parsing, code mapping, transport failures."""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import ipaddress
import json
import socket
import ssl
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes import FakeUpstream, Reply
from worker.api.curl import CurlPool
from worker.api.errors import ApiError, ConfigError
from worker.api.legacy import codes
from worker.api.legacy.client import LegacyClient, SignatureCache, interpret
from worker.api.legacy.signing import Credential, parse

APPID, SECRET_ID, SECRET_KEY = "1250000000", "AKIDclienttest", "client-test-secret-key-0123456789"
CREDENTIAL = Credential(APPID, SECRET_ID, SECRET_KEY)
IMAGE = b"\xff\xd8\xff\xe0client-test-image"


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def client(fake: FakeUpstream) -> Iterator[LegacyClient]:
    with LegacyClient(fake.url, appid=APPID, bucket="test", timeout_s=2, connect_timeout_s=2) as legacy:
        yield legacy


def recognize_error(client: LegacyClient, image: bytes = IMAGE) -> ApiError:
    with pytest.raises(ApiError) as caught:
        client.recognize(image)
    return caught.value


def test_success_is_parsed_and_the_request_is_the_seed_form(fake: FakeUpstream, client: LegacyClient) -> None:
    fake.script(IMAGE, [Reply(number="6225768888888888", expiry="12/2030")])
    answer = client.recognize(IMAGE)
    assert answer.ok and answer.value("卡号") == "6225768888888888" and answer.value("有效期") == "12/2030"
    assert answer.value("银行信息") == "招商银行(03080000)"
    request = fake.requests[0]
    assert request.content_type.startswith("multipart/form-data")
    assert request.fields == {"appid": APPID, "bucket": "test"}
    assert request.image == IMAGE and request.image_filename == "image.jpg"
    assert request.authorization is None


def test_url_mode_sends_json(fake: FakeUpstream, client: LegacyClient) -> None:
    answer = client.recognize(url="https://images.example/card 1.jpg")
    assert answer.ok
    request = fake.requests[0]
    assert request.content_type == "application/json"
    assert request.fields == {"appid": APPID, "bucket": "test", "url": "https://images.example/card 1.jpg"}


@pytest.mark.parametrize(("code", "transient", "disposition"), [
    (codes.RATE_LIMITED, True, codes.Disposition.RETRY),
    (codes.SERVER_INTERNAL_ERROR, True, codes.Disposition.RETRY),
    (codes.INTERNAL_TIMEOUT, True, codes.Disposition.RETRY),
    (107, True, codes.Disposition.RETRY),
    (codes.SIGNATURE_EXPIRED, False, codes.Disposition.HALT),
    (codes.APPID_UNKNOWN, False, codes.Disposition.HALT),
    (codes.IMAGE_DECODE_FAILED, False, codes.Disposition.DEAD_LETTER),
    (codes.RECOGNITION_FAILED, False, codes.Disposition.DEAD_LETTER),
    (codes.IMAGE_TOO_LARGE, False, codes.Disposition.DEAD_LETTER),
])
def test_error_codes_map_to_api_errors(fake: FakeUpstream, client: LegacyClient, code: int, transient: bool,
                                       disposition: codes.Disposition) -> None:
    fake.script(IMAGE, [Reply(code=code, message=f"scripted {code}")])
    error = recognize_error(client)
    assert (error.code, error.http_status, error.message) == (code, 200, f"scripted {code}")
    assert error.transient is transient and error.disposition is disposition


@pytest.mark.parametrize(("reply", "code", "status"), [
    (Reply(http_status=429, body=b"Too Many Requests"), codes.RATE_LIMITED, 429),
    (Reply(http_status=429, code=codes.RATE_LIMITED), codes.RATE_LIMITED, 429),
    (Reply(http_status=503, body=b"<html>Service Unavailable</html>"), codes.SERVER_INTERNAL_ERROR, 503),
    (Reply(http_status=503, code=codes.LINK_FAILED), codes.LINK_FAILED, 503),
    (Reply(http_status=502, body=b""), codes.SERVER_INTERNAL_ERROR, 502),
    (Reply(body=b"<html>not json</html>"), codes.UNPACK_FAILED, 200),
    (Reply(body=b'{"unexpected": true}'), codes.UNPACK_FAILED, 200),
    (Reply(body=b"\xff\xfe garbage"), codes.UNPACK_FAILED, 200),
])
def test_http_failures_are_transient(fake: FakeUpstream, client: LegacyClient, reply: Reply, code: int,
                                     status: int) -> None:
    fake.script(IMAGE, [reply])
    error = recognize_error(client)
    assert (error.code, error.http_status) == (code, status)
    assert error.transient and error.disposition is codes.Disposition.RETRY


def test_a_4xx_without_a_body_is_permanent() -> None:
    with pytest.raises(ApiError) as caught:
        interpret(404, b"<html>Not Found</html>")
    assert caught.value.code == codes.BAD_REQUEST and not caught.value.transient


def test_read_timeout_is_transient(fake: FakeUpstream) -> None:
    fake.script(IMAGE, [Reply(delay=1.5)])
    with LegacyClient(fake.url, appid=APPID, timeout_s=0.3) as slow_client:
        error = recognize_error(slow_client)
    assert error.code == codes.INTERNAL_TIMEOUT and error.transient


def test_dropped_connection_is_transient(fake: FakeUpstream, client: LegacyClient) -> None:
    fake.script(IMAGE, [Reply(drop=True), Reply()])
    error = recognize_error(client)
    assert error.code == codes.LINK_FAILED and error.transient
    assert client.recognize(IMAGE).ok  # the pool recovers: the next call gets a fresh connection


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LegacyClient(f"http://127.0.0.1:{port}/ocr/bankcard", appid=APPID, connect_timeout_s=1) as client:
        error = recognize_error(client)
    assert error.code == codes.LINK_FAILED and error.transient


def test_requests_not_worth_sending_are_refused_locally(fake: FakeUpstream, client: LegacyClient) -> None:
    assert recognize_error(client, b"").code == codes.NO_IMAGE_OR_URL
    assert recognize_error(client, b"\0" * (6 * 1024 * 1024 + 1)).code == codes.IMAGE_TOO_LARGE
    with pytest.raises(ApiError) as caught:
        client.recognize(url="")
    assert caught.value.code == codes.URL_EMPTY
    assert fake.total_calls == 0


def test_card_numbers_in_upstream_errors_are_masked(fake: FakeUpstream, client: LegacyClient) -> None:
    fake.script(IMAGE, [Reply(code=codes.RECOGNITION_FAILED, message="rejected 6225760000001235"),
                        Reply(http_status=500, body=b"crash while reading 6225 7600 0000 1235")])
    assert "6225760000001235" not in recognize_error(client).message
    error = recognize_error(client)
    assert "622576******1235" in error.message and "7600 0000" not in error.message


def test_signature_verifies_at_the_fake_and_is_reused() -> None:
    with FakeUpstream(credentials=[CREDENTIAL]) as fake, \
            LegacyClient(fake.url, appid=APPID, bucket="test", credential=CREDENTIAL) as client:
        assert client.recognize(IMAGE).ok
        assert client.recognize(IMAGE).ok
        first, second = (r.authorization for r in fake.requests)
        assert first == second
        signed = parse(first or "")
        assert signed.appid == APPID and signed.bucket == "test" and signed.secret_id == SECRET_ID
        assert SECRET_KEY not in repr(client) and SECRET_KEY not in repr(client._signatures)


def test_a_wrong_key_halts() -> None:
    wrong = Credential(APPID, SECRET_ID, "not-the-secret")
    with FakeUpstream(credentials=[CREDENTIAL]) as fake, LegacyClient(fake.url, appid=APPID, credential=wrong) as c:
        error = recognize_error(c)
        assert error.code == codes.SIGNATURE_FAILED and not error.transient
        assert error.disposition is codes.Disposition.HALT
        assert fake.calls_for(IMAGE) == 0


def test_no_signature_is_code_4() -> None:
    with FakeUpstream(credentials=[CREDENTIAL]) as fake, LegacyClient(fake.url, appid=APPID) as client:
        assert recognize_error(client).code == codes.SIGNATURE_EMPTY


def test_signature_is_renewed_after_80_percent_of_its_life() -> None:
    now = [1_700_000_000.0]
    cache = SignatureCache(CREDENTIAL, ttl=1000, clock=lambda: now[0])
    first = cache.current()
    now[0] += 799
    assert cache.current() == first
    now[0] += 1
    renewed = cache.current()
    assert renewed != first
    assert int(parse(renewed).fields["e"]) == int(now[0]) + 1000


class _ForwardProxy:
    """A plain-HTTP forward proxy on loopback: relays each request to the absolute URL it names and records the
    request lines and the client connections (peer ports) it served."""

    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self.peers: set[int] = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                outer.request_lines.append(self.requestline)
                outer.peers.add(self.client_address[1])
                target = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "proxy-connection"}}
                    upstream.request("POST", target.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[_ForwardProxy]:
    forward = _ForwardProxy()
    yield forward
    forward.close()


def test_the_proxy_the_environment_names_carries_the_call(fake: FakeUpstream, proxy: _ForwardProxy,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with LegacyClient(fake.url, appid=APPID, timeout_s=5) as client:
        assert client.recognize(IMAGE).ok
    assert proxy.request_lines == [f"POST {fake.url} HTTP/1.1"]
    assert fake.requests[0].image == IMAGE


def test_no_proxy_exempts_the_upstream_host(fake: FakeUpstream, proxy: _ForwardProxy,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with LegacyClient(fake.url, appid=APPID, timeout_s=5) as client:
        assert client.recognize(IMAGE).ok
    assert proxy.request_lines == [] and fake.total_calls == 1


def test_calls_beyond_the_pool_size_wait_for_a_connection(fake: FakeUpstream, proxy: _ForwardProxy,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)  # the proxy counts the client's connections
    fake.default = Reply(delay=0.1)
    with LegacyClient(fake.url, appid=APPID, timeout_s=10, max_connections=2) as client, \
            ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: client.recognize(IMAGE), range(12)))
    assert all(answer.ok for answer in answers)
    assert len(proxy.request_lines) == 12 and len(proxy.peers) <= 2


def test_a_3xx_answer_is_permanent(fake: FakeUpstream, client: LegacyClient) -> None:
    fake.script(IMAGE, [Reply(http_status=302, body=b"")])
    error = recognize_error(client)
    assert (error.code, error.http_status) == (codes.BAD_REQUEST, 302) and not error.transient
    assert fake.calls_for(IMAGE) == 1


def test_a_socks_proxy_is_refused_as_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError, match="not an http"):
        LegacyClient("https://ocr.example.invalid/ocr/bankcard", appid=APPID)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, signed by itself, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cardpipe test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def https_upstream(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An https server on loopback that answers every POST with code 0, and the certificate it presents."""
    cert_path, key_path = _self_signed(tmp_path)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"code": 0, "message": "OK", "data": {"class": []}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/ocr/bankcard", cert_path
    finally:
        server.shutdown()
        server.server_close()


def test_https_verifies_against_ssl_cert_file(https_upstream: tuple[str, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url, cert_path = https_upstream
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with LegacyClient(url, appid=APPID, timeout_s=5) as untrusting:
        error = recognize_error(untrusting)  # certifi's bundle does not know this certificate
    assert error.code == codes.LINK_FAILED and "certificate" in error.message.lower()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    with LegacyClient(url, appid=APPID, timeout_s=5) as trusting:
        assert trusting.recognize(IMAGE).ok


def test_an_idle_connection_holds_no_body_and_a_closed_pool_still_calls(fake: FakeUpstream) -> None:
    body = b"{}" + b" " * 100_000
    pool = CurlPool(fake.url, timeout_s=5, connect_timeout_s=2, max_connections=1, pool_timeout_s=2)
    references = sys.getrefcount(body)
    pool.post(body, ["Content-Type: application/json"])
    assert sys.getrefcount(body) == references, "the idle handle still holds the last call's body"
    pool.close()
    status, _ = pool.post(body, ["Content-Type: application/json"])  # not left waiting for a closed connection
    assert status == 200
    pool.close()
