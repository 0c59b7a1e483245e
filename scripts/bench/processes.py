"""Benchmark: worker processes with the local recognizer, and the threads each process runs.

Runs ``cardpipe run CARDS --processes P --concurrency C`` (a fresh command each time, models loaded in each
worker process) on the same generated cards, for several (P, C, library threads) settings, interleaved over
``--repeat`` rounds so that a change in the shared machine's load hits every setting alike. Reports the
median wall time and each setting's speed-up over the first one (the baseline, ``1x<C>``).

"Library threads" are the thread pools that OpenCV and OpenBLAS start in every process (one per core by
default), on top of the recognizer's own onnxruntime threads (``recognizer.threads``, 1 by default):
``default`` sets ``OPENCV_FOR_THREADS_NUM``, ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` to the number of
cores (what the libraries choose when nothing is set), ``one`` sets them to 1.

Example::

    nice -n 15 python scripts/bench/processes.py --cards 200 --repeat 2 \\
        --setting 1x2:default --setting 2x1:default --setting 2x2:default --setting 2x1:one --setting 1x2:one

With ``--command worker`` each setting is ``cardpipe worker --processes P --concurrency C --until-empty`` on
tasks enqueued beforehand (``cardpipe enqueue``, not timed) to a RabbitMQ queue of the run's own: the fleet
case, where the supervisor only waits on its children and the source is listed by someone else. The wall
time runs from the command's start (imports and model loads included) to its exit.

Figures go to docs/benchmarks.md (section ``processes``, or ``worker-processes`` with ``--command worker``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.pipeline import cardpipe_run  # noqa: E402
from scripts.bench.report import children_cpu_s, load_note, markdown_table, write_section  # noqa: E402

#: What ``one`` sets: the library thread pools of a worker process, one thread each.
ONE_THREAD_ENV = {"OPENCV_FOR_THREADS_NUM": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
LIBRARY_THREAD_VARS = tuple(ONE_THREAD_ENV)


@dataclass(frozen=True)
class Setting:
    processes: int
    concurrency: int
    library_threads: str  # "default" or "one"

    @classmethod
    def parse(cls, text: str) -> Setting:
        shape, _, threads = text.partition(":")
        processes, _, concurrency = shape.partition("x")
        if threads not in {"default", "one"}:
            raise argparse.ArgumentTypeError(f"{text}: library threads must be default or one")
        return cls(int(processes), int(concurrency), threads)

    @property
    def label(self) -> str:
        return f"--processes {self.processes} --concurrency {self.concurrency}, library threads: {self.library_threads}"


def library_thread_env(setting: Setting) -> dict[str, str]:
    """The library-thread variables for ``setting``: one each, or one per core (what the libraries do unset)."""
    per_process = "1" if setting.library_threads == "one" else str(os.cpu_count() or 1)
    return dict.fromkeys(LIBRARY_THREAD_VARS, per_process)



def _worker_config(work: Path, broker_url: str, threads: int) -> Path:
    """A config of the run's own: a fresh task queue on ``broker_url``, outcomes under ``work``."""
    tag = uuid.uuid4().hex[:10]
    config = work / "pipeline.yaml"
    config.write_text(
        f"queue:\n  url: {broker_url}\n  tasks: bench-tasks-{tag}\n  dead_letters: bench-dead-{tag}\n"
        f"  results: bench-results-{tag}\n  backstop: bench-backstop-{tag}\n"
        f"storage:\n  local_roots: ['/']\n"
        f"outcomes:\n  sink: {work / 'outcomes'}\n"
        "ratelimit:\n  backend: none\n"
        "upstream:\n  url: local://\n  appid: '1250000000'\n"
        f"recognizer:\n  threads: {threads}\n  max_side: 1280\n"
        "worker:\n  idle_exit_s: 0.5\n", encoding="utf-8")
    return config


def cardpipe_worker(work: Path, cards: Path, *, processes: int, concurrency: int, threads: int,
                    broker_url: str) -> float:
    """Wall seconds of ``cardpipe worker --until-empty`` over tasks for ``cards`` enqueued beforehand."""
    config = _worker_config(work, broker_url, threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING"]
    enqueued = subprocess.run([*base, "enqueue", str(cards)], env=env, capture_output=True, text=True, check=False,
                              cwd=work)
    if enqueued.returncode != 0:
        raise SystemExit(f"cardpipe enqueue failed ({enqueued.returncode}): {enqueued.stderr[-2000:]}")
    command = [*base, "worker", "--processes", str(processes), "--concurrency", str(concurrency), "--until-empty"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=work)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cardpipe worker failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def _count_outcomes(folder: Path) -> int:
    """Results and dead letters in the outcome store at ``folder`` (its run records are not outcomes)."""
    from worker.outcomes import LocalOutcomeStore

    store = LocalOutcomeStore(folder)
    return sum(1 for _ in store.result_ids()) + sum(1 for _ in store.dead_letter_ids())


def run_setting(setting: Setting, cards: Path, work: Path, threads: int, *, command: str = "run",
                broker_url: str = "") -> tuple[float, float]:
    """Wall seconds and CPU seconds (every process of it) of one fresh ``cardpipe run|worker`` over ``cards``."""
    saved = {name: os.environ.get(name) for name in LIBRARY_THREAD_VARS}
    os.environ.update(library_thread_env(setting))
    cpu_before = children_cpu_s()
    try:
        if command == "worker":
            elapsed = cardpipe_worker(work, cards, processes=setting.processes, concurrency=setting.concurrency,
                                      threads=threads, broker_url=broker_url)
            missing = _count_images(cards) - _count_outcomes(work / "outcomes")
        else:
            elapsed, summary = cardpipe_run(work, cards, processes=setting.processes,
                                            concurrency=setting.concurrency, threads=threads, max_side=1280)
            missing = summary["missing"]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if missing:
        raise SystemExit(f"{setting.label}: {missing} images without an outcome")
    return elapsed, children_cpu_s() - cpu_before


def _count_images(cards: Path) -> int:
    return sum(1 for p in cards.iterdir() if p.is_file() and p.suffix != ".jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--cards-dir", type=Path, default=None, help="use these images instead of generating")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per recognizer")
    parser.add_argument("--setting", type=Setting.parse, action="append", default=None,
                        help="PxC:default|one (repeatable; the first is the baseline)")
    parser.add_argument("--command", choices=("run", "worker"), default="run",
                        help="time `cardpipe run` over the folder, or `cardpipe worker --until-empty` over its tasks")
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672//",
                        help="the broker of --command worker")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    settings: list[Setting] = args.setting or [Setting(1, 2, "default"), Setting(2, 1, "default"),
                                              Setting(2, 2, "default"), Setting(2, 1, "one"), Setting(1, 2, "one")]

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cardpipe-bench-") as scratch:
        scratch_dir = Path(scratch)
        cards = args.cards_dir
        if cards is None:
            from scripts.make_cards import generate

            cards = scratch_dir / "cards"
            generate(cards, args.cards, "mixed", args.seed)
            (cards / "labels.jsonl").unlink(missing_ok=True)
        count = _count_images(cards)
        timings: dict[Setting, list[float]] = {s: [] for s in settings}
        cpu: dict[Setting, list[float]] = {s: [] for s in settings}
        for round_index in range(args.repeat):
            for index, setting in enumerate(settings):
                work = scratch_dir / f"run-{round_index}-{index}"
                work.mkdir()
                wall_s, cpu_s = run_setting(setting, cards, work, args.threads, command=args.command,
                                            broker_url=args.broker_url)
                timings[setting].append(wall_s)
                cpu[setting].append(cpu_s)
                print(f"round {round_index + 1}: {setting.label}: {wall_s:.1f} s wall, {cpu_s:.1f} s CPU, load "
                      f"{os.getloadavg()[0]:.2f}", flush=True)
    load_after = os.getloadavg()

    baseline = statistics.median(timings[settings[0]])
    baseline_cpu = statistics.median(cpu[settings[0]]) / count
    rows = []
    for setting in settings:
        median = statistics.median(timings[setting])
        cpu_per_image = statistics.median(cpu[setting]) / count
        rows.append([setting.label, " / ".join(f"{t:.1f}" for t in timings[setting]), f"{median:.1f}",
                     f"{count / median:.2f}", f"{baseline / median:.2f}x", f"{cpu_per_image:.3f}",
                     f"{cpu_per_image / baseline_cpu:.2f}"])
    what = ("`cardpipe worker --until-empty` on tasks enqueued beforehand to RabbitMQ (wall: command start, "
            "model loads included, to exit)" if args.command == "worker" else "`cardpipe run`")
    body = (
        f"**{count} generated cards (mixed levels), {what} with the local recognizer "
        f"({args.threads} onnxruntime thread per recognition), {args.repeat} interleaved round(s).** "
        f"{load_note(load_before, load_after)} The machine is shared: read the ratios and the CPU time.\n\n"
        + markdown_table(["setting", "wall s per round", "median s", "img/s", "speed-up (wall)",
                          "CPU s per image", "CPU vs baseline"], rows)
    )
    print(body)
    if not args.no_write:
        if args.command == "worker":
            title = "`cardpipe worker --processes`: processes on idle cores (local recognizer)"
            write_section("worker-processes", title, body)
        else:
            write_section("processes", "Worker processes and library threads (local recognizer)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
