"""The flow of one task: outcome already stored? -> skipped; else fetch, rate-limit token, upstream call with the
retry policy, and one result or dead letter written (see the package docstring).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import tenacity

from worker.api.errors import ApiError
from worker.api.legacy.codes import Disposition
from worker.api.legacy.schema import BankCardResponse
from worker.exit_codes import EXIT_LIMITER_DOWN
from worker.metrics import metrics
from worker.observability import get_logger, mask_digits_in_text, public_text
from worker.outcomes import OutcomeStore, OutcomeStoreError
from worker.pipeline.failures import (
    HaltError,
    Interrupted,
    RateLimitTimeout,
    call_with_retries,
    failure_code,
    failure_reason,
    is_transient,
    retrying_for,
)
from worker.pipeline.messages import body_bytes, read_message
from worker.pipeline.reporting import Outcome, OutcomeStatus, report
from worker.ratelimit import RateLimitUnavailable
from worker.retry import CircuitBreaker, RetrySettings
from worker.storage import FetchError
from worker.tasks import (
    BAD_MESSAGE,
    INTERNAL_ERROR,
    REASON_CHARS,
    RETRIES_EXHAUSTED,
    BadMessage,
    DeadLetter,
    Result,
    Task,
    body_id,
    message_excerpt,
    utc_now,
)

log = get_logger("pipeline")

_T = TypeVar("_T")


class _Since:
    """When a condition started, shared by every thread of a process (None while it does not hold)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None

    def holds(self) -> float:
        """Mark the condition as holding; returns for how long it has held."""
        with self._lock:
            now = time.monotonic()
            if self._since is None:
                self._since = now
            return now - self._since

    def cleared(self) -> None:
        with self._lock:
            self._since = None


class Fetched(Protocol):
    data: bytes


class Storage(Protocol):
    def fetch(self, location: str) -> Fetched: ...


class Upstream(Protocol):
    def recognize(self, image: bytes | None = None, *, url: str | None = None) -> BankCardResponse: ...


class RateLimiter(Protocol):
    def acquire(self, timeout: float | None = None) -> bool: ...


@dataclass
class _Attempts:
    """Counts for one task: fetches, and upstream calls (each of which took a rate-limit token)."""

    fetches: int = 0
    calls: int = 0
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None

    def begin_fetch(self) -> None:
        self.fetches += 1
        self._stamp()

    def begin_call(self) -> None:
        self.calls += 1
        self._stamp()

    def _stamp(self) -> None:
        now = utc_now()
        self.first_at = self.first_at or now
        self.last_at = now

    @property
    def count(self) -> int:
        """Upstream calls made; fetch attempts when it never got that far."""
        return self.calls or self.fetches


class Pipeline:
    """The flow of one task, shared by every worker thread of a process (it holds no per-task state).

    Parameters:
        storage: fetches image bytes for a location (``worker.storage``).
        upstream: answers the bank-card API for an image (``worker.upstreams``).
        limiter: a token per upstream call (``worker.ratelimit``).
        outcomes: where results and dead letters are written once (``worker.outcomes``).
        retry_settings: attempts, backoff, time budget and circuit breaker for transient failures.
        worker_id: recorded in every outcome (e.g. ``host:pid``).
        breaker: shared circuit breaker; one is made from ``retry_settings`` when omitted.
        stop_event: set on shutdown; waits (backoff, open circuit) end early and the task is requeued.
        acquire_timeout_s: longest wait for one rate-limit token before the attempt counts as transient.
        limiter_unreachable_exit_s: how long the shared limiter may stay unreachable (tasks wait, no call is
            made) before the worker halts with :data:`EXIT_LIMITER_DOWN`.
        on_outcome: called with each per-task outcome (progress bars, counters).
    """

    def __init__(self, storage: Storage, upstream: Upstream, limiter: RateLimiter, outcomes: OutcomeStore,
                 retry_settings: RetrySettings, worker_id: str, *, breaker: CircuitBreaker | None = None,
                 stop_event: threading.Event | None = None, acquire_timeout_s: float | None = 60.0,
                 limiter_unreachable_exit_s: float = 30.0,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self.storage = storage
        self.upstream = upstream
        self.limiter = limiter
        self.outcomes = outcomes
        self.retry_settings = retry_settings
        self.worker_id = worker_id
        self.breaker = breaker or CircuitBreaker.from_settings(retry_settings)
        self.stop_event = stop_event or threading.Event()
        self.acquire_timeout_s = acquire_timeout_s
        self.limiter_unreachable_exit_s = limiter_unreachable_exit_s
        self.on_outcome = on_outcome
        self._limiter_down = _Since()

    # --- entry points -----------------------------------------------------------------------------------------

    def process_message(self, body: bytes | str | dict[str, Any]) -> Outcome:
        """Process one queue message: a Task, or an S3/COS event naming new objects.

        Never raises for the message's sake: one that is not a task in any way is a ``bad_message`` dead
        letter, and an unexpected exception while processing it is its ``internal_error`` dead letter. Only
        :class:`HaltError` (a condition every message would hit) comes out.
        """
        raw_bytes = body_bytes(body)
        try:
            tasks = self._read_message(body, raw_bytes)
        except BadMessage as exc:
            return self._bad_message(raw_bytes, str(exc))
        except Exception as exc:  # a shape the parser did not foresee is still the message's fault
            return self._bad_message(raw_bytes, f"unreadable message: {type(exc).__name__}: {exc}")
        try:
            if tasks is None:
                return self._report(Outcome(OutcomeStatus.IGNORED, reason="the event names no new object"))
            return Outcome.combine([self.process(task) for task in tasks])
        except HaltError:
            raise
        except Exception as exc:
            return self.internal_error(body, exc)

    def _read_message(self, body: bytes | str | dict[str, Any], raw_bytes: bytes) -> list[Task] | None:
        return read_message(body, raw_bytes)

    def internal_error(self, body: bytes | str | dict[str, Any], exc: BaseException) -> Outcome:
        """The ``internal_error`` dead letter of a message whose processing raised ``exc`` unexpectedly.

        A bug met by one message must not stop the worker (the message would come back and stop the next
        one too); the dead letter keeps the exception's type and message (masked) for whoever fixes it.
        """
        log.exception("task.internal_error", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        reason = f"{type(exc).__name__}: {exc}"
        raw_bytes = body_bytes(body)
        try:
            tasks = self._read_message(body, raw_bytes)
        except Exception:
            tasks = None
        try:
            if tasks and len(tasks) == 1:
                return self._report(self._dead(tasks[0], INTERNAL_ERROR, reason, _Attempts()))
            return self._unreadable(raw_bytes, INTERNAL_ERROR, reason)
        except OutcomeStoreError as store_exc:
            raise HaltError("outcome_store", f"the outcome store is unusable: {store_exc}") from store_exc

    def process(self, task: Task) -> Outcome:
        """Take ``task`` to its one outcome (or raise :class:`HaltError`); see the module docstring."""
        try:
            if self.outcomes.exists(task.id):
                return self._report(Outcome(OutcomeStatus.SKIPPED, task.id, location=task.location,
                                            reason="outcome already stored"))
            return self._report(self._process_new(task))
        except OutcomeStoreError as exc:
            raise HaltError("outcome_store", f"the outcome store is unusable: {exc}") from exc

    # --- the flow ---------------------------------------------------------------------------------------------

    def _process_new(self, task: Task) -> Outcome:
        started = utc_now()
        clock = time.monotonic()
        attempts = _Attempts()
        metrics().in_flight.inc()
        try:
            try:
                if self._sends_url(task):
                    response = self._recognize(task, None, attempts, url=task.location)
                else:
                    response = self._recognize(task, self._fetch(task, attempts), attempts)
            except Interrupted:
                return Outcome(OutcomeStatus.REQUEUE, task.id, location=task.location,
                               reason="shutting down", attempts=attempts.count)
            except HaltError:
                raise
            except Exception as exc:  # every failure below ends as one dead letter (or a requeue)
                return self._failed(task, exc, attempts)
        finally:
            metrics().in_flight.dec()
        result = Result(task=task, response=response.to_wire(), attempts=attempts.count, started_at=started,
                        finished_at=utc_now(), duration_s=round(time.monotonic() - clock, 6), worker=self.worker_id)
        if not self.outcomes.write_result(result):
            return Outcome(OutcomeStatus.SKIPPED, task.id, location=task.location,
                           reason="another worker stored the outcome first",
                           attempts=attempts.count)
        return Outcome(OutcomeStatus.OK, task.id, location=task.location, code="0", attempts=attempts.count)

    def _retrying(self, task: Task, stage: str) -> tenacity.Retrying:
        return retrying_for(self.retry_settings, self.stop_event, task.id, stage)

    def _fetch(self, task: Task, attempts: _Attempts) -> bytes:
        def fetch_once() -> bytes:
            attempts.begin_fetch()
            return self.storage.fetch(task.location).data

        return self._with_retries(task, "fetch", fetch_once)

    def _with_retries(self, task: Task, stage: str, call: Callable[[], _T]) -> _T:
        """``call()`` once, the retry policy only after a transient failure (see :func:`call_with_retries`)."""
        return call_with_retries(call, lambda: self._retrying(task, stage))

    def _sends_url(self, task: Task) -> bool:
        """Public http(s) images go to an upstream that fetches URLs itself (no download and re-upload here)."""
        return task.location.lower().startswith(("http://", "https://")) and \
            bool(getattr(self.upstream, "accepts_urls", False))

    def _recognize(self, task: Task, image: bytes | None, attempts: _Attempts, *,
                   url: str | None = None) -> BankCardResponse:
        return self._with_retries(task, "recognize", lambda: self._call_once(image, attempts, url=url))

    def _call_once(self, image: bytes | None, attempts: _Attempts, *, url: str | None = None) -> BankCardResponse:
        if not self.breaker.wait_until_callable(self.stop_event.wait):
            raise Interrupted()
        waited = time.monotonic()
        granted = self._acquire()
        if not granted:
            raise RateLimitTimeout(f"no rate-limit token within {self.acquire_timeout_s} s")
        metrics().limiter_wait.observe(time.monotonic() - waited)
        attempts.begin_call()
        called = time.monotonic()
        try:
            response = self.upstream.recognize(image=image) if url is None else self.upstream.recognize(url=url)
        except ApiError as exc:
            metrics().upstream_calls.labels(code=failure_code(exc)).inc()
            disposition = exc.disposition
            if disposition is Disposition.HALT:
                raise HaltError(str(exc.code), f"the upstream refused our credentials or configuration: "
                                               f"{mask_digits_in_text(exc.message)}") from exc
            if disposition is Disposition.RETRY:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            raise
        finally:
            metrics().upstream_latency.observe(time.monotonic() - called)
            metrics().circuit_open.set(self.breaker.in_outage)
        metrics().upstream_calls.labels(code="0").inc()
        self.breaker.record_success()
        metrics().circuit_open.set(0)
        metrics().last_success.set_to_current_time()
        return response

    def _acquire(self) -> bool:
        """A rate-limit token; while the shared limiter is unreachable, wait (no call: fail closed).

        The limiter is not the upstream: its failures never touch the circuit breaker. After
        ``limiter_unreachable_exit_s`` without it the worker halts (:data:`EXIT_LIMITER_DOWN`), since every
        message would wait the same way; a shutdown request ends the wait at once.
        """
        while True:
            try:
                granted = self.limiter.acquire(timeout=self.acquire_timeout_s)
            except RateLimitUnavailable as exc:
                down_for = self._limiter_down.holds()
                if down_for >= self.limiter_unreachable_exit_s:
                    raise HaltError("rate_limiter_unreachable", str(exc), exit_code=EXIT_LIMITER_DOWN) from exc
                (log.warning if down_for == 0 else log.debug)(
                    "limiter.unreachable", error=str(exc), halts_after_s=self.limiter_unreachable_exit_s)
                if self.stop_event.wait(min(1.0, self.limiter_unreachable_exit_s - down_for)):
                    raise Interrupted() from exc
                continue
            self._limiter_down.cleared()
            return granted

    # --- failures ---------------------------------------------------------------------------------------------

    def _failed(self, task: Task, exc: Exception, attempts: _Attempts) -> Outcome:
        code, reason = failure_code(exc), failure_reason(exc)
        if isinstance(exc, RateLimitUnavailable | RateLimitTimeout) or (is_transient(exc) and self.breaker.in_outage):
            # An outage or our own quota, never this image's fault: put the task back rather than dead-letter it.
            log.warning("task.requeue", task_id=task.id, code=code, reason=reason,
                          circuit_open=self.breaker.in_outage)
            return Outcome(OutcomeStatus.REQUEUE, task.id, location=task.location,
                           code=code, reason=f"{reason} (returned to the queue)",
                           attempts=attempts.count)
        if is_transient(exc):
            return self._dead(task, f"{RETRIES_EXHAUSTED}:{code}",
                              f"{attempts.count} attempt(s) failed; last: {reason}", attempts)
        if isinstance(exc, ApiError | FetchError):
            return self._dead(task, code, reason, attempts)
        log.exception("task.internal_error", task_id=task.id)
        return self._dead(task, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", attempts)

    def _dead(self, task: Task, code: str, reason: str, attempts: _Attempts) -> Outcome:
        now = utc_now()
        dead_letter = DeadLetter(task_id=task.id, task=task, code=code,
                                 reason=public_text(reason, REASON_CHARS),
                                 attempts=attempts.count, first_attempt_at=attempts.first_at or now,
                                 last_attempt_at=attempts.last_at or now, worker=self.worker_id)
        if not self.outcomes.write_dead_letter(dead_letter):
            return Outcome(OutcomeStatus.SKIPPED, task.id, location=task.location,
                           reason="another worker stored the outcome first",
                           attempts=attempts.count)
        return Outcome(OutcomeStatus.DEAD, task.id, location=task.location,
                       code=code, reason=dead_letter.reason, attempts=attempts.count)

    def _bad_message(self, body: bytes, reason: str) -> Outcome:
        try:
            return self._unreadable(body, BAD_MESSAGE, reason)
        except OutcomeStoreError as exc:
            raise HaltError("outcome_store", f"the outcome store is unusable: {exc}") from exc

    def _unreadable(self, body: bytes, code: str, reason: str) -> Outcome:
        """A dead letter keyed by a hash of ``body``, keeping a bounded, masked excerpt of it."""
        task_id = body_id(body)
        if self.outcomes.exists(task_id):
            return self._report(Outcome(OutcomeStatus.SKIPPED, task_id, reason="outcome already stored"))
        now = utc_now()
        dead_letter = DeadLetter(task_id=task_id, message_excerpt=message_excerpt(body), code=code,
                                 reason=public_text(reason, REASON_CHARS), attempts=0,
                                 first_attempt_at=now, last_attempt_at=now, worker=self.worker_id)
        written = self.outcomes.write_dead_letter(dead_letter)
        status = OutcomeStatus.DEAD if written else OutcomeStatus.SKIPPED
        return self._report(Outcome(status, task_id, code=code, reason=dead_letter.reason))

    def _report(self, outcome: Outcome) -> Outcome:
        return report(outcome, self.on_outcome)

