"""The ``retry:`` section's settings, apart from the tenacity policy and the circuit breaker that use them.

Why a module of its own: :mod:`worker.config` builds every section at start-up, also for commands that never
retry a call (``cardpipe recognize``, ``cardpipe show``); keeping the model here means reading the
configuration does not import tenacity. :mod:`worker.retry` still exports it.

>>> RetrySettings(max_attempts=3).max_backoff_s
30.0
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetrySettings(BaseModel):
    """The ``retry:`` section.

    Parameters:
        max_attempts: calls per task, the first included (every attempt takes a rate-limit token).
        initial_backoff_s: scale of the first backoff; the wait before retry n is random in
            [0, min(max_backoff_s, initial_backoff_s * 2**n)].
        max_backoff_s: the longest single wait.
        max_elapsed_s: no new attempt starts once this much time has passed since the first.
        circuit_threshold: consecutive transient failures (across tasks) that open the circuit.
        circuit_cooldown_s: how long an open circuit pauses calls before letting one through.
    """

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_backoff_s: float = Field(default=0.5, gt=0)
    max_backoff_s: float = Field(default=30.0, gt=0)
    max_elapsed_s: float = Field(default=300.0, gt=0)
    circuit_threshold: int = Field(default=20, ge=1)
    circuit_cooldown_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _backoff_bounds_are_ordered(self) -> RetrySettings:
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError(f"max_backoff_s ({self.max_backoff_s}) must be >= initial_backoff_s "
                             f"({self.initial_backoff_s})")
        return self
