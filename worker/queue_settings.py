"""The ``queue:`` section's settings, apart from the kombu code that uses them.

Why a module of its own: :mod:`worker.config` builds every section at start-up, also for commands that never
touch a broker (``cardpipe recognize``, ``cardpipe show``); keeping the model here means reading the
configuration does not import kombu and its transports.

>>> QueueSettings(url="amqp://guest:guest@127.0.0.1:5672//").is_amqp
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: URL schemes kombu understands that cardpipe is tested with.
SUPPORTED_SCHEMES = ("sqla+sqlite", "sqla+postgresql", "sqla+mysql", "amqp", "amqps", "pyamqp", "redis", "rediss",
                     "sqs", "memory")


class QueueSettings(BaseModel):
    """The ``queue:`` section.

    Parameters:
        url: kombu broker URL: ``sqla+sqlite:///var/queue.sqlite`` (embedded, relative to pipeline.yaml),
            ``amqp://user:pass@host:5672//``, ``redis://host:6379/0``, ``sqs://`` (credentials from the
            environment).
        tasks, results, dead_letters: queue names.
        prefetch: unacknowledged messages per worker process; default 2 x concurrency.
        transport_options: passed to kombu as is (e.g. SQS ``region``, ``predefined_queues``).
        heartbeat_s: AMQP heartbeat; the drain loop checks it about once a second.
        quorum, delivery_limit: RabbitMQ only: a quorum task queue whose messages go to the ``backstop``
            queue after ``delivery_limit`` deliveries (``cardpipe dlq`` turns them into dead letters).
        backstop: the queue the broker dead-letters into; declared with the task queue.
        unreachable_exit_s: how long a command keeps trying to reach the broker before it exits 4.
        confirm_publish: RabbitMQ: wait for the broker's publisher confirms, so no task is dropped silently.
        confirm_batch: tasks published between two waits for confirms (one round trip per batch).
    """

    model_config = ConfigDict(extra="forbid")

    url: str = "sqla+sqlite:///var/queue.sqlite"
    tasks: str = Field(default="cardpipe-tasks", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    results: str = Field(default="cardpipe-results", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    dead_letters: str = Field(default="cardpipe-dead", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    prefetch: int | None = Field(default=None, ge=1, le=10_000)
    transport_options: dict[str, Any] = Field(default_factory=dict)
    heartbeat_s: float = Field(default=30.0, ge=0)
    quorum: bool = False
    delivery_limit: int = Field(default=20, ge=1)
    backstop: str = Field(default="cardpipe-backstop", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    unreachable_exit_s: float = Field(default=30.0, gt=0)
    confirm_publish: bool = True
    confirm_batch: int = Field(default=500, ge=1, le=100_000)

    @field_validator("url")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        scheme = value.partition("://")[0]
        if scheme not in SUPPORTED_SCHEMES:
            raise ValueError(f"unsupported queue URL scheme {scheme!r}; use one of {', '.join(SUPPORTED_SCHEMES)}")
        return value

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0]

    @property
    def is_embedded(self) -> bool:
        """True for the SQLite transport: loses unacked messages on a crash, so ``run`` reconciles."""
        return self.scheme == "sqla+sqlite"

    @property
    def is_amqp(self) -> bool:
        return self.scheme in {"amqp", "amqps", "pyamqp"}

    def sqlite_path(self) -> Path | None:
        """The database file of the embedded transport (None for other transports or in-memory SQLite)."""
        if not self.is_embedded:
            return None
        path = self.url.removeprefix("sqla+sqlite:///")
        return Path(path) if path and path != ":memory:" else None
