"""How hard to try: the tenacity policy for one task, and the circuit breaker shared by all tasks.

Retrying is for the transient codes only (rate limited, upstream hiccups, timeouts). The policy is composed
from tenacity's parts: stop after N attempts or before the total time would exceed the budget, wait with
exponential backoff and full jitter (``wait_random_exponential``) so that many workers do not retry in step.

A retry budget per task is not enough during a long outage: every message would burn its attempts and land in
the dead-letter queue. The :class:`CircuitBreaker` counts consecutive transient failures across tasks; once it
opens, workers wait for the cool-down before calling again, and a task whose retries run out while it is open
goes back to the queue instead of becoming a dead letter.

>>> policy = RetrySettings(max_attempts=3, initial_backoff_s=0.01)
>>> retrying = build_retrying(policy, is_retryable=lambda exc: isinstance(exc, TimeoutError))
>>> retrying.stop.__class__.__name__
'stop_any'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import tenacity

from worker.retry_settings import RetrySettings  # re-exported beside the policy built from it


def build_retrying(settings: RetrySettings, *, is_retryable: Callable[[BaseException], bool],
                   sleep: Callable[[float], None] = time.sleep,
                   before_sleep: Callable[[tenacity.RetryCallState], None] | None = None) -> tenacity.Retrying:
    """A tenacity ``Retrying`` for one task: retry what ``is_retryable`` accepts, re-raise the last error.

    Parameters:
        settings: attempts, backoff and time budget.
        is_retryable: True for exceptions worth another attempt.
        sleep: how to wait (the pipeline passes one that wakes up early on shutdown).
        before_sleep: called before each wait (logging, metrics).
    """
    kwargs: dict[str, Any] = {}
    if before_sleep is not None:
        kwargs["before_sleep"] = before_sleep
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.max_attempts) | tenacity.stop_before_delay(settings.max_elapsed_s),
        wait=tenacity.wait_random_exponential(multiplier=settings.initial_backoff_s, max=settings.max_backoff_s),
        retry=tenacity.retry_if_exception(is_retryable),
        sleep=sleep,
        reraise=True,
        **kwargs,
    )


class CircuitBreaker:
    """Consecutive transient failures across all tasks of a process; opens at a threshold, cools down, retries.

    Thread-safe: every worker thread of a process shares one breaker.

    >>> breaker = CircuitBreaker(threshold=2, cooldown_s=60)
    >>> breaker.record_failure(); breaker.record_failure(); breaker.is_open
    True
    >>> breaker.record_success(); breaker.is_open
    False
    """

    def __init__(self, threshold: int, cooldown_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._first_opened_at: float | None = None

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> CircuitBreaker:
        return cls(settings.circuit_threshold, settings.circuit_cooldown_s)

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None

    @property
    def in_outage(self) -> bool:
        """True from the moment the circuit first opens until the next success (half-open included)."""
        with self._lock:
            return self._first_opened_at is not None

    @property
    def open_for_s(self) -> float:
        """How long the circuit has been open without a success in between (0 when closed)."""
        with self._lock:
            return 0.0 if self._first_opened_at is None else self._clock() - self._first_opened_at

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._first_opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                now = self._clock()
                self._opened_at = now
                if self._first_opened_at is None:
                    self._first_opened_at = now

    def wait_until_callable(self, wait: Callable[[float], bool]) -> bool:
        """Block while the circuit is open and cooling down; False when ``wait`` says to give up (shutdown).

        ``wait(seconds)`` sleeps and returns True to stop early (``threading.Event.wait`` fits).
        """
        while True:
            with self._lock:
                if self._opened_at is None:
                    return True
                remaining = self._opened_at + self.cooldown_s - self._clock()
                if remaining <= 0:
                    # Half-open: let this caller through; a failure re-opens for another cool-down.
                    self._opened_at = None
                    self._failures = max(self._failures, self.threshold - 1)
                    return True
            if wait(min(remaining, 1.0)):
                return False
