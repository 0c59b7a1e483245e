"""One message, end to end: the pipeline core, with no knowledge of queues or transports.

``process(task)``: outcome already stored? -> skipped (no paid call). Otherwise fetch the image, then for each
attempt take a rate-limit token and call the upstream; transient codes are retried with backoff (tenacity),
permanent codes become dead letters, auth/config codes (4-14) raise :class:`HaltError` because every later
message would fail the same way. A result or dead letter is written once, then the caller may ack.

``process_message(body)`` is what a queue consumer calls: it never raises for bad input (a malformed body
becomes a dead letter keyed by a hash of the body), only :class:`HaltError` for conditions that must stop the
worker, with the message left unacknowledged.

By concern: :mod:`worker.pipeline.messages` (what a message asks for), :mod:`worker.pipeline.failures` (how a
failure is classified, the halting conditions, the retry policy), :mod:`worker.pipeline.reporting` (each
task's outcome, counted and logged), :mod:`worker.pipeline.core` (the flow).

>>> pipeline = Pipeline(storage, upstream, limiter, outcomes, RetrySettings(), worker_id="host:1")  # doctest: +SKIP
>>> pipeline.process(Task.for_location("/data/cards/a.jpg")).status  # doctest: +SKIP
<OutcomeStatus.OK: 'ok'>
"""

from worker.exit_codes import EXIT_HALTED, EXIT_LIMITER_DOWN
from worker.pipeline.core import Fetched, Pipeline, RateLimiter, Storage, Upstream
from worker.pipeline.failures import HaltError
from worker.pipeline.messages import MAX_MESSAGE_BYTES, has_outcome, read_message
from worker.pipeline.reporting import Outcome, OutcomeStatus

__all__ = ["EXIT_HALTED", "EXIT_LIMITER_DOWN", "MAX_MESSAGE_BYTES", "Fetched", "HaltError", "Outcome", "OutcomeStatus",
           "Pipeline", "RateLimiter", "Storage", "Upstream", "has_outcome", "read_message"]
