"""How a failure is read: its short code and reason, whether trying again may help, and the conditions that stop
the worker (:class:`HaltError`); and the retry policy's entry (:func:`call_with_retries`, :func:`retrying_for`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import tenacity

from worker.api.errors import ApiError, CardpipeError
from worker.api.legacy.codes import Disposition
from worker.exit_codes import EXIT_HALTED
from worker.metrics import metrics
from worker.observability import get_logger
from worker.ratelimit import RateLimitUnavailable
from worker.retry import RetrySettings, build_retrying
from worker.storage import FetchError

log = get_logger("pipeline")

_T = TypeVar("_T")



class HaltError(CardpipeError):
    """Stop consuming: continuing would fail every message (bad credentials, outcome store gone, no limiter).

    The message being processed is not dead-lettered and not acknowledged; it goes back to the queue.
    ``exit_code`` is the worker's exit code for this condition.
    """

    def __init__(self, code: str, reason: str, *, exit_code: int = EXIT_HALTED) -> None:
        self.code = code
        self.reason = reason
        self.exit_code = exit_code
        super().__init__(f"[{code}] {reason}")


class RateLimitTimeout(CardpipeError):
    """No token within the acquire timeout: a transient condition, retried like one."""


class Interrupted(CardpipeError):
    """Shutdown was requested during a wait: leave the task for another worker."""


def failure_code(exc: BaseException) -> str:
    """The short code recorded for a failure: API code, ``http_<status>``, fetch code, or the condition."""
    if isinstance(exc, ApiError):
        if exc.code == 0 and exc.http_status:
            return f"http_{exc.http_status}"
        return str(exc.code)
    if isinstance(exc, FetchError):
        return str(exc.code)
    if isinstance(exc, RateLimitTimeout):
        return "rate_limit"
    if isinstance(exc, RateLimitUnavailable):
        return "rate_limit_unavailable"
    return type(exc).__name__


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return exc.message
    if isinstance(exc, FetchError):
        return str(getattr(exc, "reason", exc))
    return str(exc) or type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.disposition is Disposition.RETRY
    if isinstance(exc, FetchError):
        return bool(exc.transient)
    return isinstance(exc, RateLimitTimeout | RateLimitUnavailable)


def retrying_for(settings: RetrySettings, stop_event: threading.Event, task_id: str, stage: str) -> tenacity.Retrying:
    """The retry policy for one stage of one task: transient failures retried with backoff; a shutdown request
    during a wait raises :class:`Interrupted`; each retry counted and logged."""
    def sleep(seconds: float) -> None:
        if stop_event.wait(seconds):
            raise Interrupted()

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        code = failure_code(exc) if exc else "unknown"
        metrics().retries.labels(stage=stage, code=code).inc()
        log.info("task.retry", task_id=task_id, stage=stage, code=code, attempt=state.attempt_number,
                 wait_s=round(state.upcoming_sleep, 3), reason=failure_reason(exc) if exc else "")

    return build_retrying(settings, is_retryable=is_transient, sleep=sleep, before_sleep=before_sleep)


def call_with_retries(call: Callable[[], _T], retrying: Callable[[], tenacity.Retrying]) -> _T:
    """``call()`` once; only when that fails transiently, the policy ``retrying()`` takes over from attempt 2.

    Why: building and driving a tenacity ``Retrying`` cost ~0.1 ms per stage, twice per task, on the
    path where nearly every call succeeds at once. The first failure is replayed as tenacity's first
    attempt, so attempts, backoff and logging are the policy's own (its time budget starts after the
    first call instead of before it).
    """
    try:
        return call()
    except Exception as exc:
        if not is_transient(exc):
            raise
        first_failure: Exception | None = exc
    for attempt in retrying():
        with attempt:
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return call()
    raise AssertionError("tenacity re-raises the last error")  # pragma: no cover
