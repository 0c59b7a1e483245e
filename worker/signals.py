"""SIGINT and SIGTERM as a graceful stop: the handler only takes note, a relay thread calls the stop callback.

Why not call the callback from the handler: Python runs a signal handler on the main thread between two
bytecodes, wherever that thread happens to be, possibly inside a lock the callback needs. ``threading.Event.set``
takes the event's own lock, so a handler setting an Event that the main thread was setting or waiting on at that
moment blocks on itself for ever. A worker process is exposed to exactly that: its parent-death SIGTERM may
come more than once (once per thread of a dying parent it is handed over to), so a second signal can land inside
the first one's ``Event.set``. The handler therefore only puts the signal on a ``queue.SimpleQueue``, whose
``put`` is reentrant, and a daemon thread passes it on, from outside whatever the main thread holds.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals that ask for a graceful stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: How long leaving :func:`stop_on_signals` waits for the relay to pass on the signals already received.
_RELAY_JOIN_S = 5.0


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM call ``stop("stopped by SIGTERM")`` (on a relay thread); restore after.

    Every signal received inside the block reaches ``stop`` before the block is left. Off the main thread
    (where Python cannot install handlers) the block runs with the signals left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.put(signum)  # reentrant, takes no lock: safe wherever the main thread was interrupted

    def relay() -> None:
        while (signum := received.get()) is not None:
            stop(f"stopped by {signal.Signals(signum).name}")

    relay_thread = threading.Thread(target=relay, name="cardpipe-signal-relay", daemon=True)
    relay_thread.start()
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        received.put(None)
        relay_thread.join(_RELAY_JOIN_S)
