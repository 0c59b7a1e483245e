"""POST / as API 3.0's BankCardOCR, step by step, cheapest refusal first.

0. At most ``max_pending_requests`` in progress, both protocols together (RequestLimitExceeded).
1. ``X-TC-Action`` is BankCardOCR (MissingParameter, InvalidAction), ``X-TC-Version`` is 2018-11-19
   (MissingParameter, NoSuchVersion).
2. ``Authorization`` is a TC3 one (AuthFailure.InvalidAuthorization), ``X-TC-Timestamp`` is within five minutes
   of the server's clock (AuthFailure.SignatureExpire), the SecretId is known (AuthFailure.SecretIdNotFound).
3. Content-Type is JSON (InvalidParameter); the declared and the read body fit ``max_body_bytes``
   (RequestSizeLimitExceeded) and arrive within ``body_timeout_s`` (InvalidParameter).
4. The signature over the exact bytes received (AuthFailure.SignatureFailure), used for the first time
   (AuthFailure.SignatureFailure: a replay).
5. The SecretId's appid is within its rate (RequestLimitExceeded); the body is a JSON object (InvalidParameter)
   of known fields (UnknownParameter) of the right types (InvalidParameter); ImageUrl or ImageBase64 is given
   (MissingParameter; ImageUrl wins when both are, as the API documents); ImageBase64 is base64
   (FailedOperation.ImageDecodeFailed).
6. Download (FailedOperation.DownLoadError, under the same request-forgery guard as the legacy side), take a
   recognition slot (RequestLimitExceeded), recognize, and compute the quality signals asked for.

Every answer is HTTP 200 with the 3.0 envelope, as the cloud answers: the vendor's SDKs read no error from any
other status. A request whose answer says "try again" (RequestLimitExceeded, InternalError) is forgotten by the
replay guard, so a client may resend the very same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from dataclasses import dataclass

import anyio
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from worker.api.errors import ApiError
from worker.api.legacy import codes as legacy_codes
from worker.api.legacy.schema import BankCardResponse
from worker.api.server.body import PAYLOAD_TOO_LARGE, check_declared_length, drain, read_capped
from worker.api.server.state import ServerState
from worker.api.server.telemetry import record_request, server_metrics
from worker.api.v3 import codes
from worker.api.v3.errors import V3Error
from worker.api.v3.schema import ACTION, VERSION, BankCardOcrRequest, BankCardOcrResponse, error_envelope
from worker.api.v3.tc3 import REPLAY_MESSAGE, SignedRequest, parse_authorization
from worker.observability import get_logger, public_text

log = get_logger("server.v3")

JSON_TYPES = frozenset({"application/json", "text/json"})


def _as_v3(error: ApiError) -> V3Error:
    """A failure of the shared parts (recognizer, download guard, pool, body cap) under its 3.0 code."""
    if isinstance(error, V3Error):
        return error
    if error.http_status == PAYLOAD_TOO_LARGE:
        return V3Error(codes.REQUEST_SIZE_LIMIT_EXCEEDED, error.message)
    if isinstance(error.code, int):
        return V3Error(codes.from_legacy(error.code), error.message)
    return V3Error(codes.INTERNAL_ERROR, error.message)


@dataclass
class _Trace:
    """What the request log line reports, and the signature to forget after a "try again" answer."""

    appid: str | None = None
    body_bytes: int = 0
    images: int = 0
    signature: str | None = None


async def handle_v3(request: Request, state: ServerState) -> JSONResponse:
    """Answer one API 3.0 request with the success or the error envelope."""
    request_id = str(uuid.uuid4())
    started = time.perf_counter()
    trace = _Trace()
    state.pending += 1
    try:
        if state.pending > state.settings.max_pending_requests:
            raise V3Error(codes.REQUEST_LIMIT_EXCEEDED,
                          f"more than {state.settings.max_pending_requests} requests in progress; retry later")
        payload = (await _answer(request, state, request_id, trace)).envelope()
        code: int | str = 0
        reason = None
    except ApiError as raised:
        error = _as_v3(raised)
        code, reason = error.code, error.message
        payload = error_envelope(error.code, _public_message(error), request_id)
        if raised.http_status == PAYLOAD_TOO_LARGE:
            await drain(request.receive)
    except Exception as exc:  # a defect answers InternalError and keeps the server up
        log.exception("v3_request_failed", error=f"{type(exc).__name__}: {exc}")
        code, reason = codes.INTERNAL_ERROR, f"internal error ({type(exc).__name__})"
        payload = error_envelope(codes.INTERNAL_ERROR, codes.message_for(codes.INTERNAL_ERROR), request_id)
    finally:
        state.pending -= 1
    if trace.signature and isinstance(code, str) and codes.disposition_of(code) is legacy_codes.Disposition.RETRY:
        state.tc3.replays.forget(trace.signature)
    record_request(appid=trace.appid, answer_codes=[code], encoding="v3", status=200,
                   latency_s=time.perf_counter() - started, body_bytes=trace.body_bytes, images=trace.images,
                   reason=reason)
    return JSONResponse(payload, status_code=200)


def _public_message(error: V3Error) -> str:
    """Signature failures answer with the published message only: the details would help a forger."""
    if error.code.startswith("AuthFailure") and error.message != REPLAY_MESSAGE:
        return codes.message_for(error.code)
    return error.message


def _check_action(request: Request) -> None:
    action = request.headers.get("x-tc-action")
    if not action:
        raise V3Error(codes.MISSING_PARAMETER, "the X-TC-Action header is missing")
    if action != ACTION:
        raise V3Error(codes.INVALID_ACTION, f"action {action[:64]!r} is not served here; only {ACTION}")
    version = request.headers.get("x-tc-version")
    if not version:
        raise V3Error(codes.MISSING_PARAMETER, "the X-TC-Version header is missing")
    if version != VERSION:
        raise V3Error(codes.NO_SUCH_VERSION, f"version {version[:32]!r} does not exist; {ACTION} is {VERSION}")


async def _read_body(request: Request, state: ServerState) -> bytes:
    settings = state.settings
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise V3Error(codes.INVALID_PARAMETER, "Content-Type must be application/json")
    check_declared_length(request.headers.get("content-length"), max_bytes=settings.max_body_bytes)
    try:
        with anyio.fail_after(settings.body_timeout_s):
            return await read_capped(request.stream(), max_bytes=settings.max_body_bytes)
    except TimeoutError:
        raise V3Error(codes.INVALID_PARAMETER, f"the request body did not arrive within "
                                               f"{settings.body_timeout_s:g} s") from None


def _parse_request(body: bytes) -> BankCardOcrRequest:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise V3Error(codes.INVALID_PARAMETER, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise V3Error(codes.INVALID_PARAMETER, "the body must be a JSON object")
    try:
        return BankCardOcrRequest.model_validate(document)
    except ValidationError as exc:
        problems = exc.errors()
        unknown = [str(p["loc"][0]) for p in problems if p["type"] == "extra_forbidden"]
        if unknown:
            names = public_text(", ".join(sorted(unknown)), 200)
            raise V3Error(codes.UNKNOWN_PARAMETER, f"unknown parameter(s): {names}") from None
        wrong = sorted({str(p["loc"][0]) for p in problems if p["loc"]})
        names = public_text(", ".join(wrong), 200)
        raise V3Error(codes.INVALID_PARAMETER, f"parameter(s) of the wrong type: {names}") from None


def _decode_image(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise V3Error(codes.IMAGE_DECODE_FAILED, "ImageBase64 is not valid base64") from None


async def _answer(request: Request, state: ServerState, request_id: str, trace: _Trace) -> BankCardOcrResponse:
    if not state.ready:
        raise V3Error(codes.INTERNAL_ERROR, "the recognizer is not loaded yet")
    _check_action(request)
    parsed = parse_authorization(request.headers.get("authorization"))
    timestamp = state.tc3.parse_timestamp(request.headers.get("x-tc-timestamp"))
    state.tc3.credential_for(parsed)
    body = await _read_body(request, state)
    trace.body_bytes = len(body)
    headers = {name.lower(): value for name, value in request.headers.items()}
    signed = SignedRequest(method=request.method, uri=request.url.path or "/", query=request.url.query,
                           headers=headers, payload=body)
    credential = state.tc3.verify(signed, parsed, timestamp)
    trace.signature = parsed.signature
    trace.appid = credential.appid
    state.limits.admit(credential.appid)
    options = _parse_request(body)
    if options.ImageUrl:
        assert state.fetcher is not None
        image = await state.fetcher.fetch(options.ImageUrl)
    elif options.ImageBase64:
        image = _decode_image(options.ImageBase64)
    else:
        raise V3Error(codes.MISSING_PARAMETER, "one of ImageBase64 or ImageUrl is required")
    trace.images = 1
    return await _recognize(image, options, state, request_id)


async def _recognize(image: bytes, options: BankCardOcrRequest, state: ServerState,
                     request_id: str) -> BankCardOcrResponse:
    assert state.pool is not None and state.recognizer is not None
    recognizer = state.recognizer

    def work() -> BankCardOcrResponse:
        answer: BankCardResponse = recognizer.recognize(image, session_id=request_id)
        if answer.code != legacy_codes.OK:
            raise V3Error(codes.from_legacy(answer.code), answer.message)
        from worker.recognizer.quality import QualityRequest, assess

        wanted = QualityRequest(border_cut_image=options.RetBorderCutImage, card_no_image=options.RetCardNoImage,
                                copy_check=options.EnableCopyCheck, reshoot_check=options.EnableReshootCheck,
                                border_check=options.EnableBorderCheck, quality_value=options.EnableQualityValue)
        report = assess(image, answer, wanted)
        result = BankCardOcrResponse.from_legacy(answer, request_id)
        return result.model_copy(update=report.response_fields())

    metrics = server_metrics()
    async with state.pool.slot():
        metrics.pool_busy.inc()
        try:
            return await state.pool.run(work)
        finally:
            metrics.pool_busy.dec()
