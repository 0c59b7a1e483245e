"""Images on the local filesystem, confined to configured root folders.

Locations arrive in queue messages, so a path is untrusted input: it is resolved (following every
symlink) and must land inside one of the roots, must be a regular file, and is measured on the open file
descriptor before anything is read, so a 50 MB file costs one ``fstat``, not 50 MB of memory.

Resolving a path costs an ``lstat`` per component, and every system call releases the GIL that a busy
worker's threads contend for; images come from few folders, so :meth:`LocalStorage.fetch` resolves a
location's folder once (remembered for :data:`REMEMBERED_FOLDERS` folders) and opens the file in it without
following a final symlink; a file that is a symlink is resolved in full, as before any remembering. A folder
swapped for a symlink after its first use is followed as it was resolved, until the memory is cleared.

>>> storage = LocalStorage([Path("/data/cards")], max_bytes=6 * 1024 * 1024)     # doctest: +SKIP
>>> storage.fetch("/data/cards/0001.jpg").data[:2]                               # doctest: +SKIP
b'\\xff\\xd8'
"""

from __future__ import annotations

import errno
import functools
import mimetypes
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from worker.storage.errors import FetchedObject, FetchError, ObjectInfo

#: How many folders' resolved paths one storage remembers (then it forgets them all and starts again).
REMEMBERED_FOLDERS = 4096
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def path_of(location: str) -> Path:
    """The filesystem path a location names: a plain path, or a ``file://`` URL (percent-decoded)."""
    if location.startswith("file:"):
        parts = urlsplit(location)
        if parts.netloc not in {"", "localhost"}:
            raise FetchError("bad_location", f"file URL names another host: {parts.netloc!r}")
        return Path(unquote(parts.path))
    return Path(location)


def _realpath(raw: str) -> str:
    try:
        return os.path.realpath(raw, strict=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise FetchError("bad_location", f"path cannot be resolved: {exc.__class__.__name__}") from exc


def _etag(info: os.stat_result) -> str:
    """A change detector for a file: modification time and size, as a web server's weak ETag would be."""
    return f"{info.st_mtime_ns:x}-{info.st_size:x}"


class LocalStorage:
    """Reads files under ``roots``.

    Parameters:
        roots: the folders locations may resolve into; relative roots are taken from the working directory.
        max_bytes: files larger than this are refused as ``too_large`` without being read.
    """

    def __init__(self, roots: Iterable[Path], *, max_bytes: int) -> None:
        self.roots = tuple(Path(root).resolve() for root in roots)
        if not self.roots:
            raise ValueError("at least one local root is needed")
        self.max_bytes = max_bytes
        self._root_prefixes = tuple((str(root), str(root).rstrip(os.sep) + os.sep) for root in self.roots)
        self._real_folders: dict[str, str] = {}

    def _resolve(self, location: str) -> Path:
        return Path(self._resolved(location))

    def _resolved(self, location: str) -> str:
        """The real path (every symlink followed) as a string, checked to lie inside a root.

        Strings rather than pathlib on this per-task path: ``Path.resolve`` and ``is_relative_to`` cost more
        than the system calls they wrap.
        """
        return self._inside_roots(location, _realpath(self._raw_path(location)))

    def _raw_path(self, location: str) -> str:
        raw = location if "://" not in location and not location.startswith("file:") else str(path_of(location))
        if not raw:
            raise FetchError("bad_location", "empty path")
        if "\0" in raw:
            raise FetchError("bad_location", "path contains a NUL byte")
        return raw

    def _inside_roots(self, location: str, resolved: str) -> str:
        if not any(resolved == root or resolved.startswith(prefix) for root, prefix in self._root_prefixes):
            raise FetchError("bad_location", f"{location!r} is outside the allowed local roots")
        return resolved

    def _resolved_in_folder(self, location: str) -> str:
        """The path with its folder resolved (remembered) and its last name as given, checked to lie inside a
        root; for a last name that is not a plain name (``..``, ``.``, nothing), the whole path resolved."""
        raw = self._raw_path(location)
        folder, name = os.path.split(raw)
        if name in {"", ".", ".."}:
            return self._resolved(location)
        real_folder = self._real_folders.get(folder)
        if real_folder is None:
            real_folder = _realpath(folder or os.curdir)
            if len(self._real_folders) >= REMEMBERED_FOLDERS:
                self._real_folders.clear()
            self._real_folders[folder] = real_folder
        return self._inside_roots(location, os.path.join(real_folder, name))

    def _stat(self, location: str, path: Path) -> os.stat_result:
        try:
            info = path.stat()
        except FileNotFoundError as exc:
            raise FetchError("not_found", f"no such file: {location!r}") from exc
        except PermissionError as exc:
            raise FetchError("forbidden", f"permission denied: {location!r}") from exc
        except OSError as exc:
            raise FetchError("unavailable", f"cannot stat {location!r}: {exc.strerror}") from exc
        self._check(location, info)
        return info

    def _check(self, location: str, info: os.stat_result) -> None:
        if stat.S_ISDIR(info.st_mode):
            raise FetchError("bad_location", f"{location!r} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise FetchError("bad_location", f"{location!r} is not a regular file")
        if info.st_size > self.max_bytes:
            raise FetchError("too_large", f"{location!r} is {info.st_size} bytes; the limit is {self.max_bytes}")
        if info.st_size == 0:
            raise FetchError("empty", f"{location!r} is empty")

    def head(self, location: str) -> ObjectInfo:
        """Size and a change-detecting ETag (mtime and size) without reading the file."""
        info = self._stat(location, self._resolve(location))
        return ObjectInfo(size=info.st_size, etag=_etag(info))

    def fetch(self, location: str) -> FetchedObject:
        """The file's bytes; raises :class:`FetchError` for anything but a readable, non-empty small file.

        One ``open`` in the (remembered) resolved folder (no following a final symlink, which is resolved and
        checked instead; never blocking on a FIFO), one ``fstat`` to refuse
        anything but a small regular file before reading, then reads of the file's own size: no second
        ``stat`` by path, and no buffer of ``max_bytes`` per image.
        """
        path = self._resolved_in_folder(location)
        try:
            try:
                fd = os.open(path, _OPEN_FLAGS)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                path = self._resolved(location)  # the file is a symlink: resolve it, and check where it leads
                fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError as exc:
            raise FetchError("not_found", f"no such file: {location!r}") from exc
        except PermissionError as exc:
            raise FetchError("forbidden", f"permission denied: {location!r}") from exc
        except IsADirectoryError as exc:
            raise FetchError("bad_location", f"{location!r} is a directory") from exc
        except OSError as exc:  # ELOOP: the file was swapped for a symlink after it was resolved
            raise FetchError("bad_location", f"cannot open {location!r}: {exc.strerror}") from exc
        try:
            info = os.fstat(fd)
            self._check(location, info)
            data = _read_up_to(fd, info.st_size, self.max_bytes)
        except OSError as exc:
            raise FetchError("unavailable", f"cannot read {location!r}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        if len(data) > self.max_bytes:
            raise FetchError("too_large", f"{location!r} grew past the limit of {self.max_bytes} bytes")
        if not data:
            raise FetchError("empty", f"{location!r} is empty")
        return FetchedObject(data=data, etag=_etag(info), content_type=_content_type(path))


@functools.lru_cache(maxsize=64)
def _content_type_of_suffix(suffix: str) -> str | None:
    return mimetypes.guess_type(f"x{suffix}")[0]


def _content_type(path: str) -> str | None:
    return _content_type_of_suffix(os.path.splitext(path)[1].lower())


def _read_up_to(fd: int, expected: int, limit: int) -> bytes:
    """The file's bytes, reading ``expected`` (its size) plus one to notice growth, and never past ``limit``+1.

    A read of a regular file that returns fewer bytes than asked has met the end of the file, so the usual
    case is one ``read``, not a second one that returns nothing.
    """
    chunks: list[bytes] = []
    total = 0
    want = min(expected, limit) + 1
    while total <= limit:
        chunk = os.read(fd, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if len(chunk) < want:
            break
        want = limit + 1 - total
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
