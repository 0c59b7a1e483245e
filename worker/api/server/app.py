"""The Starlette application: routes, start-up, and JSON answers for every error.

Start-up (the ASGI lifespan) loads the recognizer when none was given, creates the recognition pool and the
download client, and only then reports ready, so uvicorn accepts no request before the models are warm and
``GET /healthz`` answers 200 only when a recognition can run.

>>> app = create_app(ServeSettings(), load_credentials(ServeSettings()), recognizer=get_recognizer())  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8080)                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from worker.api.errors import ConfigError
from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse
from worker.api.legacy.signing import Credential, Verifier
from worker.api.server.fetch import ImageFetcher
from worker.api.server.legacy import handle_ocr
from worker.api.server.limits import AppidRateLimits
from worker.api.server.pool import RecognitionPool
from worker.api.server.settings import HOW_TO_GIVE_CREDENTIALS, ServeSettings
from worker.api.server.state import RecognizesCards, ServerState
from worker.api.server.telemetry import log
from worker.api.server.v3 import handle_v3
from worker.api.v3 import codes as v3_codes
from worker.api.v3.schema import error_envelope
from worker.api.v3.tc3 import Tc3Verifier

OCR_PATH = "/ocr/bankcard"
#: API 3.0 calls are ``POST /`` with the action in ``X-TC-Action``.
V3_PATH = "/"


def _load_default_recognizer() -> RecognizesCards:
    from worker.recognizer import get_recognizer

    return get_recognizer()


def create_app(settings: ServeSettings, credentials: list[Credential], *,
               recognizer: RecognizesCards | None = None) -> Starlette:
    """The ASGI app serving ``POST /ocr/bankcard`` (legacy), ``POST /`` (API 3.0), ``GET /healthz`` and
    ``GET /metrics``.

    Parameters:
        settings: limits, pool size, url-mode policy (the ``serve:`` section).
        credentials: the key pairs whose signatures are accepted, by both protocols; at least one.
        recognizer: the recognizer to serve; when None, the process-wide default is loaded at start-up.

    Raises:
        ConfigError: no credential was given (the message says how to give one).
    """
    if not credentials:
        raise ConfigError(HOW_TO_GIVE_CREDENTIALS)
    state = ServerState(settings=settings, verifier=Verifier(credentials), tc3=Tc3Verifier(credentials),
                        limits=AppidRateLimits((c.appid for c in credentials), rate=settings.rate_per_appid,
                                               burst=settings.burst_per_appid))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        loaded = recognizer if recognizer is not None else await anyio.to_thread.run_sync(_load_default_recognizer)
        state.pool = RecognitionPool(settings.effective_pool_size, settings.queue_timeout_s)
        async with ImageFetcher.make_client(settings.url_fetch_timeout_s) as client:
            state.fetcher = ImageFetcher(client, max_bytes=settings.max_body_bytes,
                                         timeout_s=settings.url_fetch_timeout_s,
                                         allow_private=settings.allow_private_urls)
            state.recognizer = loaded
            log.info("server_ready", pool_size=state.pool.size, appids=len({c.appid for c in credentials}),
                     allow_private_urls=settings.allow_private_urls)
            try:
                yield
            finally:
                state.recognizer = None

    async def ocr(request: Request) -> Response:
        if not state.ready:
            failure = BankCardResponse.failure(codes.SERVER_INTERNAL_ERROR, "the recognizer is not loaded yet")
            return JSONResponse(failure.to_wire(), status_code=503)
        return await handle_ocr(request, state)

    async def v3(request: Request) -> Response:
        if request.method != "POST":
            return JSONResponse(error_envelope(v3_codes.UNSUPPORTED_OPERATION,
                                               "API 3.0 is served as POST / with a JSON body", ""))
        return await handle_v3(request, state)

    async def healthz(_request: Request) -> Response:
        if state.ready:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def http_error(_request: Request, exc: Exception) -> Response:
        """404 and 405 keep the legacy API's JSON shape, with code 3."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        failure = BankCardResponse.failure(codes.BAD_REQUEST, f"{codes.message_for(codes.BAD_REQUEST)}: {detail}")
        return JSONResponse(failure.to_wire(), status_code=status)

    routes = [
        Route(OCR_PATH, ocr, methods=["POST"]),
        Route(V3_PATH, v3, methods=["POST", "GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
