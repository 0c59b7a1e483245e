"""Turn a request body into the fields the API knows: appid, bucket, url(s) and image(s).

Two encodings are accepted, as the legacy service accepts them:

* ``application/json`` or ``text/json``: an object with ``appid``, ``bucket`` and ``url``. ``url`` may also be a
  list of urls (the service allows "20 urls or files" a request); ``appid`` may be a JSON number, as some
  clients send it.
* ``multipart/form-data``: text parts ``appid``, ``bucket``, optionally ``url``, and 1..N file parts named
  ``image`` (``image[0]``, ``image[1]``... are accepted too).

Anything else, a body that is not valid JSON, or a multipart body cut short before its closing boundary is a
malformed request: code 3 (错误的请求). A field of the wrong type is code 21 (无效的参数). The parser only
collects; deciding what is missing happens after the signature is verified, so an unauthenticated caller
learns nothing but "bad signature".

>>> req = parse_body("application/json", b'{"appid": 123, "bucket": "b", "url": "http://x/a.jpg"}')
>>> req.appid, req.urls
('123', ('http://x/a.jpg',))
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from worker.api.errors import ApiError
from worker.api.legacy import codes

JSON_TYPES = frozenset({"application/json", "text/json"})
MULTIPART_TYPE = "multipart/form-data"

#: Longest url the server accepts; longer is code -1304 (参数过长), as no real image url needs more.
MAX_URL_LENGTH = 4096
#: Longest text field (appid, bucket).
MAX_TEXT_FIELD = 1024

_IMAGE_PART = re.compile(r"^image(\[\d*\])?$")


@dataclass(frozen=True)
class OcrRequest:
    """What a request asked for, before any check of presence or count.

    Attributes:
        appid, bucket: as sent; None when the field was absent (an empty string stays "").
        url_given: a ``url`` field was present, even if empty.
        urls: the non-empty urls, in order.
        images: the image parts' bytes, in order (an empty part stays b"").
    """

    appid: str | None = None
    bucket: str | None = None
    url_given: bool = False
    urls: tuple[str, ...] = ()
    images: tuple[bytes, ...] = field(default=(), repr=False)
    encoding: str = "json"


def media_type_of(content_type: str | None) -> tuple[str, dict[bytes, bytes]]:
    """The lower-cased media type and its parameters; ("", {}) when there is no Content-Type."""
    if not content_type:
        return "", {}
    media, params = parse_options_header(content_type)
    return media.decode("latin-1").strip().lower(), params


def check_content_type(content_type: str | None) -> None:
    """Refuse (code 3) a request whose Content-Type is neither JSON nor multipart, before reading its body."""
    media, params = media_type_of(content_type)
    if media in JSON_TYPES:
        return
    if media == MULTIPART_TYPE:
        if not params.get(b"boundary"):
            raise ApiError(codes.BAD_REQUEST, "multipart/form-data without a boundary parameter")
        return
    shown = media or "none"
    raise ApiError(codes.BAD_REQUEST,
                   f"Content-Type {shown!r} is not supported: use application/json, text/json or multipart/form-data")


def parse_body(content_type: str | None, body: bytes) -> OcrRequest:
    """Parse ``body`` according to ``content_type``; raise :class:`ApiError` 3, 21 or -1304."""
    check_content_type(content_type)
    media, params = media_type_of(content_type)
    if media in JSON_TYPES:
        return _parse_json(body)
    return _parse_multipart(params[b"boundary"], body)


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiError(codes.INVALID_PARAMETER, f"{name} must be a string")
    text = str(value).strip()
    if len(text) > MAX_TEXT_FIELD:
        raise ApiError(codes.PARAMETER_TOO_LONG, f"{name} is longer than {MAX_TEXT_FIELD} characters")
    return text


def _urls(value: object) -> tuple[bool, tuple[str, ...]]:
    if value is None:
        return False, ()
    items = value if isinstance(value, list) else [value]
    urls: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ApiError(codes.INVALID_PARAMETER, "url must be a string or a list of strings")
        if len(item) > MAX_URL_LENGTH:
            raise ApiError(codes.PARAMETER_TOO_LONG, f"url is longer than {MAX_URL_LENGTH} characters")
        if item.strip():
            urls.append(item.strip())
    return True, tuple(urls)


def _parse_json(body: bytes) -> OcrRequest:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(codes.BAD_REQUEST, "body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise ApiError(codes.BAD_REQUEST, "JSON body must be an object with appid, bucket and url")
    url_given, urls = _urls(document.get("url"))
    return OcrRequest(appid=_text(document.get("appid"), "appid"), bucket=_text(document.get("bucket"), "bucket"),
                      url_given=url_given, urls=urls, encoding="json")


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)

    @property
    def name(self) -> str | None:
        disposition = self.headers.get("content-disposition")
        if disposition is None:
            return None
        _, options = parse_options_header(disposition)
        raw = options.get(b"name")
        return raw.decode("utf-8", errors="replace") if raw is not None else None


def _split_parts(boundary: bytes, body: bytes) -> list[_Part]:
    """Run python-multipart over the whole body; a body that never reaches its closing boundary is code 3."""
    parts: list[_Part] = []

    def begin() -> None:
        parts.append(_Part())

    def header_field(data: bytes, start: int, end: int) -> None:
        parts[-1].header_name += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        parts[-1].header_value += data[start:end]

    def header_end() -> None:
        part = parts[-1]
        part.headers[part.header_name.decode("latin-1").strip().lower()] = bytes(part.header_value).strip()
        part.header_name.clear()
        part.header_value.clear()

    def part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data += data[start:end]

    callbacks = {"on_part_begin": begin, "on_header_field": header_field, "on_header_value": header_value,
                 "on_header_end": header_end, "on_part_data": part_data}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(codes.BAD_REQUEST, "multipart body is malformed") from exc
    if parser.state != MultipartState.END:
        raise ApiError(codes.BAD_REQUEST, "multipart body is truncated: it ends before its closing boundary")
    return parts


def _parse_multipart(boundary: bytes, body: bytes) -> OcrRequest:
    fields: dict[str, str] = {}
    url_values: list[str] = []
    images: list[bytes] = []
    for part in _split_parts(boundary, body):
        name = part.name
        if name is None:
            raise ApiError(codes.BAD_REQUEST, "a multipart part has no Content-Disposition name")
        if _IMAGE_PART.match(name):
            images.append(bytes(part.data))
            continue
        if name == "url":
            url_values.append(_decode_text(part.data, name, limit=MAX_URL_LENGTH))
        elif name in ("appid", "bucket"):
            fields[name] = _decode_text(part.data, name, limit=MAX_TEXT_FIELD)
    url_given, urls = _urls(url_values or None)
    return OcrRequest(appid=fields.get("appid"), bucket=fields.get("bucket"), url_given=url_given, urls=urls,
                      images=tuple(images), encoding="multipart")


def _decode_text(data: bytearray, name: str, *, limit: int) -> str:
    if len(data) > limit:
        code = codes.PARAMETER_TOO_LONG
        raise ApiError(code, f"{name} is longer than {limit} bytes")
    try:
        return bytes(data).decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ApiError(codes.INVALID_PARAMETER, f"{name} is not UTF-8 text") from exc
