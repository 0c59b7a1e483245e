"""One module per ``cardpipe`` subcommand, each with ``configure(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse


def global_args(args: argparse.Namespace) -> list[str]:
    """The ``cardpipe`` options a child worker process is started with (``run`` and ``worker --processes``)."""
    options = ["--log-level", args.log_level, "--log-format", args.log_format]
    return [*options, "--config", str(args.config)] if args.config else options
