"""Read a request body without ever holding more than the cap.

A declared ``Content-Length`` above the cap is refused before a single body byte is read; a body without a
length (chunked) is read chunk by chunk and abandoned the moment it grows past the cap. Either way the answer
is the API's code 20 with HTTP 413 (API 3.0: ``RequestSizeLimitExceeded``), so a client learns why and a 2 GB
upload costs the server little: before answering, the rest of the upload is read and thrown away within
bounds (:func:`drain`), so that the client reads the answer instead of a connection reset.

>>> check_declared_length("7340032", max_bytes=6 * 1024 * 1024)
Traceback (most recent call last):
...
worker.api.errors.ApiError: [20] request body of 7340032 bytes exceeds the limit of 6291456 bytes
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from starlette.types import Message, Receive

from worker.api.errors import ApiError
from worker.api.legacy import codes

#: The HTTP status of an oversized body: the client may not resend it as is.
PAYLOAD_TOO_LARGE = 413


def body_too_large(size_text: str, max_bytes: int) -> ApiError:
    return ApiError(codes.IMAGE_TOO_LARGE, f"request body of {size_text} bytes exceeds the limit of {max_bytes} bytes",
                    http_status=PAYLOAD_TOO_LARGE)


def check_declared_length(content_length: str | None, *, max_bytes: int) -> None:
    """Refuse a declared length above ``max_bytes``; a missing length is checked while reading instead."""
    if content_length is None:
        return
    try:
        declared = int(content_length.strip())
    except ValueError as exc:
        raise ApiError(codes.BAD_REQUEST, "Content-Length is not a number") from exc
    if declared < 0:
        raise ApiError(codes.BAD_REQUEST, "Content-Length is negative")
    if declared > max_bytes:
        raise body_too_large(str(declared), max_bytes)


async def read_capped(chunks: AsyncIterator[bytes], *, max_bytes: int) -> bytes:
    """Concatenate ``chunks``; stop and raise code 20 as soon as the total passes ``max_bytes``."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > max_bytes:
            raise body_too_large(f"more than {max_bytes}", max_bytes)
    return bytes(buffer)


#: The most an oversized upload is read (and thrown away) so that its client can read the 413 answer.
DRAIN_MAX_BYTES = 64 * 1024 * 1024
#: Draining stops when the client sends nothing for this long...
DRAIN_IDLE_S = 1.0
#: ...or after this long in all.
DRAIN_TOTAL_S = 10.0


async def drain(receive: Receive, *, max_bytes: int = DRAIN_MAX_BYTES,
                idle_s: float = DRAIN_IDLE_S, total_s: float = DRAIN_TOTAL_S) -> int:
    """Read and discard the rest of a refused body, within bounds; return how many bytes were thrown away.

    A server that answers 413 and closes while the client is still uploading makes the client's socket fail
    with a reset before it reads the answer (requests, httpx and urllib all report a connection error). Reading
    the rest first lets the answer through. The bounds keep a 2 GB upload or a stalled client from holding
    the server: at most ``max_bytes``, no more than ``idle_s`` of silence, ``total_s`` in all; past them the
    connection closes as before.

    Parameters:
        receive: the ASGI receive callable of the request (whatever part of the body was read already).
    """
    drained = 0
    with anyio.move_on_after(total_s):
        while drained <= max_bytes:
            message: Message | None = None
            with anyio.move_on_after(idle_s):
                message = await receive()
            if message is None or message.get("type") != "http.request":
                break
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
    return drained
