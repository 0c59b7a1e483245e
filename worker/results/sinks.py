"""Opening the outcome store a reading command names: the configured sink, or one given on its command line."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from worker.api.errors import ConfigError
from worker.config import Settings
from worker.outcomes import OutcomeStore, open_outcomes


def open_sink(settings: Settings, sink: str | None = None) -> OutcomeStore:
    """``sink`` (a directory, ``s3://`` prefix or ``postgresql://`` URL) with the other outcome settings
    (card-number policy, password, S3 client) from ``settings``; the configured sink when None."""
    outcome_settings = settings.outcomes
    if sink:
        if "://" not in sink:
            sink = str(Path(sink).expanduser().resolve())
        try:
            outcome_settings = type(outcome_settings).model_validate({**outcome_settings.model_dump(), "sink": sink})
        except ValidationError as exc:
            raise ConfigError(f"{sink}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    return open_outcomes(outcome_settings, settings.storage)
