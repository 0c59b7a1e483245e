"""Where each task's one outcome is kept: a local directory or an S3 / COS prefix.

>>> import tempfile
>>> store = open_outcomes(OutcomeSettings(sink=tempfile.mkdtemp()))
>>> store.exists("0" * 32)
False

``cardpipe dlq`` reads the same store: ``iter_dead_letters()``, ``read_dead_letter(id)``,
``delete_dead_letter(id)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worker.outcomes.base import DEAD_DIR, RESULTS_DIR, OutcomeKind, OutcomeStore, OutcomeStoreError
from worker.outcomes.local import LocalOutcomeStore
from worker.outcomes.s3 import S3OutcomeStore, split_s3_url

if TYPE_CHECKING:
    from worker.storage import StorageSettings

__all__ = [
    "DEAD_DIR", "RESULTS_DIR", "LocalOutcomeStore", "OutcomeKind", "OutcomeSettings", "OutcomeStore",
    "OutcomeStoreError", "S3OutcomeStore", "open_outcomes",
]


class OutcomeSettings(BaseModel):
    """The ``outcomes:`` section.

    Parameters:
        sink: a directory (``./var/outcomes``) or an ``s3://bucket/prefix`` (``cos://`` works the same; the
            S3 client comes from the ``storage.s3`` settings).
        publish_results: also publish each outcome to the results / dead-letter queues.
    """

    model_config = ConfigDict(extra="forbid")

    sink: str = Field(default="./var/outcomes", min_length=1)
    publish_results: bool = False

    @field_validator("sink")
    @classmethod
    def _sink_is_a_directory_or_s3(cls, value: str) -> str:
        scheme, sep, _ = value.partition("://")
        if sep and scheme not in {"s3", "cos", "file"}:
            raise ValueError(f"must be a directory or an s3:// (or cos://) prefix, got {value!r}")
        if sep and scheme in {"s3", "cos"}:
            split_s3_url(value)
        return value

    @property
    def is_s3(self) -> bool:
        return self.sink.startswith(("s3://", "cos://"))


def open_outcomes(settings: OutcomeSettings, storage: StorageSettings | None = None, *,
                  client: Any = None) -> OutcomeStore:
    """The store named by ``settings.sink``; an S3 sink uses ``client`` or one built from ``storage.s3``."""
    if settings.is_s3:
        if client is None:
            from worker.storage import StorageSettings, s3_client

            client = s3_client((storage or StorageSettings()).s3)
        return S3OutcomeStore(client, settings.sink)
    sink = settings.sink.removeprefix("file://")
    return LocalOutcomeStore(sink)
