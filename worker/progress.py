"""What ``cardpipe run`` shows: a progress bar on stderr while it runs, and a summary table at the end.

The tally is fed one settled outcome at a time (from the in-process consumer, or from worker processes'
JSON lines), so the same code draws the bar for one process or many.

>>> tally = RunTally(already_done=2)
>>> tally.add("ok", "0"); tally.add("dead", "-1102")
>>> tally.finished, dict(tally.dead_by_code)
(2, {'-1102': 1})
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from worker.observability import stderr_console


@dataclass
class RunTally:
    """Counts for one ``cardpipe run``: what this run settled, and what was done before it started."""

    already_done: int = 0
    enqueued: int = 0
    ok: int = 0
    skipped: int = 0
    ignored: int = 0
    dead_by_code: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: str, code: str | None) -> None:
        with self._lock:
            if status == "ok":
                self.ok += 1
            elif status == "dead":
                self.dead_by_code[code or "?"] += 1
            elif status == "skipped":
                self.skipped += 1
            elif status == "ignored":
                self.ignored += 1

    @property
    def dead(self) -> int:
        return sum(self.dead_by_code.values())

    @property
    def finished(self) -> int:
        """Tasks settled by this run (each enqueued task settles once)."""
        return self.ok + self.dead + self.skipped + self.ignored


class RunProgress:
    """A rich progress bar on stderr (drawn only on a terminal); ``update()`` is cheap and thread-safe."""

    def __init__(self, tally: RunTally, *, enabled: bool = True) -> None:
        self.tally = tally
        console = stderr_console()  # the log handler's console too: log lines print above the bar
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("ok {task.fields[ok]}  dead {task.fields[dead]}"), TimeElapsedColumn(),
            TimeRemainingColumn(), console=console, disable=not (enabled and console.is_terminal),
            transient=False,
        )
        self._task_id = self._progress.add_task("enqueueing", total=None, ok=0, dead=0)

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.update()
        self._progress.stop()

    def processing(self, total: int) -> None:
        self._progress.update(self._task_id, description="processing", total=total, completed=self.tally.finished)

    def enqueueing(self, count: int) -> None:
        self._progress.update(self._task_id, completed=count)

    def update(self) -> None:
        self._progress.update(self._task_id, completed=self.tally.finished, ok=self.tally.ok, dead=self.tally.dead)


def summary_table(tally: RunTally, *, wall_s: float, processing_s: float, missing: int, source: str,
                  outcomes: str) -> Table:
    """The end-of-run summary: outcomes by kind (dead letters by code), throughput and wall time."""
    table = Table(title=escape(f"cardpipe run: {source}"), title_justify="left", show_header=True)
    table.add_column("outcome")
    table.add_column("images", justify="right")
    table.add_row("ok (result written)", str(tally.ok))
    for code, count in sorted(tally.dead_by_code.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(escape(f"dead letter [{code}]"), str(count))
    table.add_row("skipped (outcome already stored)", str(tally.already_done + tally.skipped))
    if tally.ignored:
        table.add_row("ignored messages", str(tally.ignored))
    if missing:
        table.add_row("[bold red]without an outcome (run again)[/]", str(missing))
    processed = tally.ok + tally.dead
    throughput = processed / processing_s if processing_s > 0 else 0.0
    table.add_section()
    table.add_row("throughput", f"{throughput:.2f} img/s")
    table.add_row("wall time", f"{wall_s:.1f} s")
    table.add_row("outcomes in", escape(outcomes))
    return table


def summary_json(tally: RunTally, *, wall_s: float, processing_s: float, missing: int) -> dict[str, Any]:
    processed = tally.ok + tally.dead
    return {
        "ok": tally.ok, "dead": tally.dead, "dead_by_code": dict(tally.dead_by_code),
        "skipped": tally.already_done + tally.skipped, "ignored": tally.ignored, "missing": missing,
        "throughput_img_s": round(processed / processing_s, 3) if processing_s > 0 else 0.0,
        "wall_s": round(wall_s, 3),
    }
