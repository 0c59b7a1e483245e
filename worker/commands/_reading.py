"""What the reading commands (``runs``, ``show``, ``export``) share: the outcome store they read, or why not."""

from __future__ import annotations

import sys
from pathlib import Path

from worker.api.errors import CardpipeError, ConfigError
from worker.config import Settings, load_config
from worker.exit_codes import EXIT_CONFIG, EXIT_FAILED
from worker.outcomes import OutcomeStore
from worker.results.sinks import open_sink


def open_for_reading(command: str, config: str | Path | None, sink: str | None) -> tuple[Settings, OutcomeStore] | int:
    """(settings, store), or the exit code after saying why on stderr: 2 bad configuration, 1 unreadable store."""
    try:
        settings = load_config(config)
        return settings, open_sink(settings, sink)
    except ConfigError as exc:
        print(f"cardpipe {command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CardpipeError as exc:
        print(f"cardpipe {command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
