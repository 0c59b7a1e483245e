"""Read a request body without ever holding more than the cap.

A declared ``Content-Length`` above the cap is refused before a single body byte is read; a body without a
length (chunked) is read chunk by chunk and abandoned the moment it grows past the cap. Either way the answer
is the API's code 20 with HTTP 413, so a client learns why and a 2 GB upload costs the server nothing.

>>> check_declared_length("7340032", max_bytes=6 * 1024 * 1024)
Traceback (most recent call last):
...
worker.api.errors.ApiError: [20] request body of 7340032 bytes exceeds the limit of 6291456 bytes
"""

from __future__ import annotations

from collections.abc import AsyncIterator

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
