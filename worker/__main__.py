"""``python -m worker`` is the ``cardpipe`` command."""

from worker.cli import main

raise SystemExit(main())
