"""Images on the local filesystem, confined to configured root folders.

Locations arrive in queue messages, so a path is untrusted input: it is resolved (following every
symlink) and must land inside one of the roots, must be a regular file, and is measured on the open file
descriptor before anything is read, so a 50 MB file costs one ``fstat``, not 50 MB of memory.

>>> storage = LocalStorage([Path("/data/cards")], max_bytes=6 * 1024 * 1024)     # doctest: +SKIP
>>> storage.fetch("/data/cards/0001.jpg").data[:2]                               # doctest: +SKIP
b'\\xff\\xd8'
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from worker.storage.errors import FetchedObject, FetchError, ObjectInfo


def path_of(location: str) -> Path:
    """The filesystem path a location names: a plain path, or a ``file://`` URL (percent-decoded)."""
    if location.startswith("file:"):
        parts = urlsplit(location)
        if parts.netloc not in {"", "localhost"}:
            raise FetchError("bad_location", f"file URL names another host: {parts.netloc!r}")
        return Path(unquote(parts.path))
    return Path(location)


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

    def _resolve(self, location: str) -> Path:
        raw = path_of(location)
        if not str(raw):
            raise FetchError("bad_location", "empty path")
        if "\0" in str(raw):
            raise FetchError("bad_location", "path contains a NUL byte")
        try:
            resolved = raw.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
            raise FetchError("bad_location", f"path cannot be resolved: {exc.__class__.__name__}") from exc
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.roots):
            raise FetchError("bad_location", f"{location!r} is outside the allowed local roots")
        return resolved

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
        """The file's bytes; raises :class:`FetchError` for anything but a readable, non-empty small file."""
        path = self._resolve(location)
        self._stat(location, path)  # refuse FIFOs and devices before open() could block on them
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError as exc:
            raise FetchError("not_found", f"no such file: {location!r}") from exc
        except PermissionError as exc:
            raise FetchError("forbidden", f"permission denied: {location!r}") from exc
        except OSError as exc:  # ELOOP: the file was swapped for a symlink after it was resolved
            raise FetchError("bad_location", f"cannot open {location!r}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            self._check(location, info)  # the file may have changed since the first look
            data = handle.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise FetchError("too_large", f"{location!r} grew past the limit of {self.max_bytes} bytes")
        if not data:
            raise FetchError("empty", f"{location!r} is empty")
        return FetchedObject(data=data, etag=_etag(info), content_type=mimetypes.guess_type(path.name)[0])
