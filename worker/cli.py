"""The ``cardpipe`` command.

Each subcommand lives in its own module under :mod:`worker.commands` and exposes ``configure(parser)`` and
``run(args) -> int``. Modules are imported only when their command runs, so ``cardpipe enqueue`` never pays
for loading the OCR models and ``cardpipe --help`` stays instant.

Output piped into a reader that stops early (``cardpipe dlq list | head``) ends the command quietly, as
``cat`` does, rather than with a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from worker.exit_codes import EXIT_BROKEN_PIPE

#: command name -> (module under worker.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "enqueue a source and process it to the end with N workers, then print a summary"),
    "enqueue": ("enqueue", "turn a folder, an S3/COS prefix or a list file into tasks on the queue"),
    "worker": ("worker", "consume tasks from the queue until stopped"),
    "recognize": ("recognize", "recognize bank-card images locally and print the API's JSON answer"),
    "serve": ("serve", "serve the bank-card API over HTTP: legacy POST /ocr/bankcard and API 3.0 POST /"),
    "sign": ("sign", "print a signed Authorization header (legacy, or API 3.0 with --v3) for calling the API by hand"),
    "dlq": ("dlq", "list, filter and redrive dead letters"),
    "show": ("show", "print the outcome of one image, by location or task id prefix"),
    "runs": ("runs", "list the runs recorded in the outcome store, with their counts"),
    "export": ("export", "export outcomes as a table: CSV, JSON lines or Parquet"),
}


def _load(module_name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"worker.commands.{module_name}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="cardpipe", description="Bank-card OCR at batch scale.")
    parser.add_argument("--config", default=None,
                        help="path to pipeline.yaml (default: ./pipeline.yaml when present, else built-in defaults)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--log-format", default="auto", choices=("auto", "console", "json"),
                        help="log lines on stderr: console (readable), json (one object per line), "
                             "auto (console on a terminal, json otherwise; the default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = next((a for a in args_list if a in COMMANDS), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            _load(module_name).configure(command_parser)
    args = parser.parse_args(args_list)
    from worker.observability import configure_logging

    configure_logging(args.log_level, log_format=args.log_format)
    module = _load(COMMANDS[args.command][0])
    try:
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, rather than at interpreter exit
        return code
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
