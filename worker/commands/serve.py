"""``cardpipe serve``: run the bank-card OCR API on this machine, the legacy one (``POST /ocr/bankcard``) and
API 3.0's BankCardOCR (``POST /`` with ``X-TC-Action: BankCardOCR``).

Settings come from the ``serve:`` and ``recognizer:`` sections of pipeline.yaml (and their
``CARDPIPE_SERVE__*`` overrides); ``--host``, ``--port`` and ``--credentials-file`` override those. Credentials
come from ``CARDPIPE_CREDENTIALS`` and/or the credentials file; without any the command refuses to start and
says how to give one. The port is bound first, so a busy port fails at once (exit code 2) instead of after the
models have loaded; the recognizer is then loaded before the first request is accepted, so the first request
is as fast as the rest.

Example::

    export CARDPIPE_CREDENTIALS="1252821871:AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK:<secret key>"
    cardpipe serve --host 0.0.0.0 --port 8080
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from worker.api.errors import ConfigError
from worker.api.server.settings import CREDENTIALS_ENV, HOW_TO_GIVE_CREDENTIALS, ServeSettings, load_credentials
from worker.exit_codes import EXIT_CONFIG
from worker.observability import get_logger
from worker.recognizer.settings import RecognizerSettings

log = get_logger("serve")


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments (each overrides its ``serve:`` key in pipeline.yaml)."""
    parser.description = ("serve the bank-card OCR API over HTTP: the legacy API at POST /ocr/bankcard and API 3.0's "
                          "BankCardOCR at POST /, both signed with the same credentials")
    parser.epilog = (f"Credentials: the environment variable {CREDENTIALS_ENV}="
                     '"appid:secretid:secretkey[,appid:secretid:secretkey...]" and/or a credentials file with one '
                     '"appid:secretid:secretkey" per line (# starts a comment), named by --credentials-file or by '
                     "serve.credentials_file in pipeline.yaml. Exit codes: 0 stopped, 2 bad configuration, no "
                     "credentials, or the port cannot be bound.")
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


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; OSError (port busy, address not local, no permission) as is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    """Start the server and serve until interrupted; 2 when the configuration, credentials or port is unusable."""
    try:
        settings, recognizer_settings = _settings(args)
        credentials = load_credentials(settings)
    except (ConfigError, ValueError) as exc:
        print(f"cardpipe serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not credentials:
        print(f"cardpipe serve: no credentials. {HOW_TO_GIVE_CREDENTIALS}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        listening = bind(settings.host, settings.port)
    except OSError as exc:
        print(f"cardpipe serve: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_CONFIG

    import uvicorn

    from worker.api.server import create_app
    from worker.recognizer import get_recognizer

    with listening:
        log.info("loading_recognizer")
        recognizer = get_recognizer(recognizer_settings)
        app = create_app(settings, credentials, recognizer=recognizer)
        log.info("serving", host=settings.host, port=listening.getsockname()[1],
                 appids=len({c.appid for c in credentials}))
        config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False,
                                timeout_graceful_shutdown=10)
        uvicorn.Server(config).run(sockets=[listening])
    return 0
