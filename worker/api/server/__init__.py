"""``cardpipe serve``: the bank-card OCR API as a self-hosted server, in both protocols: the legacy API
(``POST /ocr/bankcard``, :mod:`.legacy`) and API 3.0's BankCardOCR (``POST /``, :mod:`.v3`). The choices below
are the legacy side's; :mod:`.v3` states its own.

Choices where the contract leaves room (tests assert each one):

* **One image, one object; several images, an array.** A request with one image (or one url) is answered
  with exactly the seed's single JSON object. A request with 2..20 images (image parts, or a JSON list of
  urls) is answered with a JSON array of such objects in the request's order, each with its own code, as the
  contract's "返回字段为一个json数组" describes. A refusal of the whole request (signature, limits, malformed
  body) is always one object.
* **HTTP 200 with the code in the body**, as the legacy service answers, for every API-level code including
  15. Exceptions: an oversized body is HTTP 413 (code 20, same JSON shape); a body that stalls past
  ``body_timeout_s`` is HTTP 408 (code 3), which clients treat as worth retrying; an unknown path or method is
  404/405 (code 3); an internal defect is HTTP 500 (code -5208); a request before start-up finished is 503.
* **Missing appid is -1301** (ERROR_PARAMETER_EMPTY), checked after the signature. Malformed requests (wrong
  Content-Type, invalid JSON, truncated multipart) are 3; a field of the wrong type is 21.
* **url wins over image**, as the contract says; an empty url next to an image part counts as no url.
* Signature failures (4–14) answer with the table's message only; the specific reason is logged.

Modules: :mod:`.app` (routes, start-up), :mod:`.state` (what handlers share), :mod:`.legacy` and :mod:`.v3`
(each protocol's request flow), :mod:`.body` (capped reading),
:mod:`worker.api.legacy.forms` (JSON and multipart parsing), :mod:`.fetch` (url mode and its request-forgery guard),
:mod:`.pool` (bounded recognition), :mod:`.limits` (per-appid rate), :mod:`.telemetry` (log line, metrics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.api.server.app import OCR_PATH, create_app

__all__ = ["OCR_PATH", "create_app"]


def __getattr__(name: str) -> Any:
    """The app on first use: :mod:`worker.config` imports :mod:`.settings`, and reading the configuration must
    not import starlette, httpx and the metrics for commands that serve nothing."""
    if name in __all__:
        from worker.api.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
