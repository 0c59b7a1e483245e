"""Outcomes in a local directory: one file per task, written atomically and at most once.

Why link rather than rename: ``os.replace`` would silently overwrite an outcome another worker wrote a moment
earlier; ``os.link`` of a fully written, fsynced temporary file onto the final name is atomic and fails when
the name exists, so the first outcome wins and a reader never sees a half-written file.

The new name is made durable by an fsync of its directory before the write returns (and so before the message
is acked). Threads that link at about the same time share that fsync (:class:`DirectoryBarrier`, a group
commit): one fsync of a directory covers every name linked into it before the fsync started.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from worker.outcomes.base import DEAD_DIR, RESULTS_DIR, RUNS_DIR, OutcomeStore, OutcomeStoreError

_TASK_ID = re.compile(r"^[0-9a-f]{8,64}$")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,79}$")
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
#: A nameless file in a directory (Linux ``O_TMPFILE``), later linked through ``/proc/self/fd``.
_NAMELESS_FLAGS = getattr(os, "O_TMPFILE", 0) | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
_NAMELESS_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS}
_nameless_files = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
_root_fd: int | None = None
#: What a file system answers when it cannot fsync a directory (not a failure of this write).
_DIRECTORY_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}


class LocalOutcomeStore(OutcomeStore):
    """``<root>/results/<task_id>.json`` and ``<root>/dead/<task_id>.json``.

    >>> import tempfile; store = LocalOutcomeStore(tempfile.mkdtemp())
    >>> store.exists("0" * 32)
    False
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        # Plain strings on the per-task paths: pathlib's joins cost more than the system calls they wrap.
        self._folders = {folder: os.path.join(self.location, folder) for folder in (RESULTS_DIR, DEAD_DIR)}
        self._barriers = {path: DirectoryBarrier(path) for path in self._folders.values()}
        try:
            for folder in (RESULTS_DIR, DEAD_DIR):
                (self.root / folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutcomeStoreError(f"cannot create the outcome directory {self.root}: {exc}") from exc

    def _path(self, folder: str, task_id: str) -> str:
        if not _TASK_ID.match(task_id):
            raise OutcomeStoreError(f"not a task id: {task_id!r}")
        directory = self._folders.get(folder) or os.path.join(self.location, folder)
        return f"{directory}{os.sep}{task_id}.json"

    def _exists(self, folder: str, task_id: str) -> bool:
        return os.path.exists(self._path(folder, task_id))

    def _create(self, folder: str, task_id: str, payload: bytes) -> bool:
        final = self._path(folder, task_id)
        directory = os.path.dirname(final)
        try:
            if not _link_new_file(directory, task_id, final, payload):
                return False
            barrier = self._barriers.get(directory)
            if barrier is None:
                _fsync_directory(directory)
            else:
                barrier.sync()
        except OSError as exc:
            raise OutcomeStoreError(f"cannot write {final}: {exc}") from exc
        return True

    def _read(self, folder: str, task_id: str) -> bytes | None:
        try:
            return Path(self._path(folder, task_id)).read_bytes()
        except FileNotFoundError:
            return None

    def _delete(self, folder: str, task_id: str) -> bool:
        path = self._path(folder, task_id)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        try:
            _fsync_directory(self.root / folder)
        except OSError as exc:
            raise OutcomeStoreError(f"cannot make the removal of {path} durable: {exc}") from exc
        return True

    def _ids(self, folder: str) -> Iterator[str]:
        with os.scandir(self.root / folder) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(".json") and not e.name.startswith("."))
        for name in names:
            yield name[: -len(".json")]


    def _scan_ids(self, folder: str) -> Iterator[str]:
        # Streamed, unsorted: sorting ten million names would hold them all in memory (export, lookups).
        with os.scandir(self.root / folder) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".json") and not name.startswith("."):
                    yield name[: -len(".json")]

    def _put_run(self, run_id: str, payload: bytes) -> None:
        if not _RUN_ID.match(run_id):
            raise OutcomeStoreError(f"not a run id: {run_id!r}")
        directory = self.root / RUNS_DIR
        try:
            directory.mkdir(exist_ok=True)
            with _durable_temp_file(directory, run_id, payload) as temp_name:
                os.replace(temp_name, directory / f"{run_id}.json")  # a run record is rewritten, never raced
        except OSError as exc:
            raise OutcomeStoreError(f"cannot write the run record {directory / run_id}.json: {exc}") from exc

    def _run_payloads(self) -> Iterator[bytes]:
        directory = self.root / RUNS_DIR
        if not directory.is_dir():
            return
        for path in sorted(directory.glob("*.json")):
            with contextlib.suppress(FileNotFoundError):
                yield path.read_bytes()


#: How many failed fsync generations a barrier remembers for the followers still to wake.
_FAILURES_KEPT = 64


class DirectoryBarrier:
    """Group commit for the names linked into one directory: fewer directory fsyncs, none of them skipped.

    A thread calls :meth:`sync` after its link and returns once an fsync of the directory that *started after*
    that call has finished. When no fsync is running, the thread runs one itself. When one is running, it may
    have started before the link, so the thread waits for it to end; then the first waiting thread runs the
    next fsync for every thread waiting (the leader), and the others return when it ends (the followers).
    Measured with 8 pipeline threads: the directory fsync, one per outcome before, was the largest part of a
    worker's system CPU on Redis (see docs/benchmarks.md, brokers-notes).

    Parameters:
        directory: the directory whose entries are made durable.
        fsync: makes ``directory`` durable; injectable for tests.
    """

    def __init__(self, directory: str, *, fsync: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self._fsync = fsync or _fsync_directory
        self._cond = threading.Condition(threading.Lock())
        self._started = 0   # generations of fsyncs started...
        self._finished = 0  # ...and finished (in order: one runs at a time)
        self._running = False
        #: generation -> the error of a failed fsync, for the followers it was to cover; only the last few
        #: are kept (a follower waits on the generation right after the one running when it came)
        self._failures: dict[int, OSError] = {}

    def sync(self) -> None:
        """Return once every name linked into the directory before this call is durable; raise the fsync's
        error when the fsync that was to make it durable failed (for every writer it covered, not only the
        one that ran it: the links may not be on disk, so none of them may be acknowledged)."""
        with self._cond:
            needed = self._started + 1  # an fsync started from now on covers the caller's link
            while self._finished < needed:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                self._started += 1
                generation = self._started
                self._cond.release()
                failure: OSError | None = None
                try:
                    self._fsync(self.directory)
                except OSError as exc:
                    failure = exc
                    raise
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._finished = generation
                    if failure is not None:
                        self._failures[generation] = failure
                        for old in [g for g in self._failures if g < generation - _FAILURES_KEPT]:
                            del self._failures[old]
                    self._cond.notify_all()
            failed = self._failures.get(needed)
            if failed is not None:
                raise OSError(failed.errno, f"the shared fsync of {self.directory} failed: {failed.strerror or failed}")


@contextlib.contextmanager
def _durable_temp_file(directory: str | Path, name: str, payload: bytes) -> Iterator[str]:
    """A hidden temporary file in ``directory`` holding ``payload``, fsynced; removed on exit unless renamed.

    Its name is unique to this process and thread, plus a random part for hosts sharing the directory, so
    an ``O_EXCL`` open does what ``mkstemp`` does without its retry loop; owner-only like mkstemp's, since
    results carry full card numbers.
    """
    unique = f"{os.getpid()}.{threading.get_ident()}.{os.urandom(4).hex()}"
    temp_name = f"{directory}{os.sep}.{name}.{unique}.tmp"
    fd = os.open(temp_name, _CREATE_FLAGS, 0o600)
    try:
        try:
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        yield temp_name
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)


def _link_new_file(directory: str, name: str, final: str, payload: bytes) -> bool:
    """Write ``payload`` to a new file, fsync it and link it as ``final``; False (nothing left behind) when
    ``final`` exists.

    Where the system has them (Linux: ``O_TMPFILE`` and ``/proc``), the file is born nameless in ``directory``
    and linked from its descriptor: no temporary name to make up, nothing to unlink, and a worker killed before
    the link leaves no file at all. Elsewhere, a named temporary file (:func:`_durable_temp_file`).
    """
    global _nameless_files
    if _nameless_files:
        try:
            fd = os.open(directory, _NAMELESS_FLAGS, 0o600)
        except OSError as exc:
            if exc.errno not in _NAMELESS_UNSUPPORTED:
                raise
            _nameless_files = False  # this file system cannot: named temporary files from now on
        else:
            try:
                _write_all(fd, payload)
                os.fsync(fd)
                try:
                    _link_descriptor(fd, final)
                except FileExistsError:
                    return False
                return True
            finally:
                os.close(fd)
    with _durable_temp_file(directory, name, payload) as temp_name:
        try:
            os.link(temp_name, final)
        except FileExistsError:
            return False
    return True


def _link_descriptor(fd: int, final: str) -> None:
    """``linkat(AT_SYMLINK_FOLLOW)`` of ``/proc/self/fd/<fd>`` onto ``final``: the nameless file gets its name.

    Python calls ``linkat`` with that flag, rather than ``link`` (which would try to link the ``/proc`` entry
    itself and fail with EXDEV), only when it is given a directory descriptor; it gets one of ``/``, which the
    absolute source path makes irrelevant.
    """
    global _root_fd
    if _root_fd is None:
        _root_fd = os.open("/", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    os.link(f"/proc/self/fd/{fd}", final, src_dir_fd=_root_fd, follow_symlinks=True)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _fsync_directory(directory: str | Path) -> None:
    """Make the new name itself durable (a crash right after the link must not lose the outcome).

    A file system that cannot fsync a directory at all says so with EINVAL (or ENOTSUP, EBADF); that is not an
    error here. Any other failure (EIO, ENOSPC) is: the name may not be on disk, so the write has failed.
    """
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIRECTORY_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)
