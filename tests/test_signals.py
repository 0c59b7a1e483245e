"""SIGINT and SIGTERM reach the stop callback on a thread of their own, never inside the interrupted code."""

from __future__ import annotations

import os
import signal
import threading
import time

from worker.signals import stop_on_signals


def test_a_signal_landing_while_the_main_thread_holds_the_lock_stop_needs_does_not_deadlock() -> None:
    # threading.Event.set takes the event's own lock: a handler calling it while the interrupted main thread
    # is inside that same Event's set or wait hangs the process for ever (a worker whose parent was killed).
    held = threading.Lock()
    calls: list[tuple[str, bool]] = []

    def stop(reason: str) -> None:
        acquired = held.acquire(timeout=3)
        calls.append((reason, acquired))
        if acquired:
            held.release()

    # `held` is let go first; then leaving stop_on_signals waits for the relay to pass on the signal
    with stop_on_signals(stop), held:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # Python runs a handler on the main thread at its next bytecode boundary
    assert calls == [("stopped by SIGTERM", True)]


def test_every_signal_received_inside_is_passed_on_before_the_block_ends_and_the_old_handlers_come_back() -> None:
    reasons: list[str] = []
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals(reasons.append):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
    assert reasons == ["stopped by SIGINT", "stopped by SIGTERM"]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_off_the_main_thread_signals_are_left_alone() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def body() -> None:
        with stop_on_signals(lambda _reason: None):
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before]
