"""Benchmark: the Postgres outcome sink against local outcome files, on ``cardpipe run``.

``cardpipe run`` over M tiny files against the zero-latency loopback fake upstream (tests/fakes/upstream.py),
so the outcome write is a large share of what is measured. The baseline is the same run with the default
local-directory sink (fsynced file + link per outcome); the Postgres sink writes one ``INSERT ... ON CONFLICT
DO NOTHING`` per outcome (plus the existence check before the call) into a fresh database. Runs alternate
(local, Postgres, local, ...); each Postgres run is divided by the local run just before it, and the median
of those pair ratios is the figure, so a shared machine whose load drifts hits both sides of a pair alike.

Example::

    nice -n 15 .venv/bin/python scripts/bench/outcome_sinks.py --messages 1000 --repeats 3

Figures go to docs/benchmarks.md (section ``outcome-sinks``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402


def _run(work: Path, source: Path, sink: str, upstream: str, concurrency: int) -> dict:
    work.mkdir(parents=True)
    config = work / "pipeline.yaml"
    config.write_text(
        "queue:\n  url: sqla+sqlite:///var/queue.sqlite\n"
        f"outcomes:\n  sink: {sink}\n"
        "ratelimit:\n  backend: none\n"
        f"upstream:\n  url: {upstream}\n  appid: '1250000000'\n"
        "worker:\n  idle_exit_s: 0.2\n", encoding="utf-8")
    command = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", "run",
               str(source), "--json", "--no-progress", "--concurrency", str(concurrency)]
    done = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"cardpipe run failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    if summary["missing"]:
        raise SystemExit(f"incomplete run: {summary}")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL: a fresh database is created per Postgres run and dropped after")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    import psycopg

    from tests.fakes.upstream import FakeUpstream

    per_msg: dict[str, list[float]] = {"local": [], "postgres": []}
    with tempfile.TemporaryDirectory(prefix="cardpipe-sink-bench-") as scratch:
        folder = Path(scratch) / "images"
        folder.mkdir()
        for index in range(args.messages):
            (folder / f"img_{index:05d}.jpg").write_bytes(f"tiny image {index}".encode())
        with FakeUpstream() as fake:
            for repeat in range(args.repeats):
                local = _run(Path(scratch) / f"local-{repeat}", folder, "var/outcomes", fake.url, args.concurrency)
                per_msg["local"].append(1000 / local["throughput_img_s"])
                database = f"cardpipe_bench_{uuid.uuid4().hex[:10]}"
                with psycopg.connect(args.postgres, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{database}"')
                try:
                    url = args.postgres.rsplit("/", 1)[0] + f"/{database}"
                    pg = _run(Path(scratch) / f"pg-{repeat}", folder, url, fake.url, args.concurrency)
                    per_msg["postgres"].append(1000 / pg["throughput_img_s"])
                finally:
                    with psycopg.connect(args.postgres, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                print(repeat, {k: round(v[-1], 3) for k, v in per_msg.items()}, file=sys.stderr)

    local_ms, pg_ms = statistics.median(per_msg["local"]), statistics.median(per_msg["postgres"])
    pair_ratios = [pg / local for local, pg in zip(per_msg["local"], per_msg["postgres"], strict=True)]
    rows = [
        ["local directory (baseline)", f"{local_ms:.2f}", ", ".join(f"{v:.2f}" for v in per_msg["local"])],
        ["PostgreSQL (loopback)", f"{pg_ms:.2f}", ", ".join(f"{v:.2f}" for v in per_msg["postgres"])],
        ["pair ratio Postgres / local", f"{statistics.median(pair_ratios):.2f}",
         ", ".join(f"{v:.2f}" for v in pair_ratios)],
    ]
    body = (
        f"`cardpipe run` over {args.messages} tiny files, zero-latency fake upstream, embedded SQLite queue, "
        f"1 process x {args.concurrency} threads; per-message cost = 1 / processing throughput (queue drain); "
        f"{args.repeats} alternating pairs of runs.\n\n"
        + markdown_table(["", "median", "each run / pair"], rows)
        + f"\n\n**Per-message cost, Postgres / local files: {statistics.median(pair_ratios):.2f}** "
        "(median of the pair ratios)."
    )
    print(body)
    if not args.no_write:
        write_section("outcome-sinks", "Outcome sinks: PostgreSQL against local files (`cardpipe run`)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
