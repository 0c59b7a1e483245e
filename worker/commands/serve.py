"""``cardpipe serve``: run the legacy bank-card API (``POST /ocr/bankcard``) on this machine.

Settings come from the ``serve:`` and ``recognizer:`` sections of pipeline.yaml (and their
``CARDPIPE_SERVE__*`` overrides); ``--host``, ``--port`` and ``--credentials-file`` override those. Credentials
come from ``CARDPIPE_CREDENTIALS`` and/or the credentials file; without any the command refuses to start and
says how to give one. The recognizer is loaded before the port opens, so the first request is as fast as the
rest.

Example::

    export CARDPIPE_CREDENTIALS="1252821871:AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK:<secret key>"
    cardpipe serve --host 0.0.0.0 --port 8080
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.api.errors import ConfigError
from worker.api.server.settings import HOW_TO_GIVE_CREDENTIALS, ServeSettings, load_credentials
from worker.observability import get_logger
from worker.recognizer.settings import RecognizerSettings

log = get_logger("serve")


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments (each overrides its ``serve:`` key in pipeline.yaml)."""
    parser.add_argument("--host", default=None, help="address to listen on (default: serve.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default: serve.port, 8080)")
    parser.add_argument("--credentials-file", type=Path, default=None,
                        help='file with one "appid:secretid:secretkey" per line (default: serve.credentials_file)')


def _settings(args: argparse.Namespace) -> tuple[ServeSettings, RecognizerSettings]:
    """The ``serve`` and ``recognizer`` sections of the configuration, with the command-line overrides."""
    from worker.config import load_config

    config = load_config(args.config)
    overrides = {key: value for key, value in (("host", args.host), ("port", args.port),
                                               ("credentials_file", args.credentials_file)) if value is not None}
    serve = ServeSettings.model_validate({**config.serve.model_dump(), **overrides})
    return serve, config.recognizer


def run(args: argparse.Namespace) -> int:
    """Start the server and serve until interrupted; 2 when the configuration or credentials are missing."""
    try:
        settings, recognizer_settings = _settings(args)
        credentials = load_credentials(settings)
    except (ConfigError, ValueError) as exc:
        print(f"cardpipe serve: {exc}", file=sys.stderr)
        return 2
    if not credentials:
        print(f"cardpipe serve: no credentials. {HOW_TO_GIVE_CREDENTIALS}", file=sys.stderr)
        return 2

    import uvicorn

    from worker.api.server import create_app
    from worker.recognizer import get_recognizer

    log.info("loading_recognizer")
    recognizer = get_recognizer(recognizer_settings)
    app = create_app(settings, credentials, recognizer=recognizer)
    log.info("serving", host=settings.host, port=settings.port, appids=len({c.appid for c in credentials}))
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                server_header=False, timeout_graceful_shutdown=10)
    return 0
