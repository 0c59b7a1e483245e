"""Errors raised by rate limiters."""

from __future__ import annotations

from worker.api.errors import CardpipeError


class RateLimitUnavailable(CardpipeError):
    """The shared limiter's store cannot be reached, so no call is admitted (the limiter fails closed).

    Calling the API unmetered would spend the whole account's quota from every worker at once; pausing
    until the store is back is the cheaper failure.
    """
