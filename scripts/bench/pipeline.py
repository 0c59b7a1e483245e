"""Benchmark: what the pipeline costs on top of the work it orchestrates.

1. Local recognizer: ``cardpipe run`` over N generated cards (queue, fetch, limiter, retries, outcome files,
   acks) against the baseline of calling the recognizer on the same images in a plain loop, with the same
   number of processes and the same recognizer settings; both include loading the models. Target: ratio <= 1.15.
2. Zero-latency upstream: ``cardpipe run`` over M small files against the loopback fake upstream (answers
   at once), so what is measured is the embedded pipeline's own per-message cost (SQLite queue, local fetch,
   HTTP call, fsynced outcome, ack).

Example::

    .venv/bin/python scripts/bench/pipeline.py --cards 200 --processes 2 --messages 1000

Figures go to docs/benchmarks.md (section ``pipeline``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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


def _recognize_chunk(args: tuple[list[str], int, int]) -> int:
    paths, threads, max_side = args
    from worker.recognizer import RecognizerSettings, get_recognizer

    recognizer = get_recognizer(RecognizerSettings(threads=threads, max_side=max_side))
    read = 0
    for path in paths:
        answer = recognizer.recognize(Path(path).read_bytes())
        read += int(answer.ok)
    return read


def baseline_loop(images: list[Path], processes: int, threads: int, max_side: int) -> tuple[float, int]:
    """Seconds to recognize every image in ``processes`` fresh processes (models loaded in each), and #read."""
    chunks = [[str(p) for p in images[i::processes]] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with context.Pool(processes) as pool:
        read = sum(pool.map(_recognize_chunk, [(chunk, threads, max_side) for chunk in chunks]))
    return time.perf_counter() - started, read


def _config(folder: Path, *, threads: int, max_side: int, upstream: str) -> Path:
    config = folder / "pipeline.yaml"
    config.write_text(
        "queue:\n  url: sqla+sqlite:///var/queue.sqlite\n"
        "outcomes:\n  sink: var/outcomes\n"
        "ratelimit:\n  backend: none\n"
        f"upstream:\n  url: {upstream}\n  appid: '1250000000'\n"
        f"recognizer:\n  threads: {threads}\n  max_side: {max_side}\n"
        "worker:\n  idle_exit_s: 0.2\n", encoding="utf-8")
    return config


def cardpipe_run(work: Path, source: Path, *, processes: int, concurrency: int, threads: int, max_side: int,
                 upstream: str = "local://") -> tuple[float, dict]:
    """Wall seconds of a fresh ``cardpipe run`` (as a user runs it), and its JSON summary."""
    config = _config(work, threads=threads, max_side=max_side, upstream=upstream)
    command = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", "run",
               str(source), "--json", "--no-progress", "--processes", str(processes),
               "--concurrency", str(concurrency)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cardpipe run failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="threads per process for the local recognizer")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per recognizer")
    parser.add_argument("--max-side", type=int, default=1280)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fake-concurrency", type=int, default=4, help="threads for the zero-latency run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    from scripts.make_cards import generate
    from tests.fakes.upstream import FakeUpstream

    with tempfile.TemporaryDirectory(prefix="cardpipe-bench-") as scratch:
        scratch_dir = Path(scratch)
        cards = scratch_dir / "cards"
        generate(cards, args.cards, "mixed", args.seed)
        (cards / "labels.jsonl").unlink(missing_ok=True)
        images = sorted(p for p in cards.iterdir() if p.is_file())

        loop_s, loop_read = baseline_loop(images, args.processes, args.threads, args.max_side)
        run_dir = scratch_dir / "run-local"
        run_dir.mkdir()
        run_s, summary = cardpipe_run(run_dir, cards, processes=args.processes, concurrency=args.concurrency,
                                      threads=args.threads, max_side=args.max_side)
        ratio = run_s / loop_s

        small = scratch_dir / "small"
        small.mkdir()
        for index in range(args.messages):
            (small / f"img_{index:05d}.jpg").write_bytes(f"tiny image {index}".encode())
        fake_dir = scratch_dir / "run-fake"
        fake_dir.mkdir()
        with FakeUpstream() as fake:
            fake_s, fake_summary = cardpipe_run(fake_dir, small, processes=1, concurrency=args.fake_concurrency,
                                                threads=1,
                                                max_side=args.max_side, upstream=fake.url)
            calls = fake.total_calls

    per_msg = fake_summary["throughput_img_s"]
    rows_local = [
        ["recognizer in a loop (baseline)", f"{loop_s:.1f}", f"{len(images) / loop_s:.2f}", loop_read],
        ["`cardpipe run` (queue, fetch, limiter, outcomes, acks)", f"{run_s:.1f}", f"{len(images) / run_s:.2f}",
         summary["ok"]],
    ]
    rows_fake = [
        ["messages", args.messages],
        ["upstream calls", calls],
        ["processing throughput (queue drain)", f"{per_msg:.1f} msg/s"],
        ["per-message cost", f"{1000 / per_msg:.2f} ms/msg" if per_msg else "n/a"],
        ["whole command incl. start-up and enqueue", f"{fake_s:.2f} s ({args.messages / fake_s:.1f} msg/s)"],
    ]
    body = (
        f"**Local recognizer, {len(images)} generated cards (mixed levels, seed {args.seed}), {args.processes} "
        f"process(es), {args.threads} onnxruntime thread(s) each.** Both sides start fresh processes and load the "
        f"models; `cardpipe run` also enqueues, writes one fsynced outcome file per image and acks.\n\n"
        + markdown_table(["", "wall s", "img/s", "results"], rows_local)
        + f"\n\n**Ratio `cardpipe run` / loop: {ratio:.3f}** (target <= 1.15: "
        + ("met" if ratio <= 1.15 else "NOT met") + ").\n\n"
        f"**Zero-latency fake upstream (loopback HTTP, answers at once), {args.messages} tiny files, 1 process x "
        f"{args.fake_concurrency} threads, embedded SQLite queue.** This is the pipeline's own cost per message.\n\n"
        + markdown_table(["", "value"], rows_fake)
    )
    print(body)
    if not args.no_write:
        write_section("pipeline", "Pipeline overhead (`cardpipe run`)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
