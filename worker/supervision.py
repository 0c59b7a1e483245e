"""Worker processes that live and die with their parent, and never overlap the workers of another run.

Why: ``cardpipe run --processes P`` and ``cardpipe worker --processes P`` start P ``cardpipe worker`` children.
A child left running after its parent dies (``kill -9`` included) keeps calling the paid API and competes with
the resumed run for the same images. So a child is tied to its parent twice over:

* on Linux it asks the kernel for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``), then checks that
  the parent did not die before it asked;
* everywhere, it watches a pipe from the parent (its stdin): end of file means the parent is gone.

Either way the child drains like on SIGTERM: in-flight tasks finish within ``worker.shutdown_grace_s`` (their
calls are already paid for), nothing new starts, the rest goes back to the queue.

Overlap: every process consuming for a run holds a shared ``flock`` on the run's lock file; a new run takes
it exclusively before it purges or enqueues, so it waits until every worker of a killed run has finished
(the kernel releases a dead process's lock). Standalone workers on the embedded queue hold it shared too.

The children print one JSON line per settled outcome on stdout and a final ``{"report": ...}`` line; the
parent reads them on threads and combines the reports into one exit code.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import json
import os
import queue as stdlib_queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from worker.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_STOPPED
from worker.observability import get_logger

log = get_logger("supervision")

#: Set in a child's environment: the pid of the parent it must not outlive.
PARENT_PID_ENV = "CARDPIPE_PARENT_PID"
#: Set in a child's environment: the lock file the child holds shared while it works.
RUN_LOCK_ENV = "CARDPIPE_RUN_LOCK"

_PR_SET_PDEATHSIG = 1


# --- the child's side -------------------------------------------------------------------------------------------

def parent_pid() -> int | None:
    """The supervising parent's pid when this process is a supervised child, else None."""
    value = os.environ.get(PARENT_PID_ENV, "")
    return int(value) if value.isdigit() else None


def die_with_parent(on_parent_gone: Callable[[str], None]) -> None:
    """In a supervised child: stop (``on_parent_gone``) as soon as the parent process dies, by any signal.

    Asks the kernel for SIGTERM on the parent's death (Linux), re-checks the parent afterwards (it may have
    died before the request), and watches stdin, the parent's pipe, on a daemon thread.
    """
    expected = parent_pid()
    if expected is None:
        return
    _request_death_signal()
    if os.getppid() != expected:
        on_parent_gone("the parent process is gone")
        return

    def watch() -> None:
        # os.read on the descriptor, not sys.stdin: a daemon thread blocked in a buffered reader's lock
        # aborts the interpreter at exit.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        on_parent_gone("the parent process is gone")

    threading.Thread(target=watch, name="cardpipe-parent-watch", daemon=True).start()


def _request_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("supervision.pdeathsig_failed", errno=ctypes.get_errno())
    except OSError as exc:  # no libc to load: the stdin watch still ties the child to its parent
        log.warning("supervision.pdeathsig_failed", error=str(exc))


class LineWriter:
    """Writes the child's JSON lines to the parent; a closed pipe means the parent is gone, not a failure."""

    def __init__(self, on_closed: Callable[[str], None], stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._on_closed = on_closed
        self._closed = False
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._stream.write(json.dumps(record) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                self._closed = True
                self._on_closed("the parent process is gone (its pipe is closed)")


# --- not overlapping another run ------------------------------------------------------------------------------

class RunLock:
    """An ``flock`` on a file: exclusive while a run purges and enqueues, shared while workers consume.

    The kernel drops a process's lock when it dies, however it dies, so a lock is never stale.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def acquire_exclusive(self, *, timeout_s: float, stop: threading.Event | None = None) -> bool:
        """Wait until no other process holds the lock, then hold it alone; False on timeout or stop."""
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            if self.try_exclusive():
                return True
            if not told:
                log.warning("run.waiting_for_workers", lock=str(self.path),
                            note="workers of an earlier run are still finishing their tasks")
                told = True
            if time.monotonic() >= deadline or (stop is not None and stop.wait(0.2)):
                return False
            if stop is None:
                time.sleep(0.2)

    def try_exclusive(self) -> bool:
        """Hold the lock alone when no other process holds it, without waiting; False when one does."""
        try:
            fcntl.flock(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def share(self) -> None:
        """Hold the lock shared (a consumer), downgrading an exclusive hold; blocks while a run holds it alone."""
        fcntl.flock(self._open(), fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# --- the parent's side ------------------------------------------------------------------------------------------

@dataclass
class ChildrenReport:
    """What the children did together: per-child exit codes and their final reports."""

    codes: list[int] = field(default_factory=list)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    stopping: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self._first_failure()[1]

    @property
    def reason(self) -> str:
        index, code = self._first_failure()
        if code == EXIT_OK:
            return ""
        raw = self.codes[index]
        how = f"was killed by {signal.Signals(-raw).name}" if raw < 0 else f"exited with {raw}"
        return self.reports.get(index, {}).get("reason") or (self.stopping[0] if self.stopping else
                                                             f"a worker process {how}")

    def _first_failure(self) -> tuple[int, int]:
        failed = [(i, code) for i, code in enumerate(self.codes) if code != EXIT_OK]
        if not failed:
            return -1, EXIT_OK
        # The first worker that failed on its own says why; the others were stopped because of it.
        own = [(i, c) for i, c in failed if c not in (EXIT_STOPPED, -signal.SIGTERM)] or failed
        index, code = own[0]
        return index, code if code > 0 else (EXIT_STOPPED if self.stopping else EXIT_INCOMPLETE)


def worker_command(global_args: list[str], *, concurrency: int | None, until_empty: bool,
                   metrics_port: int | None = None) -> list[str]:
    """The command line of one supervised ``cardpipe worker`` child (``metrics_port`` 0: it serves none)."""
    command = [sys.executable, "-m", "worker", *global_args, "worker", "--progress-jsonl"]
    if metrics_port is not None:
        command += ["--metrics-port", str(metrics_port)]
    if until_empty:
        command.append("--until-empty")
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    return command


def run_children(command: list[str], count: int, *, env: dict[str, str],
                 on_outcome: Callable[[dict[str, Any]], None], stop: threading.Event,
                 grace_s: float, on_exit: Callable[[int], None] | None = None) -> ChildrenReport:
    """Run ``count`` copies of ``command`` until they all exit; ``stop`` set drains them (SIGTERM).

    Parameters:
        command: a ``cardpipe worker --progress-jsonl`` command line.
        count: how many processes.
        env: their environment (the parent's pid is added).
        on_outcome: called with each outcome line a child prints.
        stop: set (e.g. by a signal handler) to ask every child to drain and exit.
        grace_s: how long children may drain after the stop before they are killed.
        on_exit: called with a child's pid once it has exited (so its live metrics stop counting).
    """
    env = {**env, PARENT_PID_ENV: str(os.getpid())}
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 encoding="utf-8", env=env) for _ in range(count)]
    lines: stdlib_queue.Queue[tuple[int, str | None]] = stdlib_queue.Queue()
    for index, child in enumerate(children):
        threading.Thread(target=_read_lines, args=(index, child.stdout, lines), daemon=True,
                         name=f"cardpipe-child-{index}").start()
    result = ChildrenReport()
    stopped_at: list[float] = []

    def stop_all(reason: str) -> None:
        if not result.stopping:
            result.stopping.append(reason)
            stopped_at.append(time.monotonic())
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

    open_streams = len(children)
    while open_streams:
        if stop.is_set():
            stop_all("stopped by a signal")
        if stopped_at and time.monotonic() - stopped_at[0] > grace_s + 5:
            # Past the grace the children were given: what is still running is stuck, not draining.
            for child in children:
                if child.poll() is None:
                    child.kill()
        try:
            index, line = lines.get(timeout=0.2)
        except stdlib_queue.Empty:
            continue
        if line is None:
            open_streams -= 1
            if on_exit is not None:
                on_exit(children[index].pid)  # its stdout closed: it has exited or is exiting
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if "report" in event:
            result.reports[index] = event["report"]
            if event["report"].get("exit_code") not in (EXIT_OK, None, EXIT_STOPPED):
                stop_all(event["report"].get("reason", "a worker stopped"))
            continue
        on_outcome(event)
    for child in children:
        if child.stdin is not None:
            child.stdin.close()
    result.codes = [child.wait() for child in children]
    return result


def _read_lines(index: int, stream: IO[str] | None, lines: stdlib_queue.Queue[tuple[int, str | None]]) -> None:
    if stream is not None:
        for line in stream:
            lines.put((index, line))
    lines.put((index, None))
