"""A scriptable bank-card OCR server on loopback that speaks the legacy protocol over real HTTP.

Pipeline tests need an upstream whose answers they choose: a code, an HTTP status, a delay, a garbage
body, a dropped connection. This one is a real ``ThreadingHTTPServer`` on a free port, so the client's
pooling, timeouts and parsing are exercised exactly as against the vendor.

Replies are scripted per image: the requests carrying the same image bytes (or, for JSON requests, the
same url) get the scripted replies in order, then ``default``. With ``credentials`` the server checks the
Authorization header with :class:`worker.api.legacy.signing.Verifier` and answers codes 4-14 as the real service.

>>> with FakeUpstream() as fake:                                   # doctest: +SKIP
...     fake.script(b"card", [Reply(code=15), Reply()])            # rate-limited once, then read
...     httpx.post(fake.url, data={"appid": "1", "bucket": ""}, files={"image": ("image.jpg", b"card")})
"""

from __future__ import annotations

import functools
import io
import json
import re
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from python_multipart import parse_form
from python_multipart.exceptions import FormParserError

from worker.api.errors import ApiError
from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse, CardField, Item, ItemCoord
from worker.api.legacy.signing import Credential, Verifier

PATH = "/ocr/bankcard"
#: The API's body limit; larger requests are refused with code 20 and HTTP 413 without being read.
MAX_BODY_BYTES = 6 * 1024 * 1024


@dataclass
class Reply:
    """One scripted answer.

    Parameters:
        code: the body's code; 0 answers the five items.
        http_status: the HTTP status sent with the body.
        delay: seconds to wait before answering (a slow upstream, or a read timeout for the client).
        number, expiry, bank_info, card_name, card_kind: the success items.
        message: an error body's message; the code table's when None.
        body: raw bytes to send instead of a JSON body (garbage, an HTML error page, nothing).
        drop: close the connection without any answer (a reset, from the client's side).
    """

    code: int = 0
    http_status: int = 200
    delay: float = 0.0
    number: str = "6225760000000000"
    expiry: str = "08/2028"
    bank_info: str = "招商银行(03080000)"
    card_name: str = "招商银行信用卡"
    card_kind: str = "贷记卡"
    message: str | None = None
    body: bytes | None = None
    drop: bool = False

    def payload(self, session_id: str) -> bytes:
        """The bytes this reply puts on the wire (built once per distinct reply, then only the session id
        changes: the fake must cost far less per request than any pipeline measured against it)."""
        if self.body is not None:
            return self.body
        template = _payload_template(self.code, self.number, self.expiry, self.bank_info, self.card_name,
                                     self.card_kind, self.message)
        return template.replace(_SESSION_MARK, session_id.encode("utf-8"))

    def _build_payload(self, session_id: str) -> bytes:
        if self.code == codes.OK:
            box = ItemCoord(x=28, y=101, width=244, height=22)
            items = [Item(item=name, itemstring=value, itemconf=0.95, itemcoord=box) for name, value in (
                (CardField.CARD_NUMBER, self.number), (CardField.CARD_KIND, self.card_kind),
                (CardField.CARD_NAME, self.card_name), (CardField.BANK_INFO, self.bank_info),
                (CardField.EXPIRY, self.expiry))]
            answer = BankCardResponse.success(session_id, items)
        else:
            answer = BankCardResponse.failure(self.code, self.message, session_id=session_id)
        return json.dumps(answer.to_wire(), ensure_ascii=False).encode("utf-8")


_SESSION_MARK = b"@@session-id@@"


@functools.lru_cache(maxsize=256)
def _payload_template(code: int, number: str, expiry: str, bank_info: str, card_name: str, card_kind: str,
                      message: str | None) -> bytes:
    reply = Reply(code=code, number=number, expiry=expiry, bank_info=bank_info, card_name=card_name,
                  card_kind=card_kind, message=message)
    return reply._build_payload(_SESSION_MARK.decode("ascii"))


@dataclass
class RecordedRequest:
    """What one request carried, for assertions: headers, text fields, the image or url, and the answer."""

    method: str
    path: str
    headers: dict[str, str]
    content_type: str
    fields: dict[str, str] = field(default_factory=dict)
    image: bytes | None = None
    image_filename: str | None = None
    url: str | None = None
    answered_code: int | None = None
    answered_status: int | None = None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class _ParsedBody:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.image: bytes | None = None
        self.image_filename: str | None = None
        self.url: str | None = None


def _parse_json(body: bytes, parsed: _ParsedBody) -> None:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ApiError(codes.BAD_REQUEST, "body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise ApiError(codes.BAD_REQUEST, "JSON body must be an object")
    parsed.fields = {str(k): str(v) for k, v in document.items() if isinstance(v, str | int)}
    parsed.url = parsed.fields.get("url")


def _parse_multipart(content_type: str, body: bytes, parsed: _ParsedBody) -> None:
    def on_field(part: Any) -> None:
        name = part.field_name.decode("utf-8", "replace")
        value = part.value or b""
        if name == "image":
            parsed.image = value
        else:
            parsed.fields[name] = value.decode("utf-8", "replace")

    def on_file(part: Any) -> None:
        name = part.field_name.decode("utf-8", "replace")
        part.file_object.seek(0)
        data = part.file_object.read()
        if name == "image":
            parsed.image = data
            parsed.image_filename = part.file_name.decode("utf-8", "replace") if part.file_name else None
        else:
            parsed.fields[name] = data.decode("utf-8", "replace")

    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    try:
        parse_form(headers, io.BytesIO(body), on_field, on_file)  # type: ignore[arg-type]
    except (FormParserError, ValueError) as exc:
        raise ApiError(codes.BAD_REQUEST, f"multipart body is malformed: {exc}") from exc


_DISPOSITION_PARAM = re.compile(rb'(?:^|;)\s*(name|filename)="([^"]*)"', re.IGNORECASE)


def _parse_multipart_quickly(content_type: str, body: bytes, parsed: _ParsedBody) -> bool:
    """Split a well-formed multipart body on its boundary; False (nothing parsed) for anything unusual.

    Why: a general streaming parser costs ~0.6 ms per request here, more than the pipeline under test spends
    on some of its steps; well-formed bodies (every real client's) are parsed by splitting instead, and
    anything else goes to the general parser, which also produces the errors.
    """
    boundary = next((param.strip()[len("boundary="):].strip('"') for param in content_type.split(";")[1:]
                     if param.strip().lower().startswith("boundary=")), "")
    if not boundary:
        return False
    chunks = body.split(b"--" + boundary.encode("latin-1"))
    if len(chunks) < 3 or chunks[0] not in (b"", b"\r\n") or chunks[-1] not in (b"--", b"--\r\n"):
        return False
    found = _ParsedBody()
    for chunk in chunks[1:-1]:
        head, sep, value = chunk[2:-2].partition(b"\r\n\r\n")
        if not (chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n") and sep):
            return False
        disposition = next((line.split(b":", 1)[1] for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-disposition:")), b"")
        params = {key.lower(): raw for key, raw in _DISPOSITION_PARAM.findall(disposition)}
        if b"name" not in params:
            return False
        name = params[b"name"].decode("utf-8", "replace")
        if name == "image":
            found.image = value
            filename = params.get(b"filename")
            found.image_filename = filename.decode("utf-8", "replace") if filename else None
        else:
            found.fields[name] = value.decode("utf-8", "replace")
    parsed.fields, parsed.image, parsed.image_filename = found.fields, found.image, found.image_filename
    return True


def parse_request(content_type: str, body: bytes) -> _ParsedBody:
    """Read the seed's two request shapes: multipart appid/bucket/image, or JSON appid/bucket/url (a plain
    url-encoded form is read like multipart)."""
    parsed = _ParsedBody()
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in {"application/json", "text/json"}:
        _parse_json(body, parsed)
    elif media_type == "multipart/form-data" and _parse_multipart_quickly(content_type, body, parsed):
        pass
    elif media_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        _parse_multipart(content_type, body, parsed)
    else:
        raise ApiError(codes.BAD_REQUEST, f"unsupported Content-Type {media_type or '(none)'}")
    return parsed


class FakeUpstream:
    """A loopback server answering POST /ocr/bankcard with scripted replies; a context manager.

    Parameters:
        default: the reply for any request with nothing (left) scripted.
        credentials: when given, requests must carry a valid signature by one of these; failures answer
            codes 4-14 with HTTP 200, as the real service does.
        keep_requests: record every request in ``requests`` (off for long benchmark runs, where thousands of
            images would otherwise be kept in memory).

    Attributes:
        url: ``http://127.0.0.1:PORT/ocr/bankcard``, set once started.
        requests: every request received, in arrival order.
    """

    def __init__(self, *, default: Reply | None = None, credentials: list[Credential] | None = None,
                 keep_requests: bool = True) -> None:
        self.default = default or Reply()
        self.keep_requests = keep_requests
        self.answered = 0
        self.verifier = Verifier(credentials) if credentials else None
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[bytes, deque[Reply]] = defaultdict(deque)
        self._calls: dict[bytes, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @staticmethod
    def _key(image: bytes | str) -> bytes:
        return image.encode("utf-8") if isinstance(image, str) else bytes(image)

    def script(self, image: bytes | str, replies: list[Reply]) -> None:
        """Answer the next requests carrying ``image`` (bytes, or a url for JSON requests) with ``replies``."""
        with self._lock:
            self._scripts[self._key(image)].extend(replies)

    def calls_for(self, image: bytes | str) -> int:
        """How many requests carried ``image`` (or that url)."""
        with self._lock:
            return self._calls[self._key(image)]

    @property
    def total_calls(self) -> int:
        with self._lock:
            return self.answered

    def _next_reply(self, key: bytes | None) -> Reply:
        with self._lock:
            if key is None:
                return self.default
            if self.keep_requests:
                self._calls[key] += 1
            queue = self._scripts.get(key)
            return queue.popleft() if queue else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.answered += 1
            if self.keep_requests:
                self.requests.append(request)

    def start(self) -> FakeUpstream:
        """Bind a free loopback port and serve from a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-upstream", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def answer(self, recorded: RecordedRequest, body: bytes) -> tuple[Reply | None, int, bytes]:
        """Decide the reply to one request: protocol checks first, then the script for its image."""
        session_id = uuid.uuid4().hex
        try:
            if recorded.path != PATH:
                return None, 404, BankCardResponse.failure(codes.BAD_REQUEST, "no such path").model_dump_json() \
                    .encode()
            parsed = parse_request(recorded.content_type, body)
            recorded.fields, recorded.image, recorded.url = parsed.fields, parsed.image, parsed.url
            recorded.image_filename = parsed.image_filename
            appid = parsed.fields.get("appid", "")
            if self.verifier is not None:
                self.verifier.verify(recorded.authorization, appid=appid or None,
                                     bucket=parsed.fields.get("bucket") or None)
            if not appid:
                raise ApiError(codes.PARAMETER_EMPTY, "appid is missing")
            if parsed.url is not None:
                key = self._key(parsed.url)
            elif parsed.image is not None:
                key = parsed.image
            else:
                raise ApiError(codes.NO_IMAGE_OR_URL)
        except ApiError as error:
            message = codes.message_for(error.code) if error.code in codes.HALT_CODES else error.message
            failure = BankCardResponse.failure(error.code, message, session_id=session_id)
            return None, 200, json.dumps(failure.to_wire(), ensure_ascii=False).encode("utf-8")
        reply = self._next_reply(key)
        return reply, reply.http_status, reply.payload(session_id)


def _handler_for(fake: FakeUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Why both: an answer sent as two writes (headers, then body) under Nagle's algorithm waits for the
        # client's delayed ACK, ~40 ms per request, which would make the "zero-latency" fake the slowest part
        # of any pipeline measured against it. A buffered writer sends headers and body in one segment, and
        # TCP_NODELAY sends that segment at once.
        disable_nagle_algorithm = True
        wbufsize = 64 * 1024

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``fake.requests`` instead of stderr."""

        def _answer_bytes(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (its read timeout): that is the scenario, not a failure.
                self.close_connection = True

        def do_POST(self) -> None:
            recorded = RecordedRequest(method="POST", path=self.path.split("?", 1)[0],
                                       headers={k.lower(): v for k, v in self.headers.items()},
                                       content_type=self.headers.get("Content-Type", ""))
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                recorded.answered_code, recorded.answered_status = codes.IMAGE_TOO_LARGE, 413
                fake._record(recorded)
                failure = BankCardResponse.failure(codes.IMAGE_TOO_LARGE, "request body is too large")
                self.close_connection = True
                self._answer_bytes(413, failure.model_dump_json().encode("utf-8"))
                return
            body = self.rfile.read(length)
            reply, status, payload = fake.answer(recorded, body)
            recorded.answered_status = status
            recorded.answered_code = reply.code if reply is not None and reply.body is None else \
                _code_in(payload)
            fake._record(recorded)
            if reply is not None and reply.delay > 0:
                time.sleep(reply.delay)
            if reply is not None and reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            content_type = "application/json" if reply is None or reply.body is None else "text/html"
            self._answer_bytes(status, payload, content_type)

        def do_GET(self) -> None:
            self._answer_bytes(405, b'{"code": 3, "message": "use POST"}')

    return Handler


def _code_in(payload: bytes) -> int | None:
    try:
        value = json.loads(payload).get("code")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def main() -> int:
    """Serve a zero-latency fake in its own process (benchmarks: its CPU is then not the worker's): prints the
    URL on stdout, serves until stdin closes.

    ``python -m tests.fakes.upstream --appid 1250000000 --secret-id AKID... --secret-key ...``
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="a zero-latency fake bank-card OCR upstream on loopback")
    parser.add_argument("--appid", default="")
    parser.add_argument("--secret-id", default="")
    parser.add_argument("--secret-key", default="")
    args = parser.parse_args()
    credentials = [Credential(args.appid, args.secret_id, args.secret_key)] if args.secret_key else None
    with FakeUpstream(credentials=credentials, keep_requests=False) as fake:
        print(fake.url, flush=True)
        sys.stdin.read()
        print(f"answered {fake.total_calls}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
