"""Run records: what one ``cardpipe run`` was asked, when it ran, and what it produced.

A run gets an id when it starts (``20261202T063114Z-3f2a9c``: sortable by start time, unique across hosts).
Every task it enqueues carries that id, so every outcome it makes records it; and a record is kept next to
the outcomes (``<sink>/runs/<run_id>.json``, a row of ``cardpipe_runs`` in Postgres): source, sink, start
and end, counts by status and by dead-letter code, and a digest of the settings (secrets redacted first) so
that two runs made under different settings can be told apart. The record is written as ``running`` at the
start and rewritten at the end; one still ``running`` long after belongs to a run that was killed.

>>> record = RunRecord.start("./photos", "/var/outcomes", settings_digest="ab12")
>>> record.status, len(record.run_id) > 16
('running', True)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import socket
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from worker.observability import get_logger
from worker.outcomes import OutcomeStore
from worker.tasks import utc_now

log = get_logger("results.runs")

RUNNING = "running"


def new_run_id(now: dt.datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-<6 hex>``: sorts by start time; the random tail keeps parallel starts apart."""
    stamp = (now or utc_now()).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def settings_digest(redacted_settings: Mapping[str, Any]) -> str:
    """16 hex digits of sha256 over the settings (already redacted: no secret reaches the digest)."""
    canonical = json.dumps(redacted_settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class RunRecord(BaseModel):
    """One run. ``status``: running, complete (every image has an outcome), incomplete, empty (the source held
    no images), interrupted (a signal), or halted (any other exit code)."""

    model_config = ConfigDict(extra="ignore")

    v: int = 1
    run_id: str
    source: str
    sink: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = RUNNING
    exit_code: int | None = None
    reason: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
    dead_by_code: dict[str, int] = Field(default_factory=dict)
    settings_digest: str = ""
    host: str = Field(default_factory=socket.gethostname)

    @classmethod
    def start(cls, source: str, sink: str, *, settings_digest: str, run_id: str | None = None) -> RunRecord:
        now = utc_now()
        return cls(run_id=run_id or new_run_id(now), source=source, sink=sink, started_at=now,
                   settings_digest=settings_digest)

    def finish(self, *, exit_code: int, reason: str, counts: Mapping[str, int],
               dead_by_code: Mapping[str, int]) -> RunRecord:
        status = {0: "complete", 1: "incomplete", 7: "empty", 130: "interrupted"}.get(exit_code, "halted")
        return self.model_copy(update={"finished_at": utc_now(), "status": status, "exit_code": exit_code,
                                       "reason": reason, "counts": dict(counts), "dead_by_code": dict(dead_by_code)})


def save_run(store: OutcomeStore, record: RunRecord) -> None:
    store.save_run(record.run_id, record.model_dump(mode="json"))


def list_runs(store: OutcomeStore) -> list[RunRecord]:
    """Every run record of the store, oldest first; unreadable records are logged and left out."""
    records = []
    for raw in store.run_records():
        try:
            records.append(RunRecord.model_validate_json(raw))
        except ValidationError as exc:
            log.warning("runs.unreadable_record", error=str(exc).splitlines()[0])
    return sorted(records, key=lambda r: (r.started_at, r.run_id))


def find_run(store: OutcomeStore, wanted: str) -> RunRecord:
    """The run whose id is ``wanted``, starts with it, or ``latest``; LookupError saying why not."""
    runs = list_runs(store)
    if not runs:
        raise LookupError(f"no run records in {store.location}")
    if wanted == "latest":
        return runs[-1]
    matches = [r for r in runs if r.run_id == wanted] or [r for r in runs if r.run_id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LookupError(f"no run {wanted!r} in {store.location} (cardpipe runs lists them)")
    raise LookupError(f"{wanted!r} names {len(matches)} runs: {', '.join(r.run_id for r in matches[:5])}")
