"""Logging and metrics, with card numbers masked on the way out.

A card number is the product in a result and a liability everywhere else. Rather than trusting every call
site, the log pipeline ends with a processor that masks any 13–19 digit run (also with spaces or dashes
between groups) in every event value, so a number that slips into an error message is still masked.

>>> mask_card_number("6225760000000000")
'622576******0000'
>>> mask_digits_in_text("card 6225 7600 0000 0000 failed")
'card 622576******0000 failed'
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

_CARD_RUN = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")


def mask_card_number(number: str) -> str:
    """Keep the first 6 and last 4 digits, star the rest; short values are starred whole."""
    digits = re.sub(r"[^0-9]", "", number)
    if len(digits) < 13:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_digits_in_text(text: str) -> str:
    """Mask every card-number-like run of digits inside free text."""
    return _CARD_RUN.sub(lambda m: mask_card_number(m.group(0)), text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_digits_in_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v) for v in value)
    if isinstance(value, BaseException):
        return mask_digits_in_text(f"{type(value).__name__}: {value}")
    return value


def mask_card_numbers(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask card numbers in every value of the event."""
    return {key: _mask_value(value) for key, value in event_dict.items()}


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Set up structlog for the process: JSON lines when not on a terminal, readable ones when on one.

    Logs go to stderr so that commands which print results on stdout stay machine-readable.
    """
    use_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if use_json else \
        structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_card_numbers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None, **bound: Any) -> Any:
    """A structlog logger bound to ``component=name``."""
    if name:
        bound = {"component": name, **bound}
    # A lazy proxy: a module-level logger made before configure_logging() still follows the configuration.
    return structlog.get_logger(**bound)


class Metrics:
    """The Prometheus metrics cardpipe exports. Labels never carry card data, only codes and outcomes."""

    def __init__(self) -> None:
        self.tasks = Counter("cardpipe_tasks_total", "Tasks finished, by outcome", ["outcome"])
        self.dead_letters = Counter("cardpipe_dead_letters_total", "Dead letters, by code", ["code"])
        self.api_calls = Counter("cardpipe_api_calls_total", "Upstream calls, by code", ["code"])
        self.retries = Counter("cardpipe_retries_total", "Upstream retries, by code", ["code"])
        self.latency = Histogram(
            "cardpipe_api_latency_seconds", "Upstream call latency",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
        )
        self.limiter_wait = Histogram(
            "cardpipe_limiter_wait_seconds", "Time spent waiting for a rate-limit token",
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
        )
        self.in_flight = Gauge("cardpipe_in_flight", "Tasks being processed now")


_metrics: Metrics | None = None


def metrics() -> Metrics:
    """The process-wide metrics, created on first use (Prometheus forbids registering a name twice)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics
