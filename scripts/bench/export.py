"""Benchmark: ``cardpipe export`` of generated outcomes to CSV and Parquet, at two sizes.

Generates N outcomes (95 % results, 5 % dead letters, the shape ``cardpipe run`` writes) into a local sink,
then runs ``cardpipe export`` as a user does, one fresh process per format and size, and records wall time,
rows/s and the process's peak RSS (``wait4``). The baseline is the smaller size in the same run: rows/s and
peak RSS at the large size divided by those at the small one say whether export is linear in time and flat
in memory (target: RSS ratio about 1.0, whatever the row count).

Example::

    nice -n 15 .venv/bin/python scripts/bench/export.py --sizes 100000 1000000

Figures go to docs/benchmarks.md (section ``export``). The generated outcomes are deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402
from worker.tasks import DeadLetter, Result, Task  # noqa: E402

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
DEAD_EVERY = 20


def _response(number: str) -> dict:
    box = {"x": 28, "y": 101, "width": 244, "height": 22}
    values = [("卡号", number), ("卡类型", "借记卡"), ("卡名字", "牡丹灵通卡"), ("银行信息", "中国工商银行(01020000)"),
              ("有效期", "08/2028")]
    return {"code": 0, "message": "OK", "data": {"session_id": "s" * 32, "items": [
        {"item": name, "itemcoord": box, "itemconf": 0.97, "itemstring": value, "coords": [], "words": [],
         "candword": []} for name, value in values]}}


def _templates() -> tuple[dict, dict]:
    """A result and a dead letter as ``cardpipe run`` writes them, as plain dicts to stamp copies from."""
    task = Task(id="0" * 32, location="s3://cards/x.jpg", run_id="20261201T000000Z-bench0", enqueued_at=T0)
    result = Result(task=task, response=_response("6222020000000000"), attempts=1, started_at=T0, finished_at=T0,
                    duration_s=0.2, worker="bench:1")
    dead = DeadLetter(task_id=task.id, task=task, code="-9011", reason="no card number passed the checks",
                      attempts=1, first_attempt_at=T0, last_attempt_at=T0, worker="bench:1")
    return result.model_dump(mode="json"), dead.model_dump(mode="json")


def generate(sink: Path, count: int) -> float:
    """Write ``count`` outcomes as ``cardpipe run`` would (without fsync: this is set-up, not the measure)."""
    started = time.perf_counter()
    (sink / "results").mkdir(parents=True, exist_ok=True)
    (sink / "dead").mkdir(parents=True, exist_ok=True)
    result, dead = _templates()
    for index in range(count):
        location = f"s3://cards/2026-11/{index // 1000:04d}/card-{index:07d}.jpg"
        task_id = hashlib.sha256(location.encode()).hexdigest()[:32]
        at = (T0 + dt.timedelta(seconds=index)).isoformat().replace("+00:00", "Z")
        outcome = dead if index % DEAD_EVERY == 0 else result
        outcome["task"].update(id=task_id, location=location, enqueued_at=at)
        outcome["location"], outcome["processed_at"] = location, at
        if outcome is dead:
            outcome.update(task_id=task_id, first_attempt_at=at, last_attempt_at=at)
            path = sink / "dead" / f"{task_id}.json"
        else:
            outcome["response"]["data"]["items"][0]["itemstring"] = f"622202{index:09d}0"
            outcome.update(started_at=at, finished_at=at)
            path = sink / "results" / f"{task_id}.json"
        path.write_bytes(json.dumps(outcome, ensure_ascii=False).encode("utf-8"))  # compact: C encoder
    return time.perf_counter() - started


def export_once(sink: Path, fmt: str, target: Path) -> dict:
    """One ``cardpipe export`` in a fresh process: wall seconds, rows, peak RSS (MiB)."""
    command = [sys.executable, "-m", "worker", "--log-level", "WARNING", "export", str(sink), "--format", fmt,
               "-o", str(target), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=sink.parent)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = child.stderr.read() if child.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"export failed: {stderr}")
    rows = int(stderr.split("cardpipe export: ", 1)[1].split(" row(s)")[0])
    return {"seconds": elapsed, "rows": rows, "rss_mib": usage.ru_maxrss / 1024, "bytes": target.stat().st_size}


def report(figures: dict[tuple[int, str], dict], sizes: list[int]) -> str:
    """The Markdown section: each export's figures, then large against small."""
    small, large = sizes
    rows = []
    for size in sizes:
        for fmt in ("csv", "parquet"):
            f = figures[size, fmt]
            rows.append([f"{size:,}", fmt, f"{f['rows']:,}", f"{f['seconds']:.1f}", f"{f['rows'] / f['seconds']:,.0f}",
                         f"{f['rss_mib']:.0f}", f"{f['bytes'] / 2**20:.0f}"])
    ratios = []
    for fmt in ("csv", "parquet"):
        a, b = figures[small, fmt], figures[large, fmt]
        ratios.append([fmt, f"{(b['rows'] / b['seconds']) / (a['rows'] / a['seconds']):.2f}",
                       f"{b['rss_mib'] / a['rss_mib']:.2f}"])
    return (
        f"Outcomes generated into a local sink ({100 // DEAD_EVERY} % dead letters), then exported by "
        f"`cardpipe export SINK --format F -o FILE` in a fresh process each; peak RSS from `wait4`.\n\n"
        + markdown_table(["outcomes", "format", "rows", "wall s", "rows/s", "peak RSS MiB", "file MiB"], rows)
        + f"\n\nLarge ({large:,}) against small ({small:,}), same run (1.00 = rows/s unchanged, memory flat):\n\n"
        + markdown_table(["format", "rows/s ratio", "peak RSS ratio"], ratios)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[100_000, 1_000_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--work", type=Path, default=None, help="where to generate (default: a temporary folder)")
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cardpipe-export-bench-", dir=args.work))
    figures: dict[tuple[int, str], dict] = {}
    sinks = []
    try:
        for size in args.sizes:
            sink = work / f"outcomes-{size}"
            sinks.append(sink)
            seconds = generate(sink, size)
            print(f"generated {size} outcomes in {seconds:.0f} s", file=sys.stderr)
            for fmt in ("csv", "parquet"):
                figures[size, fmt] = export_once(sink, fmt, work / f"export-{size}.{fmt}")
                print(size, fmt, json.dumps(figures[size, fmt]), file=sys.stderr)
        body = report(figures, args.sizes)
        print(body)
        if not args.no_write:
            write_section("export", "Export: outcomes to CSV and Parquet (`cardpipe export`)", body)
    finally:
        print(f"removing {work} (a million files take a while)", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
