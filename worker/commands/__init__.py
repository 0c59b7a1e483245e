"""One module per ``cardpipe`` subcommand, each with ``configure(parser)`` and ``run(args) -> int``."""
