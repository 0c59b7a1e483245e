"""The ``outcomes:`` section's settings, apart from the stores that use them.

Why a module of its own: :mod:`worker.config` builds every section at start-up; keeping the models here means
reading the configuration does not import botocore or psycopg.

>>> OutcomeSettings(sink="s3://outcomes/run-1").is_s3
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from worker.outcomes.cardnumbers import CardNumberPolicy, CardNumberProtector
from worker.outcomes.errors import split_s3_url

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class OutcomeS3Settings(BaseModel):
    """``outcomes.s3``: how outcome objects are written to an S3 sink.

    Parameters:
        sse: server-side encryption asked for on every object: ``AES256`` (S3-managed keys) or ``aws:kms``.
        kms_key_id: the KMS key (id, ARN or ``alias/...``) for ``aws:kms``; the bucket's default key when unset.
    """

    model_config = ConfigDict(extra="forbid")

    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None


class PostgresSettings(BaseModel):
    """``outcomes.postgres``: the connection pool of a ``postgresql://`` sink."""

    model_config = ConfigDict(extra="forbid")

    pool_size: int = Field(default=8, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)


class OutcomeSettings(BaseModel):
    """The ``outcomes:`` section.

    Parameters:
        sink: a directory (``./var/outcomes``), an ``s3://bucket/prefix`` (``cos://`` works the same; the
            S3 client comes from the ``storage.s3`` settings) or ``postgresql://user@host:5432/db``.
        publish_results: also publish each outcome to the results / dead-letter queues.
        card_number: how card numbers are kept at rest: ``full``, ``masked`` (first 6, last 4) or ``hmac``
            (masked, plus HMAC-SHA256 under ``card_number_key``).
        card_number_key: the HMAC key; a secret, so only from the environment or ``card_number_key_file``.
        password: the Postgres password (environment or ``password_file``), rather than in the URL.
        s3: server-side encryption for an S3 sink.
        postgres: pool settings for a Postgres sink.
        run_id: recorded in every outcome this process writes; ``cardpipe run`` sets it for its workers, and
            a long-running ``cardpipe worker`` may be given one to label its outcomes.
    """

    model_config = ConfigDict(extra="forbid")

    sink: str = Field(default="./var/outcomes", min_length=1)
    publish_results: bool = False
    card_number: CardNumberPolicy = CardNumberPolicy.FULL
    card_number_key: SecretStr | None = None
    password: SecretStr | None = None
    s3: OutcomeS3Settings = Field(default_factory=OutcomeS3Settings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    run_id: str | None = Field(default=None, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,79}$")

    @field_validator("sink")
    @classmethod
    def _sink_is_known(cls, value: str) -> str:
        scheme, sep, _ = value.partition("://")
        if sep and scheme.lower() not in {"s3", "cos", "file", "postgresql", "postgres"}:
            raise ValueError(f"must be a directory, an s3:// (or cos://) prefix or a postgresql:// URL, got {value!r}")
        if sep and scheme in {"s3", "cos"}:
            split_s3_url(value)
        return value

    @model_validator(mode="after")
    def _hmac_has_a_key(self) -> OutcomeSettings:
        if self.card_number is CardNumberPolicy.HMAC:
            key = self.card_number_key.get_secret_value() if self.card_number_key else ""
            if len(key.encode("utf-8")) < 16:
                raise ValueError("card_number: hmac needs card_number_key of 16 bytes or more (set "
                                 "CARDPIPE_OUTCOMES__CARD_NUMBER_KEY or outcomes.card_number_key_file)")
        return self

    @property
    def is_s3(self) -> bool:
        return self.sink.startswith(("s3://", "cos://"))

    @property
    def is_postgres(self) -> bool:
        return self.sink.lower().startswith(_POSTGRES_SCHEMES)

    @property
    def is_local(self) -> bool:
        return not (self.is_s3 or self.is_postgres)

    def protector(self, policy: CardNumberPolicy | str | None = None) -> CardNumberProtector:
        """The card-number protection of these settings (or of ``policy``, with the same key)."""
        key = self.card_number_key.get_secret_value().encode("utf-8") if self.card_number_key else None
        return CardNumberProtector(policy or self.card_number, key=key)
