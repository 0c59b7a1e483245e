"""``export``'s core: stream a store's outcomes as rows, filtered, protected, with bad ones counted not fatal.

Rows come straight from the store's raw stream (:meth:`OutcomeStore.raw_outcomes`), so memory does not grow
with the number of outcomes. A file or row that is not a valid outcome is reported through ``on_corrupt``
with its id and skipped; the counts say how many.

>>> report = ExportReport(); report.count("ok"); report.rows
1
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from worker.outcomes import DEAD_DIR, RESULTS_DIR, CardNumberProtector, OutcomeStore
from worker.results.rows import dead_letter_row, result_row
from worker.tasks import DeadLetter, Result

STATUSES = ("ok", "dead", "all")
_FOLDERS = {"ok": (RESULTS_DIR,), "dead": (DEAD_DIR,), "all": (RESULTS_DIR, DEAD_DIR)}


@dataclass(frozen=True)
class ExportFilter:
    """Which outcomes to export: ``status`` ok / dead / all, one ``run_id``, processed at or after ``since``."""

    status: str = "all"
    run_id: str | None = None
    since: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    @property
    def folders(self) -> tuple[str, ...]:
        return _FOLDERS[self.status]

    def keeps(self, row: dict[str, Any]) -> bool:
        if self.run_id is not None and row["run_id"] != self.run_id:
            return False
        stamp = row["processed_at"]
        return self.since is None or (stamp is not None and stamp >= self.since)


@dataclass
class ExportReport:
    rows: int = 0
    ok: int = 0
    dead: int = 0
    filtered_out: int = 0
    corrupt: list[str] = field(default_factory=list)

    def count(self, status: str) -> None:
        self.rows += 1
        if status == "ok":
            self.ok += 1
        else:
            self.dead += 1


def parse_since(text: str) -> dt.datetime:
    """An ISO date or date-time; naive means UTC. ``2026-12-01``, ``2026-12-01T06:00``, ``...+08:00``."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since: not an ISO date or date-time: {text!r} (e.g. 2026-12-01T06:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def export_rows(store: OutcomeStore, selection: ExportFilter, protector: CardNumberProtector, report: ExportReport,
                *, on_corrupt: Callable[[str, str], None] | None = None) -> Iterator[dict[str, Any]]:
    """The rows ``selection`` keeps, card numbers protected by ``protector``; tallies into ``report``."""
    for folder, task_id, raw in store.raw_outcomes(selection.folders, run_id=selection.run_id,
                                                   since=selection.since):
        try:
            if folder == RESULTS_DIR:
                row = result_row(protector.protect(Result.model_validate_json(raw)))
            else:
                row = dead_letter_row(DeadLetter.model_validate_json(raw))
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
            reason = _first_line(exc)
            report.corrupt.append(task_id)
            if on_corrupt is not None:
                on_corrupt(task_id, reason)
            continue
        if not selection.keeps(row):
            report.filtered_out += 1
            continue
        report.count(row["status"])
        yield row


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    if isinstance(exc, ValidationError):
        return f"not a valid outcome: {exc.error_count()} problem(s), first: {'; '.join(text[1:3])}"
    return text[0] if text else type(exc).__name__
