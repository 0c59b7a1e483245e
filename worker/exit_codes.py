"""The exit codes of every cardpipe command, defined once (README, "Exit codes").

Why one module: a supervisor reads its children's codes, and a shell script or an orchestrator reads ours; a
number must mean the same thing whichever command or module returns it, which holds only when no module keeps
a copy of its own.
"""

from __future__ import annotations

#: Done: every image has an outcome; drained or stopped by request; every task taken by the broker.
EXIT_OK = 0
#: Part of the work is left: images without an outcome yet, a worker process killed. Run the command again.
EXIT_INCOMPLETE = 1
#: A reading or maintenance command failed part way or found nothing (``enqueue``, ``dlq``, ``show``, ...).
EXIT_FAILED = 1
#: Bad configuration, arguments or source: nothing was done.
EXIT_CONFIG = 2
#: The upstream refused our credentials or configuration, or the outcome store is unusable; tasks stay queued.
EXIT_HALTED = 3
#: The broker is unreachable, refuses our login, or refused tasks on enqueue; tasks stay queued.
EXIT_BROKER_DOWN = 4
#: The upstream's circuit stayed open past ``worker.outage_exit_s`` (``--until-empty``); tasks stay queued.
EXIT_OUTAGE = 5
#: The shared rate limiter's Redis stayed unreachable; no call was made meanwhile.
EXIT_LIMITER_DOWN = 6
#: ``run``: the source holds no images.
EXIT_NO_IMAGES = 7
#: Stopped by SIGINT/SIGTERM after in-flight work finished.
EXIT_STOPPED = 130
#: Our stdout was closed by its reader (``cardpipe ... | head``): 128 + SIGPIPE, as a shell reports it.
EXIT_BROKEN_PIPE = 141
