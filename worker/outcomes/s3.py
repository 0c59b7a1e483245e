"""Outcomes under an S3 (or COS / MinIO) prefix: ``s3://bucket/prefix/results/<task_id>.json``.

Create-once uses S3's conditional write (``If-None-Match: *``), so two workers racing on one task cannot
overwrite each other's outcome; stores that do not implement it fall back to check-then-put, which is still
safe for the usual case (a redelivery after the first outcome is written).

Server-side encryption (``outcomes.s3.sse``: ``AES256`` or ``aws:kms`` with ``kms_key_id``) is asked for on
every object written, outcomes and run records alike.

Checking a task costs one request: every dead letter also leaves an empty marker ``results/<task_id>.dead``
beside where the result would be, so one ListObjectsV2 of ``results/<task_id>.`` answers result, dead letter
or nothing (two HEADs otherwise, one per folder). The marker is written after the dead letter and deleted
before it, so a marker never stands for a dead letter that is not there. A dead letter written without a
marker (by an older cardpipe) is still found before any second outcome is written: each write checks the
other kind's folder first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.outcomes.base import (
    DEAD_DIR,
    RESULTS_DIR,
    RUNS_DIR,
    OutcomeKind,
    OutcomeStore,
    OutcomeStoreError,
)
from worker.outcomes.errors import split_s3_url

_MISSING = {"404", "NoSuchKey", "NotFound"}
_CONDITION_FAILED = {"412", "PreconditionFailed", "ConditionalRequestConflict"}
_CONDITION_UNSUPPORTED = {"NotImplemented", "InvalidArgument", "501"}
#: Suffix of the empty object under ``results/`` that says "this task has a dead letter".
DEAD_MARKER_SUFFIX = ".dead"


def sse_arguments(sse: str | None, kms_key_id: str | None = None) -> dict[str, str]:
    """PutObject arguments for server-side encryption.

    >>> sse_arguments("aws:kms", "alias/cards")
    {'ServerSideEncryption': 'aws:kms', 'SSEKMSKeyId': 'alias/cards'}
    """
    if not sse:
        return {}
    arguments = {"ServerSideEncryption": sse}
    if sse == "aws:kms" and kms_key_id:
        arguments["SSEKMSKeyId"] = kms_key_id
    return arguments


class S3OutcomeStore(OutcomeStore):
    """Results and dead letters as objects under a prefix, through a boto3 S3 client."""

    def __init__(self, client: Any, url: str, *, sse: str | None = None, kms_key_id: str | None = None) -> None:
        self.client = client
        self.bucket, self.prefix = split_s3_url(url)
        self.location = f"s3://{self.bucket}/{self.prefix}"
        self._conditional_put = True
        #: Extra PutObject arguments that ask the store to encrypt at rest.
        self.encryption: dict[str, str] = sse_arguments(sse, kms_key_id)

    def _key(self, folder: str, task_id: str) -> str:
        return f"{self.prefix}{folder}/{task_id}.json"

    def kind_of(self, task_id: str) -> OutcomeKind | None:
        """Which outcome the task has, in one ListObjectsV2 request (see the module docstring)."""
        stem = f"{self.prefix}{RESULTS_DIR}/{task_id}."
        try:
            answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=stem, MaxKeys=10)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("check", RESULTS_DIR, task_id, exc) from exc
        suffixes = {obj["Key"][len(stem) - 1:] for obj in answer.get("Contents", [])}
        if ".json" in suffixes:
            return OutcomeKind.RESULT
        if DEAD_MARKER_SUFFIX in suffixes:
            return OutcomeKind.DEAD_LETTER
        return None

    def _marker_key(self, task_id: str) -> str:
        return f"{self.prefix}{RESULTS_DIR}/{task_id}{DEAD_MARKER_SUFFIX}"

    def _exists(self, folder: str, task_id: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(folder, task_id))
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise self._error("check", folder, task_id, exc) from exc
        except BotoCoreError as exc:
            raise self._error("check", folder, task_id, exc) from exc
        return True

    def _create(self, folder: str, task_id: str, payload: bytes) -> bool:
        created = self._create_once(folder, task_id, payload)
        if created and folder == DEAD_DIR:
            try:
                self.client.put_object(Bucket=self.bucket, Key=self._marker_key(task_id), Body=b"",
                                       **self.encryption)
            except (ClientError, BotoCoreError) as exc:
                raise self._error("mark", folder, task_id, exc) from exc
        return created

    def _create_once(self, folder: str, task_id: str, payload: bytes) -> bool:
        request = {"Bucket": self.bucket, "Key": self._key(folder, task_id), "Body": payload,
                   "ContentType": "application/json", **self.encryption}
        try:
            if self._conditional_put:
                try:
                    self.client.put_object(**request, IfNoneMatch="*")
                    return True
                except ClientError as exc:
                    code = _error_code(exc)
                    if code in _CONDITION_FAILED:
                        return False
                    if code not in _CONDITION_UNSUPPORTED:
                        raise
                    self._conditional_put = False
            if self._exists(folder, task_id):
                return False
            self.client.put_object(**request)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", folder, task_id, exc) from exc
        return True

    def _read(self, folder: str, task_id: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(folder, task_id))
            return answer["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return None
            raise self._error("read", folder, task_id, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", folder, task_id, exc) from exc

    def _delete(self, folder: str, task_id: str) -> bool:
        if not self._exists(folder, task_id):
            return False
        try:
            if folder == DEAD_DIR:  # the marker first: it must never outlive its dead letter
                self.client.delete_object(Bucket=self.bucket, Key=self._marker_key(task_id))
            self.client.delete_object(Bucket=self.bucket, Key=self._key(folder, task_id))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("delete", folder, task_id, exc) from exc
        return True

    def _ids(self, folder: str) -> Iterator[str]:
        prefix = f"{self.prefix}{folder}/"
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(prefix):]
                    if name.endswith(".json") and "/" not in name:
                        yield name[: -len(".json")]
        except (ClientError, BotoCoreError) as exc:
            raise OutcomeStoreError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc

    def _put_run(self, run_id: str, payload: bytes) -> None:
        key = f"{self.prefix}{RUNS_DIR}/{run_id}.json"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=payload, ContentType="application/json",
                                   **self.encryption)
        except (ClientError, BotoCoreError) as exc:
            raise OutcomeStoreError(f"cannot write the run record s3://{self.bucket}/{key}: {exc}") from exc

    def _run_payloads(self) -> Iterator[bytes]:
        prefix = f"{self.prefix}{RUNS_DIR}/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith(".json"):
                        yield self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise OutcomeStoreError(f"cannot read the run records under s3://{self.bucket}/{prefix}: {exc}") from exc

    def _error(self, action: str, folder: str, task_id: str, exc: Exception) -> OutcomeStoreError:
        return OutcomeStoreError(f"cannot {action} s3://{self.bucket}/{self._key(folder, task_id)}: {exc}")


def _error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
