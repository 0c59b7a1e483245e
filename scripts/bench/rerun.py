"""Benchmark: ``cardpipe run FOLDER`` over a folder whose every image already has an outcome (the rerun).

A rerun must only find out that nothing is left to do. Measured: files per second of the whole command
(start-up included) against the floor of walking the same folder and building its tasks in one process
(the baseline, same run). Outcome files are laid down directly (their content is not read by a rerun).

Example::

    python scripts/bench/rerun.py --files 100000

Figures go to docs/benchmarks.md (section ``rerun``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    from worker.sources import FolderSource

    with tempfile.TemporaryDirectory(prefix="cardpipe-rerun-") as scratch:
        work = Path(scratch)
        folder = work / "images"
        folder.mkdir()
        dead = work / "var" / "outcomes" / "dead"
        dead.mkdir(parents=True)
        (work / "var" / "outcomes" / "results").mkdir()
        for index in range(args.files):
            (folder / f"card_{index:07d}.jpg").write_bytes(b"\xff\xd8")
        started = time.perf_counter()
        tasks = [task.id for task in FolderSource(folder).tasks()]
        walk_s = time.perf_counter() - started
        for task_id in tasks:
            (dead / f"{task_id}.json").write_text("{}", encoding="utf-8")
        config = work / "pipeline.yaml"
        config.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: var/outcomes\n"
                          "ratelimit:\n  backend: none\nupstream:\n  url: http://127.0.0.1:9/ocr/bankcard\n"
                          "  appid: '1250000000'\nworker:\n  idle_exit_s: 0.2\n", encoding="utf-8")
        command = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", "run",
                   str(folder), "--json", "--no-progress"]
        started = time.perf_counter()
        done = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              check=False)
        run_s = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"cardpipe run failed ({done.returncode}): {done.stderr[-2000:]}")
        summary = json.loads(done.stdout)

    rows = [["walk the folder and build its tasks, in-process (floor)", f"{walk_s:.2f}",
             f"{args.files / walk_s:,.0f}"],
            ["`cardpipe run FOLDER`, everything done (start-up included)", f"{run_s:.2f}",
             f"{args.files / run_s:,.0f}"]]
    body = (f"**{args.files:,} files, every one with an outcome already; 1-minute load average at the end "
            f"{os.getloadavg()[0]:.2f} on 2 shared cores.** The run skipped {summary.get('skipped', summary)} "
            "and enqueued nothing; skips come from one listing of the outcome store.\n\n"
            + markdown_table(["pass", "s", "files/s"], rows)
            + f"\n\nRatio run / floor: {run_s / walk_s:.2f}.")
    print(body)
    if not args.no_write:
        write_section("rerun", "A fully-done rerun of a folder", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
