"""Where tasks come from: a folder, an S3 / COS prefix, an S3 Inventory report, or a file of locations.

A folder is walked recursively in a stable order and every regular file becomes a task, whatever its
extension: a file that is not a card image is for the recognizer to reject (as a dead letter with a code),
not for the enumerator to skip silently. An S3 prefix is listed page by page (ListObjectsV2, <= 1,000 keys in
key order); after a page is enqueued its last key can be checkpointed, and a later listing resumes with
``StartAfter``. Tasks from a listing carry the object's ETag, so a changed object is a new task.

For a bucket of ten million images, listing costs 10,000 requests before the first task; an S3 Inventory
report (its ``manifest.json``, CSV format) names every object already, so ``cardpipe run s3://inv/.../
manifest.json`` reads a few gzipped CSV files instead (:class:`S3InventorySource`).

>>> source = open_source("./samples")  # doctest: +SKIP
>>> for page in source.pages(): ...  # doctest: +SKIP
"""

from __future__ import annotations

import abc
import csv
import gzip
import hashlib
import heapq
import io
import json
import os
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from worker.api.errors import CardpipeError
from worker.tasks import Task

if TYPE_CHECKING:
    from worker.storage import StorageSettings

#: A file SOURCE with one of these suffixes is a list of locations; any other file is one image.
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list", ".locations"})
#: Tasks per page for folders and lists (S3 pages are the listing's own pages).
PAGE_SIZE = 500
#: Size of an S3 listing's checkpoint record: room for a 1,024-byte key in JSON, padded with spaces.
CHECKPOINT_RECORD_BYTES = 4096


class SourceError(CardpipeError):
    """The source cannot be enumerated: it does not exist, is not readable, or is not a kind cardpipe knows."""


class Source(abc.ABC):
    """Tasks in pages; ``checkpoint(page)`` records that a page was enqueued (S3 prefixes resume from it)."""

    description: str

    @abc.abstractmethod
    def pages(self) -> Iterator[list[Task]]: ...

    def tasks(self) -> Iterator[Task]:
        for page in self.pages():
            yield from page

    def checkpoint(self, page: list[Task]) -> None:
        """Record that ``page`` is safely enqueued (no-op for sources that are cheap to enumerate again)."""
        return None

    def checkpoint_task(self, task: Task) -> None:
        """Record that ``task`` (and every task before it) is enqueued; called after each publish."""
        return None


class FolderSource(Source):
    """Every regular file under a directory, recursively, in sorted order (hidden files and folders skipped)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.description = str(self.root)

    def pages(self) -> Iterator[list[Task]]:
        page: list[Task] = []
        for path in self._walk(self.root):
            page.append(Task.for_location(str(path), metadata={"size": _size(path)}))
            if len(page) >= PAGE_SIZE:
                yield page
                page = []
        if page:
            yield page

    def _walk(self, directory: Path) -> Iterator[Path]:
        """Files in name order, folders entered where their name falls.

        Only names are kept while a folder is read (two sorted lists of strings, merged), not ``DirEntry``
        objects: a folder of 100,000 images then costs a few MB before its first task instead of tens.
        """
        files: list[str] = []
        folders: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.name)
                    elif entry.is_file():
                        files.append(entry.name)
        except OSError as exc:
            raise SourceError(f"cannot read the folder {directory}: {exc.strerror or exc}") from exc
        files.sort()
        folders.sort()
        for name, is_folder in heapq.merge(((name, False) for name in files), ((name, True) for name in folders)):
            if is_folder:
                yield from self._walk(directory / name)
            else:
                yield directory / name


class ListFileSource(Source):
    """One location per line (blank lines and ``#`` comments skipped); relative paths are relative to the file."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.description = str(self.path)

    def pages(self) -> Iterator[list[Task]]:
        page: list[Task] = []
        try:
            handle = self.path.open(encoding="utf-8")
        except OSError as exc:
            raise SourceError(f"cannot read the list {self.path}: {exc.strerror or exc}") from exc
        with handle:
            for number, line in enumerate(handle, start=1):
                location = line.strip()
                if not location or location.startswith("#"):
                    continue
                if "://" not in location and not os.path.isabs(location):
                    location = str(self.path.parent / location)
                try:
                    page.append(Task.for_location(location, metadata={"list": str(self.path), "line": number}))
                except CardpipeError as exc:
                    raise SourceError(f"{self.path}:{number}: {exc}") from exc
                if len(page) >= PAGE_SIZE:
                    yield page
                    page = []
        if page:
            yield page


class SingleFileSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.description = str(self.path)

    def pages(self) -> Iterator[list[Task]]:
        yield [Task.for_location(str(self.path), metadata={"size": _size(self.path)})]


class S3PrefixSource(Source):
    """Objects under ``s3://bucket/prefix`` (or ``cos://``), listed with ListObjectsV2, resumable by checkpoint.

    Parameters:
        client: a boto3 S3 client (``worker.storage.s3_client``).
        url: ``s3://bucket/prefix`` or ``cos://bucket-appid/prefix``.
        checkpoint_dir: where the last enqueued key is kept; None disables resuming.
    """

    def __init__(self, client: Any, url: str, *, checkpoint_dir: Path | None = None) -> None:
        scheme, _, rest = url.partition("://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise SourceError(f"no bucket in {url!r}")
        self.client = client
        self.scheme = scheme
        self.bucket = bucket
        self.prefix = prefix
        self.description = f"{scheme}://{bucket}/{prefix}"
        self.checkpoint_path = None if checkpoint_dir is None else \
            checkpoint_dir / f"{hashlib.sha256(self.description.encode()).hexdigest()[:16]}.json"
        self._checkpoint_fd: int | None = None

    def start_after(self) -> str | None:
        """The last key of the last checkpointed page, when resuming."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return None
        try:
            data = json.loads(self.checkpoint_path.read_bytes().rstrip(b" \0\n") or b"{}")
        except (OSError, ValueError):
            return None
        return data.get("start_after") if data.get("source") == self.description else None

    def pages(self) -> Iterator[list[Task]]:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        start_after = self.start_after()
        if start_after:
            request["StartAfter"] = start_after
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for answer in paginator.paginate(**request):
                page = [
                    Task.for_location(f"{self.scheme}://{self.bucket}/{obj['Key']}", etag=obj.get("ETag"),
                                      metadata={"size": obj.get("Size")})
                    for obj in answer.get("Contents", [])
                    if not obj["Key"].endswith("/")
                ]
                if page:
                    yield page
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(f"cannot list {self.description}: {exc}") from exc

    def checkpoint(self, page: list[Task]) -> None:
        if page:
            self.checkpoint_task(page[-1])

    def checkpoint_task(self, task: Task) -> None:
        """Overwrite the checkpoint with ``task``'s key: one ``pwrite`` of a fixed-size record.

        Why per task and in place: a listing killed in the middle of a page then resumes right after the last
        object it published, so no object of that page is enqueued twice. A record of one fixed size written
        at offset 0 by one system call is never seen half-written after a process kill (the kernel has the
        whole buffer or none of it); the padding means a shorter key leaves no tail of a longer one. A kill
        between a publish and its record can still enqueue that one object again, which the outcome store
        turns into a skip.
        """
        if self.checkpoint_path is None:
            return
        if self._checkpoint_fd is None:
            self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
            self._checkpoint_fd = os.open(self.checkpoint_path, os.O_RDWR | os.O_CREAT, 0o644)
        last_key = task.location.partition("://")[2].partition("/")[2]
        record = json.dumps({"source": self.description, "start_after": last_key}, ensure_ascii=False).encode()
        os.pwrite(self._checkpoint_fd, record.ljust(CHECKPOINT_RECORD_BYTES), 0)

    def clear_checkpoint(self) -> None:
        if self._checkpoint_fd is not None:
            os.close(self._checkpoint_fd)
            self._checkpoint_fd = None
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.checkpoint_path.unlink()


class S3InventorySource(Source):
    """The objects an S3 Inventory report names (its ``manifest.json``; CSV reports), streamed in pages.

    Only the latest version of each object is a task (rows with ``IsLatest`` false or ``IsDeleteMarker``
    true are skipped when the report has those columns), and keys ending in "/" are folders, not images.
    Keys in inventory CSVs are URL-encoded; they are decoded here. The report's source bucket keeps the
    manifest URL's scheme (``cos://`` stays ``cos://``).

    Parameters:
        client: a boto3 S3 client that can read the report's bucket and the images' bucket.
        url: ``s3://report-bucket/.../manifest.json``.
    """

    def __init__(self, client: Any, url: str) -> None:
        scheme, _, rest = url.partition("://")
        bucket, _, key = rest.partition("/")
        if not bucket or not key:
            raise SourceError(f"no bucket or key in {url!r}")
        self.client = client
        self.scheme = scheme
        self.bucket = bucket
        self.manifest_key = key
        self.description = url

    def _open(self, bucket: str, key: str) -> Any:
        """The object's body as a stream (not read into memory: a report file can hold millions of rows)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(f"cannot read s3://{bucket}/{key} (inventory {self.description}): {exc}") from exc

    def _manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self._open(self.bucket, self.manifest_key).read())
        except ValueError as exc:
            raise SourceError(f"{self.description}: not an S3 Inventory manifest (not JSON): {exc}") from exc
        if not isinstance(manifest, dict) or "files" not in manifest or "fileSchema" not in manifest:
            raise SourceError(f"{self.description}: not an S3 Inventory manifest (no files / fileSchema)")
        if str(manifest.get("fileFormat", "CSV")).upper() != "CSV":
            raise SourceError(f"{self.description}: inventory format {manifest.get('fileFormat')!r} is not "
                              "supported; configure the inventory report as CSV")
        return manifest

    def pages(self) -> Iterator[list[Task]]:
        manifest = self._manifest()
        columns = [name.strip() for name in str(manifest["fileSchema"]).split(",")]
        if "Key" not in columns:
            raise SourceError(f"{self.description}: the inventory schema has no Key column")
        default_bucket = str(manifest.get("sourceBucket", ""))
        for entry in manifest["files"]:
            page: list[Task] = []
            # closed on every exit (a bad row, a consumer that stops early): the body holds an HTTP connection
            with closing(self._open(self.bucket, entry["key"])) as body:
                raw = gzip.GzipFile(fileobj=body) if entry["key"].endswith(".gz") else body
                for row in csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline="")):
                    if len(row) != len(columns):
                        raise SourceError(f"{self.description}: {entry['key']} has a row of {len(row)} fields, "
                                          f"the schema has {len(columns)}")
                    task = self._task(dict(zip(columns, row, strict=True)), default_bucket)
                    if task is not None:
                        page.append(task)
                    if len(page) >= PAGE_SIZE:
                        yield page
                        page = []
            if page:
                yield page

    def _task(self, record: dict[str, str], default_bucket: str) -> Task | None:
        """The task for one report row; None for an old version, a delete marker or a folder."""
        if record.get("IsLatest", "true").lower() == "false" or record.get("IsDeleteMarker", "false").lower() == "true":
            return None
        key = unquote_plus(record["Key"])
        if key.endswith("/"):
            return None
        size = record.get("Size")
        return Task.for_location(f"{self.scheme}://{record.get('Bucket') or default_bucket}/{key}",
                                 etag=record.get("ETag") or None,
                                 metadata={"size": int(size) if size and size.isdigit() else None})


def open_source(source: str, storage: StorageSettings | None = None, *, client: Any = None,
                checkpoint_dir: Path | None = None) -> Source:
    """The :class:`Source` for a command-line SOURCE argument.

    Parameters:
        source: a folder, a list file (``.txt``, ``.lst``, ``.list``), one image file, an ``s3://`` /
            ``cos://`` prefix, or an S3 Inventory report's ``manifest.json`` there.
        storage: storage settings, for the S3 client of a prefix source.
        client: an S3 client to use instead of building one.
        checkpoint_dir: S3 prefixes keep their listing checkpoint here (None: no resuming).
    """
    if source.startswith(("s3://", "cos://")):
        if client is None:
            from worker.storage import StorageSettings, s3_client

            client = s3_client((storage or StorageSettings()).s3)
        if source.endswith("/manifest.json"):
            return S3InventorySource(client, source)
        return S3PrefixSource(client, source, checkpoint_dir=checkpoint_dir)
    if "://" in source and not source.startswith("file://"):
        raise SourceError(f"{source}: a source is a folder, a list file, an image, or an s3:// / cos:// prefix")
    path = Path(source.removeprefix("file://")).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        return ListFileSource(path) if path.suffix.lower() in LIST_SUFFIXES else SingleFileSource(path)
    raise SourceError(f"{source}: no such file or folder")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
