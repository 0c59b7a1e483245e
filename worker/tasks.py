"""What travels through the pipeline: a Task in, a Result or a DeadLetter out, all versioned JSON.

A task names one image by its location. Its id is derived from the location (normalised) and, when known,
the object's ETag or version, so the same image always gets the same id: that id keys the outcome store, which
is what makes a redelivered or re-enqueued task cheap (skipped, no second paid call).

Locations understood: a local path, ``file://``, ``s3://bucket/key`` (``cos://`` is an alias; S3-compatible
stores are reached through the storage endpoint), ``http(s)://``.

>>> task = Task.for_location("s3://cards/2026/a.jpg", etag='"9b2cf535f27731c974343645a3985328"')
>>> task.id == Task.for_location("cos://cards/2026/a.jpg", etag="9b2cf535f27731c974343645a3985328").id
True
>>> Task.from_json(task.to_json()) == task
True

Dead-letter codes (``DeadLetter.code``, a string so that one field can hold every kind):

- an API code as its decimal string, e.g. ``"-1102"`` (image decode failed), ``"-9011"``, ``"20"``;
- a fetch failure: ``"not_found"``, ``"too_large"``, ``"empty"``, ``"forbidden"``, ``"bad_location"``, ...;
- ``"bad_message"``: the queue message is not JSON, not a Task (wrong types, unknown fields, too large), or has
  no location;
- ``"internal_error"``: processing the message raised an unexpected exception (its type and message are kept);
- ``"delivery_limit"``: the broker dead-lettered the message after too many deliveries (its backstop queue);
- ``"retries_exhausted:<last>"``: every attempt failed transiently; ``<last>`` is the last failure's code
  (``"15"``, ``"http_503"``, ``"timeout"``, ``"rate_limit"``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import urllib.parse
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from worker.api.errors import CardpipeError
from worker.observability import public_text

TASK_VERSION = 1
OUTCOME_VERSION = 1

#: Dead-letter code for a message that cannot be read as a task.
BAD_MESSAGE = "bad_message"
#: Dead-letter code for a message whose processing raised an unexpected exception (a bug, not the image).
INTERNAL_ERROR = "internal_error"
#: Dead-letter code for a message the broker dead-lettered after too many deliveries (the backstop).
DELIVERY_LIMIT = "delivery_limit"
#: The longest reason kept in a dead letter (longer ones are cut, with their full length noted).
REASON_CHARS = 2000
#: The longest excerpt of an unreadable message kept in its dead letter.
EXCERPT_CHARS = 500
#: Prefix of the dead-letter code for a task whose every attempt failed transiently.
RETRIES_EXHAUSTED = "retries_exhausted"

_REMOTE_SCHEMES = ("s3", "cos", "http", "https")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BadMessage(CardpipeError):
    """A queue message that is not a task: the reason says what is wrong with it."""


def normalize_location(location: str) -> str:
    """The canonical spelling of a location, used for ids: ``cos://`` -> ``s3://``, local -> absolute ``file://``.

    >>> normalize_location("cos://b/k.jpg")
    's3://b/k.jpg'
    """
    location = location.strip()
    if not location:
        raise BadMessage("the location is empty")
    scheme, sep, rest = location.partition("://")
    if sep and scheme.lower() in _REMOTE_SCHEMES:
        scheme = scheme.lower()
        return ("s3" if scheme == "cos" else scheme) + "://" + rest
    if sep and scheme.lower() == "file":
        path = urllib.parse.unquote(urllib.parse.urlparse(location).path)
    elif sep:
        raise BadMessage(f"unsupported location scheme {scheme!r} (use a path, file://, s3://, cos:// or http(s)://)")
    else:
        path = location
    return "file://" + os.path.abspath(os.path.expanduser(path))


def _clean_etag(etag: str | None) -> str | None:
    if etag is None:
        return None
    etag = etag.strip().strip('"')
    return etag or None


def task_id_for(location: str, etag: str | None = None, version: str | None = None) -> str:
    """The stable id of an image: 32 hex digits of sha256 over its normalised location and version/ETag."""
    identity = normalize_location(location)
    revision = version or _clean_etag(etag)
    if revision:
        identity += "\n" + revision
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


#: The longest location a task may name; a longer one is a bad message, not a dead letter of that size.
MAX_LOCATION_CHARS = 4096


class PriorOutcome(BaseModel):
    """A dead letter the task had before it was redriven: kept in the task, so its next outcome tells its past."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    reason: str = ""
    attempts: int = 0
    at: dt.datetime


class Task(BaseModel):
    """One image to recognise.

    Parameters:
        id: stable id (see :func:`task_id_for`); computed by :meth:`for_location`.
        location: where the image is (path, ``file://``, ``s3://``, ``cos://``, ``http(s)://``).
        etag, version: the object's ETag / version id when the source knows them.
        attempt: how many times the task was delivered to a worker before (redrives increase it).
        history: the dead letters it had before each redrive, oldest first.
        metadata: free-form context from the source (event name, size, ...), carried into the outcome.
        enqueued_at: when the task was created.
        run_id: the ``cardpipe run`` that enqueued it (None for ``cardpipe enqueue`` and event notifications);
            copied into the outcome so that one run's outcomes can be told from another's.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = TASK_VERSION
    id: str
    location: str
    etag: str | None = None
    version: str | None = None
    attempt: int = Field(default=0, ge=0)
    history: tuple[PriorOutcome, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    enqueued_at: dt.datetime = Field(default_factory=utc_now)
    run_id: str | None = None

    @field_validator("location")
    @classmethod
    def _location_is_usable(cls, value: str) -> str:
        if len(value) > MAX_LOCATION_CHARS:
            raise ValueError(f"the location is {len(value)} characters long (at most {MAX_LOCATION_CHARS})")
        normalize_location(value)
        return value.strip()

    @classmethod
    def for_location(cls, location: str, *, etag: str | None = None, version: str | None = None,
                     metadata: dict[str, Any] | None = None) -> Task:
        """A task for ``location`` with its stable id.

        >>> Task.for_location("/data/cards/a.jpg").location
        '/data/cards/a.jpg'
        """
        etag = _clean_etag(etag)
        return cls(id=task_id_for(location, etag, version), location=location.strip(), etag=etag,
                   version=version, metadata=dict(metadata or {}))

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> Task:
        """Parse a task; raise :class:`BadMessage` saying why when it is not one, whatever is wrong with it.

        Strict on purpose: a field of the wrong type or a field no task has means the producer is not
        speaking this version, and guessing would process an image nobody asked for.
        """
        try:
            raw = json.loads(data) if isinstance(data, str | bytes) else data
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BadMessage(f"not JSON: {str(exc)[:200]}") from None
        if not isinstance(raw, dict):
            raise BadMessage(f"a task is a JSON object, got {type(raw).__name__}")
        unknown = sorted(str(key)[:80] for key in raw if key not in cls.model_fields)
        if unknown:
            raise BadMessage(f"fields no task has: {', '.join(unknown[:10])}")
        if raw.get("v", TASK_VERSION) != TASK_VERSION:
            raise BadMessage(f"unsupported task version {str(raw.get('v'))[:40]!r} (this worker reads v{TASK_VERSION})")
        location = raw.get("location")
        if not isinstance(location, str) or not location.strip():
            raise BadMessage("the task has no location" if not location else
                             f"location: a string is required, got {type(location).__name__}")
        for name in ("id", "etag", "version"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise BadMessage(f"{name}: a string is required, got {type(raw[name]).__name__}")
        try:
            if not raw.get("id"):
                raw = {**raw, "id": task_id_for(location, raw.get("etag"), raw.get("version"))}
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'task'}: {e['msg']}" for e in exc.errors())
            raise BadMessage(f"invalid task: {public_text(problems, REASON_CHARS)}") from None
        except BadMessage:
            raise
        except (ValueError, TypeError) as exc:
            raise BadMessage(f"invalid task: {type(exc).__name__}: {public_text(str(exc), 200)}") from None

    def redriven(self, dead: DeadLetter) -> Task:
        """The task of ``dead`` sent round again: one attempt further, with that dead letter in its history."""
        prior = PriorOutcome(code=dead.code, reason=dead.reason[:REASON_CHARS], attempts=dead.attempts,
                             at=dead.last_attempt_at)
        return self.model_copy(update={"attempt": self.attempt + 1, "history": (*self.history, prior)})


class Result(BaseModel):
    """A successful recognition: the API's answer (code 0) and how it was obtained.

    ``location``, ``run_id`` and ``processed_at`` repeat the task's location, the run that made the outcome and
    when, at the top level, so that a reader (``cardpipe show``, ``export``, a SQL query) needs no nesting;
    they are filled from ``task`` and ``finished_at`` when not given (outcomes written before they existed).
    The card number in ``response`` is full, masked or masked plus ``card_number_hmac`` according to
    ``outcomes.card_number`` (see :mod:`worker.outcomes.cardnumbers`).
    """

    model_config = ConfigDict(extra="ignore")

    v: int = OUTCOME_VERSION
    kind: str = "result"
    task: Task
    code: int = 0
    response: dict[str, Any]
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_s: float
    worker: str
    location: str = ""
    run_id: str | None = None
    processed_at: dt.datetime | None = None
    card_number_hmac: str | None = None

    @model_validator(mode="after")
    def _trace_from_task(self) -> Result:
        self.location = self.location or self.task.location
        self.run_id = self.run_id or self.task.run_id
        self.processed_at = self.processed_at or self.finished_at
        return self

    @property
    def task_id(self) -> str:
        return self.task.id


class DeadLetter(BaseModel):
    """A task that will not succeed as it is: the code and reason say why (card numbers masked).

    ``task`` is None when the message could not be read as a task; ``message_excerpt`` then holds the start
    of the raw body (masked) and ``task_id`` a hash of the body, so the same bad message maps to one entry.
    ``location`` (None for such a message), ``run_id`` and ``processed_at`` are filled as for :class:`Result`.
    """

    model_config = ConfigDict(extra="ignore")

    v: int = OUTCOME_VERSION
    kind: str = "dead_letter"
    task_id: str
    task: Task | None = None
    message_excerpt: str | None = None
    code: str
    reason: str
    attempts: int
    first_attempt_at: dt.datetime
    last_attempt_at: dt.datetime
    worker: str
    location: str | None = None
    run_id: str | None = None
    processed_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _trace_from_task(self) -> DeadLetter:
        if self.task is not None:
            self.location = self.location or self.task.location
            self.run_id = self.run_id or self.task.run_id
        self.processed_at = self.processed_at or self.last_attempt_at
        return self


def message_excerpt(body: bytes) -> str:
    """The start of an unreadable message for its dead letter, card numbers masked, its full size noted when cut."""
    return public_text(body, EXCERPT_CHARS)


def body_id(body: bytes) -> str:
    """The id of a message that is not a task: 32 hex digits of sha256 over its bytes."""
    return hashlib.sha256(body).hexdigest()[:32]


# --- object-store event notifications -------------------------------------------------------------------------

def is_event(raw: dict[str, Any]) -> bool:
    """True for an S3 / COS event notification (or an S3 test event, or one wrapped in an SNS envelope)."""
    if raw.get("Type") == "Notification" and isinstance(raw.get("Message"), str):
        return True
    return "Records" in raw or raw.get("Event") == "s3:TestEvent"


def tasks_from_event(raw: dict[str, Any]) -> list[Task]:
    """The tasks an S3 or COS "object created" notification asks for; [] for test events and removals.

    S3 keys arrive URL-encoded with ``+`` for spaces (decoded with ``unquote_plus``); COS keys arrive as
    ``/<appid>/<bucket>/<key>`` and COS buckets are addressed as ``<bucket>-<appid>`` by S3-compatible clients.

    >>> event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
    ...          "s3": {"bucket": {"name": "cards"}, "object": {"key": "in/my+card.jpg", "eTag": "abc"}}}]}
    >>> [t.location for t in tasks_from_event(event)]
    ['s3://cards/in/my card.jpg']
    """
    if raw.get("Type") == "Notification" and isinstance(raw.get("Message"), str):
        try:
            inner = json.loads(raw["Message"])
        except ValueError:
            raise BadMessage("SNS notification whose Message is not JSON") from None
        if not isinstance(inner, dict):
            raise BadMessage("SNS notification whose Message is not a JSON object")
        return tasks_from_event(inner)
    if raw.get("Event") == "s3:TestEvent":
        return []
    records = raw.get("Records")
    if not isinstance(records, list):
        raise BadMessage("event notification without a Records list")
    tasks: list[Task] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadMessage(f"Records[{index}] is not an object")
        if "cos" in record:
            task = _task_from_cos_record(record, index)
        elif "s3" in record:
            task = _task_from_s3_record(record, index)
        else:
            raise BadMessage(f"Records[{index}] is neither an S3 nor a COS record")
        if task is not None:
            tasks.append(task)
    return tasks


def _task_from_s3_record(record: dict[str, Any], index: int) -> Task | None:
    event_name = str(record.get("eventName", ""))
    if event_name and not event_name.startswith("ObjectCreated"):
        return None
    try:
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = urllib.parse.unquote_plus(obj["key"])
    except (KeyError, TypeError):
        raise BadMessage(f"Records[{index}]: S3 record without s3.bucket.name / s3.object.key") from None
    metadata = {"event": event_name, "event_time": record.get("eventTime"), "size": obj.get("size")}
    return Task.for_location(f"s3://{bucket}/{key}", etag=obj.get("eTag"), version=obj.get("versionId") or None,
                             metadata={k: v for k, v in metadata.items() if v is not None})


def _task_from_cos_record(record: dict[str, Any], index: int) -> Task | None:
    event = record.get("event") or {}
    event_name = str(event.get("eventName", ""))
    if event_name and not event_name.startswith("cos:ObjectCreated"):
        return None
    try:
        cos = record["cos"]
        bucket_info = cos["cosBucket"]
        obj = cos["cosObject"]
        raw_key = str(obj["key"])
        name = str(bucket_info["name"])
    except (KeyError, TypeError):
        raise BadMessage(f"Records[{index}]: COS record without cos.cosBucket.name / cos.cosObject.key") from None
    appid = str(bucket_info.get("appid") or "")
    parts = raw_key.lstrip("/").split("/", 2)
    key = parts[2] if len(parts) == 3 and parts[1] == name else raw_key.lstrip("/")
    key = urllib.parse.unquote(key)
    bucket = name if not appid or name.endswith(f"-{appid}") else f"{name}-{appid}"
    metadata = {"event": event_name, "event_time": event.get("eventTime"), "size": obj.get("size")}
    etag = (obj.get("meta") or {}).get("x-cos-meta-md5") or (obj.get("meta") or {}).get("ETag")
    return Task.for_location(f"cos://{bucket}/{key}", etag=etag, version=obj.get("vid") or None,
                             metadata={k: v for k, v in metadata.items() if v is not None})
