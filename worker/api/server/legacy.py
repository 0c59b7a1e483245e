"""POST /ocr/bankcard, step by step, cheapest refusal first.

0. At most ``max_pending_requests`` in progress (15): bounds the memory held by bodies.
1. ``Authorization`` present and decodable (4, 5): checked before the body is read.
2. Declared body size (20, HTTP 413) and Content-Type (3): also before the body is read.
3. Read the body under the cap (20, HTTP 413) and within ``body_timeout_s`` (3, HTTP 408), parse it (3, 21,
   -1304).
4. Verify the signature against the request's appid and bucket (6, 9, 10, 11, 12, 13, 14); the answer carries
   the table's message, the specific reason goes to the log only.
5. appid present (-1301), per-appid rate (15), image count (19), url or image present (17, 18).
6. Download url-mode images (-1308 per image), take a recognition slot (15 when the pool stays full for
   ``queue_timeout_s``), recognize each image in order.

Only step 6 costs real work, and it runs only for an authenticated, admitted, well-formed request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse

from worker.api.errors import ApiError
from worker.api.legacy import codes, signing
from worker.api.legacy.forms import OcrRequest, check_content_type, media_type_of, parse_body
from worker.api.legacy.schema import BankCardResponse
from worker.api.server.body import PAYLOAD_TOO_LARGE, check_declared_length, drain, read_capped
from worker.api.server.state import ServerState
from worker.api.server.telemetry import log, record_request, server_metrics


@dataclass
class _Trace:
    """What the request log line reports, filled in as the request advances."""

    appid: str | None = None
    encoding: str = "-"
    body_bytes: int = 0
    images: int = 0
    reason: str | None = None
    started: float = field(default_factory=time.perf_counter)


def _public_message(error: ApiError) -> str:
    """Signature failures answer with the table's message only: the details would help a forger."""
    if error.code in codes.HALT_CODES:
        return codes.message_for(error.code)
    return error.message


async def handle_ocr(request: Request, state: ServerState) -> JSONResponse:
    """Answer one POST /ocr/bankcard: one JSON object for one image, a JSON array for several."""
    trace = _Trace()
    status = 200
    state.pending += 1  # the event loop is single-threaded: no lock needed
    try:
        if state.pending > state.settings.max_pending_requests:
            raise ApiError(codes.RATE_LIMITED, f"more than {state.settings.max_pending_requests} requests "
                                               "in progress; retry later")
        answers = await _answer(request, state, trace)
    except ApiError as error:
        status = error.http_status or 200
        trace.reason = error.message
        answers = [BankCardResponse.failure(error.code, _public_message(error))]
        if status == PAYLOAD_TOO_LARGE:
            await drain(request.receive)
    except Exception as exc:  # a defect answers -5208 and keeps the server up
        log.exception("ocr_request_failed", error=f"{type(exc).__name__}: {exc}")
        status = 500
        trace.reason = f"internal error ({type(exc).__name__})"
        answers = [BankCardResponse.failure(codes.SERVER_INTERNAL_ERROR, "internal error")]
    finally:
        state.pending -= 1
    record_request(appid=trace.appid, answer_codes=[a.code for a in answers], encoding=trace.encoding,
                   status=status, latency_s=time.perf_counter() - trace.started, body_bytes=trace.body_bytes,
                   images=trace.images, reason=trace.reason)
    payload: Any = [a.to_wire() for a in answers] if len(answers) > 1 else answers[0].to_wire()
    return JSONResponse(payload, status_code=status)


async def _answer(request: Request, state: ServerState, trace: _Trace) -> list[BankCardResponse]:
    settings = state.settings
    authorization = request.headers.get("authorization")
    signing.parse(authorization or "")
    content_type = request.headers.get("content-type")
    trace.encoding = media_type_of(content_type)[0] or "-"
    check_declared_length(request.headers.get("content-length"), max_bytes=settings.max_body_bytes)
    check_content_type(content_type)
    try:
        with anyio.fail_after(settings.body_timeout_s):
            body = await read_capped(request.stream(), max_bytes=settings.max_body_bytes)
    except TimeoutError:
        raise ApiError(codes.BAD_REQUEST, f"the request body did not arrive within {settings.body_timeout_s:g} s",
                       http_status=408) from None
    trace.body_bytes = len(body)
    parsed = parse_body(content_type, body)
    trace.appid = parsed.appid
    credential = state.verifier.verify(authorization, appid=parsed.appid or None, bucket=parsed.bucket or None)
    trace.appid = credential.appid
    if not parsed.appid:
        raise ApiError(codes.PARAMETER_EMPTY, "appid is missing")
    state.limits.admit(credential.appid)
    trace.images = _count_sources(parsed, settings.max_images)
    return await _recognize_all(parsed, state)


def _count_sources(parsed: OcrRequest, max_images: int) -> int:
    """How many images the request will recognize: its urls when any is given (the url wins over images, as
    the contract says), else its image parts. Raise 19 for too many, 17 or 18 for none."""
    count = max(len(parsed.urls), len(parsed.images))
    if count > max_images:
        raise ApiError(codes.TOO_MANY_IMAGES, f"{count} images or urls in one request; at most {max_images}")
    sources = parsed.urls or parsed.images
    if not sources:
        if parsed.url_given:
            raise ApiError(codes.URL_EMPTY, "url is empty")
        raise ApiError(codes.NO_IMAGE_OR_URL, "the request has neither an image part nor a url")
    return len(sources)


async def _recognize_all(parsed: OcrRequest, state: ServerState) -> list[BankCardResponse]:
    assert state.pool is not None and state.fetcher is not None and state.recognizer is not None
    images: list[bytes | BankCardResponse] = []
    if parsed.urls:
        for url in parsed.urls:
            try:
                images.append(await state.fetcher.fetch(url))
            except ApiError as error:
                images.append(BankCardResponse.failure(error.code, error.message))
    else:
        images.extend(parsed.images)
    if all(isinstance(image, BankCardResponse) for image in images):
        return [image for image in images if isinstance(image, BankCardResponse)]
    metrics = server_metrics()
    answers: list[BankCardResponse] = []
    async with state.pool.slot():
        metrics.pool_busy.inc()
        try:
            for image in images:
                if isinstance(image, BankCardResponse):
                    answers.append(image)
                else:
                    answers.append(await state.pool.run(state.recognizer.recognize, image))
        finally:
            metrics.pool_busy.dec()
    return answers
