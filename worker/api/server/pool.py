"""A bounded pool of recognition slots that says "busy" instead of queueing without bound.

Recognition is CPU-bound: running more at once than there are cores only makes every request slower, and an
unbounded queue turns a burst into minutes of latency and a growing heap. So a request gets a slot within
``queue_timeout_s`` or is answered code 15 (操作太频繁) at once, which a client retries with backoff.
Each slot runs its work in a worker thread from a limiter of the same size, so the event loop stays free to
accept, authenticate and refuse other requests while recognitions run.

>>> pool = RecognitionPool(size=2, queue_timeout_s=0.05)        # doctest: +SKIP
>>> async with pool.slot():                                      # doctest: +SKIP
...     answer = await pool.run(recognizer.recognize, image)    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from worker.api.errors import ApiError
from worker.api.legacy import codes

P = ParamSpec("P")
T = TypeVar("T")


class RecognitionPool:
    """``size`` concurrent recognitions; a request waits at most ``queue_timeout_s`` for one of them.

    Parameters:
        size: slots, normally the number of CPU cores.
        queue_timeout_s: the longest wait for a free slot before code 15.

    Create it inside the event loop that uses it (the server does so at start-up).
    """

    def __init__(self, size: int, queue_timeout_s: float) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one slot, got {size}")
        self.size = size
        self._queue_timeout_s = queue_timeout_s
        self._slots = anyio.Semaphore(size)
        self._threads = anyio.CapacityLimiter(size)

    @property
    def busy(self) -> int:
        """Slots held right now."""
        return self.size - self._slots.value

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the ``async with``; raise :class:`ApiError` 15 when none frees in time."""
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            acquired = False
            with anyio.move_on_after(self._queue_timeout_s):
                await self._slots.acquire()
                acquired = True
            if not acquired:
                raise ApiError(codes.RATE_LIMITED,
                               f"all {self.size} recognition slots are busy; retry later") from None
        try:
            yield
        finally:
            self._slots.release()

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``function`` in a worker thread. A cancelled request still waits for the thread to finish, so
        the slot is never released while its recognition still uses a core."""
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs), limiter=self._threads)
