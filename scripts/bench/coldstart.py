"""Benchmark the recognizer's cold start: a fresh ``cardpipe recognize`` process, to its first answer.

Why: ``cardpipe recognize`` on one photo, a worker's first message and a server's first request all pay for
Python's imports and the model sessions before any card is read. What it measures, each in fresh processes
(the median of ``--repeat`` runs), against the BASELINE in the same run, ``python -c pass``:

* ``cardpipe recognize`` on one generated card, to its answer (wall and CPU seconds);
* ``cardpipe recognize`` on an empty file (answered before any model is loaded);
* the model load alone: the engine's imports, and ``OcrEngine.load`` (the onnxruntime sessions).

``--before DIR`` runs the same measures on another checkout of the repository (e.g. a ``git worktree`` of
an older commit) in the same run, its processes taking turns with the current code's, so that both see the
same load; its figures are printed and written beside the current code's.

Each command runs once unmeasured first, with bytecode writing allowed: an installed package has its
``.pyc`` files (pip compiles them), and a cold start is about imports and sessions, not the compiler.

Usage::

    python scripts/bench/coldstart.py --repeat 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_LOAD_PROBE = """
import json, sys, time
clock = time.process_time
started, cpu_started = time.perf_counter(), clock()
from worker.config import load_config
settings = load_config(None).recognizer
cpu_config = clock()
from worker.recognizer.engine import OcrEngine
imported, cpu_imported = time.perf_counter(), clock()
from worker.recognizer.service import Recognizer
cpu_service = clock()
recognizer = Recognizer.from_settings(settings)
cpu_loaded = clock()
data = open(sys.argv[1], "rb").read()
recognizer.recognize(data)
cpu_first = clock()
recognizer.recognize(data)
cpu_second = clock()
print(json.dumps({"import": imported - started, "sessions": recognizer.engine.load_seconds,
                  "cpu_config": cpu_config - cpu_started, "cpu_engine_imports": cpu_imported - cpu_config,
                  "cpu_service_imports": cpu_service - cpu_imported, "cpu_load": cpu_loaded - cpu_service,
                  "cpu_first_image": cpu_first - cpu_loaded, "cpu_same_image_again": cpu_second - cpu_first}))
"""
#: The CPU seconds of a cold start, part by part, as the load probe reports them.
CPU_PARTS = (
    ("cpu_config", "the configuration (`worker.config`, pydantic, the pipeline's modules it imports)"),
    ("cpu_engine_imports", "the engine's imports (numpy, OpenCV, onnxruntime)"),
    ("cpu_service_imports", "the rest of the recognizer's imports"),
    ("cpu_load", "the model sessions and the BIN table"),
    ("cpu_first_image", "the first image"),
    ("cpu_same_image_again", "the same image again (warm)"),
)


def _timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, the child's and its children's) and stdout of one run."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(cwd)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _median_runs(command: list[str], checkouts: list[Path], repeat: int) -> list[dict[str, float]]:
    """The median wall and CPU seconds of ``command`` in each checkout, their runs interleaved.

    Why interleaved: on a shared machine the load changes within a minute; running the checkouts' runs in
    turn lets each see the same load, so their ratio holds even when the absolute figures drift.
    """
    for checkout in checkouts:
        _timed(command, checkout)  # unmeasured: bytecode written and files in the page cache, as when installed
    runs: list[list[tuple[float, float, str]]] = [[] for _ in checkouts]
    for _ in range(repeat):
        for index, checkout in enumerate(checkouts):
            runs[index].append(_timed(command, checkout))
    return [{"wall": statistics.median(r[0] for r in each), "cpu": statistics.median(r[1] for r in each)}
            for each in runs]


def measure(checkouts: list[Path], card: Path, empty: Path, repeat: int) -> list[dict[str, dict[str, float]]]:
    """Every measure of each checkout; the baseline is measured in between, so all see the same load."""
    recognize = [sys.executable, "-m", "worker", "--log-level", "ERROR", "recognize"]
    commands = {
        "baseline": [sys.executable, "-c", "pass"],
        "card": [*recognize, str(card)],
        "empty": [*recognize, str(empty)],
    }
    figures: list[dict[str, dict[str, float]]] = [{} for _ in checkouts]
    for name, command in commands.items():
        for index, result in enumerate(_median_runs(command, checkouts, repeat)):
            figures[index][name] = result
    loads: list[list[dict[str, float]]] = [[] for _ in checkouts]
    for _ in range(repeat):
        for index, checkout in enumerate(checkouts):
            output = _timed([sys.executable, "-c", _LOAD_PROBE, str(card)], checkout)[2]
            loads[index].append(json.loads(output.splitlines()[-1]))
    for index, probes in enumerate(loads):
        figures[index]["load"] = {key: statistics.median(x[key] for x in probes) for key in probes[0]}
    return figures


def _commit_of(checkout: Path) -> str:
    """The checkout's commit (short hash, ``+`` when it has uncommitted changes), for the report."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def report(current: dict[str, dict[str, float]], before: dict[str, dict[str, float]] | None, repeat: int,
           commits: list[str]) -> str:
    from scripts.bench.report import markdown_table

    def rows(label: str, f: dict[str, dict[str, float]]) -> list[list[object]]:
        base = f["baseline"]["wall"]
        return [
            [label, "`python -c pass` (baseline)", f"{base:.3f}", f"{f['baseline']['cpu']:.2f}", "1.0"],
            [label, "`cardpipe recognize` one card, to its answer", f"{f['card']['wall']:.3f}",
             f"{f['card']['cpu']:.2f}", f"{f['card']['wall'] / base:.1f}"],
            [label, "`cardpipe recognize` an empty file", f"{f['empty']['wall']:.3f}", f"{f['empty']['cpu']:.2f}",
             f"{f['empty']['wall'] / base:.1f}"],
            [label, "imports: the configuration and the engine", f"{f['load']['import']:.3f}", "-",
             f"{f['load']['import'] / base:.1f}"],
            [label, "model load: `OcrEngine.load` (sessions)", f"{f['load']['sessions']:.3f}", "-",
             f"{f['load']['sessions'] / base:.1f}"],
        ]

    table_rows = rows("this code", current) + (rows("before", before) if before else [])
    table = markdown_table(["code", "measure", "wall s (median)", "CPU s (median)", "x baseline wall"], table_rows)
    labels = [("this code", current), *([("before", before)] if before else [])]
    parts = markdown_table(["where the CPU goes (s, median)", *(label for label, _ in labels)],
                           [[text, *(f"{f['load'].get(key, float('nan')):.3f}" for _, f in labels)]
                            for key, text in CPU_PARTS])
    load = os.getloadavg()
    return (
        "Targets: first answer of `cardpipe recognize` on one image <= 1.0 s wall; model load <= 0.5 s.\n\n"
        f"Commits: this code {commits[0]}" + (f", before {commits[1]}" if len(commits) > 1 else "") + ".\n\n"
        f"{table}\n\n{parts}\n\nEach figure is the median of {repeat} fresh processes, one onnxruntime "
        "thread; the card is one generated moderate card (`scripts/make_cards.py`, seed 5150). CPU s is user + "
        "system of the process; where the CPU goes is measured inside one process with `time.process_time`. "
        f"Load average at the end of the run: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min) on "
        "a machine shared with other work; the ratio to the baseline, measured in the same run, is the figure "
        "to compare, and CPU s drifts less with the load than wall s.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="fresh processes per measure (the median is kept)")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to measure in the same run")
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing it")
    args = parser.parse_args(argv)

    from scripts.make_cards import generate

    with tempfile.TemporaryDirectory(prefix="cardpipe-coldstart-") as scratch:
        folder = Path(scratch)
        label = generate(folder, 1, "moderate", 5150)[0]
        empty = folder / "empty.jpg"
        empty.write_bytes(b"")
        checkouts = [ROOT, *([args.before.resolve()] if args.before else [])]
        current, *others = measure(checkouts, folder / label["file"], empty, args.repeat)
        before = others[0] if others else None
    body = report(current, before, args.repeat, [_commit_of(checkout) for checkout in checkouts])
    if not args.no_write:
        from scripts.bench.report import write_section

        write_section("coldstart", "Recognizer cold start: `cardpipe recognize` in a fresh process", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
