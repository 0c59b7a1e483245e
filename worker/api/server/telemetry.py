"""What the server reports about itself: one log line per request and a few Prometheus series.

Labels carry only codes and encodings, never an appid's data, a card number or a url (a url may carry a
pre-signed query string). The log line names the appid, the answer's code(s), latency and body size; the
structlog pipeline masks any card-number-like digits that could still slip into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from worker.observability import get_logger

log = get_logger("server")


@dataclass(frozen=True)
class ServerMetrics:
    requests: Counter
    latency: Histogram
    pool_busy: Gauge
    body_bytes: Histogram


_metrics: ServerMetrics | None = None


def server_metrics() -> ServerMetrics:
    """The process-wide server metrics, created on first use (Prometheus forbids registering a name twice)."""
    global _metrics
    if _metrics is None:
        _metrics = ServerMetrics(
            requests=Counter("cardpipe_server_requests_total", "Answers of both protocols, by code and encoding",
                             ["code", "encoding"]),
            latency=Histogram("cardpipe_server_request_seconds", "Time to answer an OCR request",
                              buckets=(0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)),
            pool_busy=Gauge("cardpipe_server_pool_busy", "Recognition slots in use"),
            body_bytes=Histogram("cardpipe_server_request_bytes", "Request body sizes",
                                 buckets=(1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20, 6 << 20)),
        )
    return _metrics


def record_request(*, appid: str | None, answer_codes: list[int | str], encoding: str, status: int, latency_s: float,
                   body_bytes: int, images: int, reason: str | None) -> None:
    """Count the request and write its log line."""
    metrics = server_metrics()
    for code in answer_codes:
        metrics.requests.labels(code=str(code), encoding=encoding).inc()
    metrics.latency.observe(latency_s)
    metrics.body_bytes.observe(body_bytes)
    first_failure = next((c for c in answer_codes if c != 0), 0)
    fields: dict[str, Any] = {"appid": (appid or "-")[:64], "code": first_failure, "status": status,
              "latency_ms": round(latency_s * 1000, 1), "bytes": body_bytes, "images": images,
              "encoding": encoding}
    if len(answer_codes) > 1:
        fields["codes"] = answer_codes
    if reason:
        fields["reason"] = reason
    log.info("ocr_request", **fields)
