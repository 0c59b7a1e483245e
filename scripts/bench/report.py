"""Write one benchmark's figures into docs/benchmarks.md without touching the others'.

Each benchmark owns a section between ``<!-- BEGIN name -->`` and ``<!-- END name -->``; re-running it
replaces only that section, so the page always shows the latest run of each benchmark with its command.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import platform
import re
import resource
import shlex
import sys
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
_HEADER = """# Benchmarks

Every figure below was produced by the command shown with it, on the machine described in its section.
Speed figures are ratios against a baseline measured in the same run, so they stay meaningful on a noisy,
shared machine; absolute times are given for orientation only.
"""


def command_line() -> str:
    """The command that is running now, as a user would type it (``python -m module`` kept as such)."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    head = ["python", "-m", main_spec.name] if main_spec is not None else ["python", sys.argv[0]]
    if main_spec is None:
        with contextlib.suppress(ValueError):
            head[1] = str(Path(sys.argv[0]).resolve().relative_to(Path.cwd()))
    return " ".join(shlex.quote(a) for a in [*head, *sys.argv[1:]])


def machine_summary() -> str:
    import os

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, title: str, body: str, *, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) benchmark ``name``'s section with ``title`` and ``body`` (Markdown)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- BEGIN {name} -->\n## {title}\n\n"
        f"Command: `{command_line()}`  \nRun: {stamp} on {machine_summary()}\n\n"
        f"{body.strip()}\n<!-- END {name} -->"
    )
    text = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_note(before: tuple[float, float, float], after: tuple[float, float, float]) -> str:
    """The machine's load average around a benchmark, for the reader of a figure taken on a shared machine."""
    return (f"Load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in before)}, after: "
            f"{' / '.join(f'{x:.2f}' for x in after)}.")


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every child process this one has waited for: read before and after a
    command to get what it and its own children spent."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
