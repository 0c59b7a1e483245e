"""The ``worker:`` section's settings, apart from the consumer that uses them.

Why a module of its own: :mod:`worker.config` builds every section at start-up, also for commands that never
consume a queue; keeping the model here means reading the configuration does not import kombu.

>>> WorkerSettings(concurrency=8).prefetch_multiplier
2
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkerSettings(BaseModel):
    """The ``worker:`` section.

    Parameters:
        concurrency: threads calling the pipeline at once in one process.
        prefetch_multiplier: unacked messages per thread when ``queue.prefetch`` is not set.
        idle_exit_s: with ``--until-empty``, stop once the queue has been empty and idle this long.
        outage_exit_s: with ``--until-empty``, give up when the upstream circuit stays open this long.
        reconnect_attempts: connection attempts in one broker outage before giving up (0: only
            ``queue.unreachable_exit_s`` bounds them).
        shutdown_grace_s: on SIGINT/SIGTERM, how long to let in-flight tasks finish.
        metrics_port: serve Prometheus metrics of the whole worker on this port (None or 0: no endpoint).
    """

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(default=4, ge=1, le=256)
    prefetch_multiplier: int = Field(default=2, ge=1, le=100)
    idle_exit_s: float = Field(default=1.0, ge=0)
    outage_exit_s: float = Field(default=600.0, gt=0)
    reconnect_attempts: int = Field(default=0, ge=0)
    shutdown_grace_s: float = Field(default=60.0, ge=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
