"""Where each task's one outcome is kept: a local directory, an S3 / COS prefix, or a PostgreSQL database.

The backend is chosen by the sink's URL scheme: a path (or ``file://``), ``s3://`` / ``cos://``,
``postgresql://`` / ``postgres://``.

>>> import tempfile
>>> store = open_outcomes(OutcomeSettings(sink=tempfile.mkdtemp()))
>>> store.exists("0" * 32)
False

``cardpipe dlq`` reads the same store: ``iter_dead_letters()``, ``read_dead_letter(id)``,
``delete_dead_letter(id)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from worker.outcomes.cardnumbers import CardNumberPolicy, CardNumberProtector
from worker.outcomes.errors import OutcomeStoreError
from worker.outcomes.settings import OutcomeS3Settings, OutcomeSettings, PostgresSettings

if TYPE_CHECKING:
    from worker.outcomes.base import DEAD_DIR, RESULTS_DIR, RUNS_DIR, OutcomeKind, OutcomeStore
    from worker.outcomes.local import LocalOutcomeStore
    from worker.outcomes.s3 import S3OutcomeStore
    from worker.storage import StorageSettings

__all__ = [
    "DEAD_DIR", "RESULTS_DIR", "RUNS_DIR", "CardNumberPolicy", "CardNumberProtector", "LocalOutcomeStore",
    "OutcomeKind", "OutcomeS3Settings", "OutcomeSettings", "OutcomeStore", "OutcomeStoreError", "PostgresSettings",
    "S3OutcomeStore", "open_outcomes",
]

def open_outcomes(settings: OutcomeSettings, storage: StorageSettings | None = None, *,
                  client: Any = None) -> OutcomeStore:
    """The store named by ``settings.sink``; an S3 sink uses ``client`` or one built from ``storage.s3``."""
    store: OutcomeStore
    if settings.is_s3:
        if client is None:
            from worker.storage import StorageSettings, s3_client

            client = s3_client((storage or StorageSettings()).s3)
        from worker.outcomes.s3 import S3OutcomeStore  # botocore only for those who use it

        store = S3OutcomeStore(client, settings.sink, sse=settings.s3.sse, kms_key_id=settings.s3.kms_key_id)
    elif settings.is_postgres:
        from worker.outcomes.postgres import PostgresOutcomeStore  # psycopg only for those who use it

        password = settings.password.get_secret_value() if settings.password else None
        store = PostgresOutcomeStore(settings.sink, password=password, pool_size=settings.postgres.pool_size,
                                     timeout_s=settings.postgres.timeout_s)
    else:
        from worker.outcomes.local import LocalOutcomeStore

        store = LocalOutcomeStore(settings.sink.removeprefix("file://"))
    store.card_numbers = settings.protector()
    store.run_id = settings.run_id
    return store


#: Names this package hands out on first use, and their modules. The store contract pulls in the task models
#: (:mod:`worker.tasks`) and S3 pulls in botocore: :mod:`worker.config` imports the settings of this package,
#: and reading the configuration (every command, ``cardpipe recognize`` among them) needs neither.
_LAZY = {
    "DEAD_DIR": "base", "RESULTS_DIR": "base", "RUNS_DIR": "base", "OutcomeKind": "base", "OutcomeStore": "base",
    "LocalOutcomeStore": "local", "S3OutcomeStore": "s3",
}


def __getattr__(name: str) -> Any:
    """A name of :data:`_LAZY`, imported from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
