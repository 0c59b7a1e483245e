"""Benchmark: what one recognition costs in CPU time, by library thread pools and recognizing threads.

When every core is busy (several worker processes or threads), throughput is cores / CPU seconds per image, so
CPU time per image is the figure that decides the right thread settings — and unlike wall time it stays
readable on a shared, loaded machine. For each setting a fresh process is spawned with the environment set
before anything is imported, and reports:

- start-up: CPU seconds to import cardpipe and load the recognizer's models (paid once per worker process);
- CPU seconds per image with 1 and with 2 threads recognizing at once (all threads of the process counted);
- the OS threads the process runs;
- the share of a recognition's CPU spent in calls that release the GIL (cProfile, one thread).

Settings: ``default`` (OpenCV, OpenBLAS and OpenMP choose: one thread per core), ``one`` (one thread each:
what cardpipe's commands set unless the user set the variables).

Example::

    nice -n 15 python scripts/bench/threads.py --images 40

Figures go to docs/benchmarks.md (section ``threads``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import load_note, markdown_table, write_section  # noqa: E402

LIBRARY_THREAD_VARS = ("OPENCV_FOR_THREADS_NUM", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def _measure(setting: str, paths: list[str], results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    value = "1" if setting == "one" else str(os.cpu_count() or 1)
    os.environ.update(dict.fromkeys(LIBRARY_THREAD_VARS, value))
    began = time.process_time()
    from worker.recognizer import RecognizerSettings, get_recognizer

    recognizer = get_recognizer(RecognizerSettings())
    recognizer.recognize(Path(paths[0]).read_bytes())  # first-call allocations belong to start-up
    startup_cpu = time.process_time() - began
    images = [Path(p).read_bytes() for p in paths]

    def cpu_per_image(workers: int) -> float:
        chunks = [images[i::workers] for i in range(workers)]
        before = time.process_time()
        threads = [threading.Thread(target=lambda c=c: [recognizer.recognize(i) for i in c]) for c in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return (time.process_time() - before) / len(images)

    one = cpu_per_image(1)
    two = cpu_per_image(2)
    results.put({"setting": setting, "startup_cpu_s": startup_cpu, "cpu_1": one, "cpu_2": two,
                 "os_threads": len(os.listdir("/proc/self/task")), "gil_free": gil_free_share(recognizer, images)})


def gil_free_share(recognizer: object, images: list[bytes]) -> float:
    """Share of one thread's recognition CPU spent in calls that release the GIL (onnxruntime's run, OpenCV).

    It bounds what threads in one process gain: with a share f, two threads go at most 1 / (1 - f / 2) times
    as fast as one, while two processes are not bound by it.
    """
    import cProfile
    import pstats

    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for image in images:
        recognizer.recognize(image)  # type: ignore[attr-defined]
    profile.disable()
    stats = pstats.Stats(profile)
    released = sum(tt for (file, _, name), (_, _, tt, _, _) in stats.stats.items()  # type: ignore[attr-defined]
                   if ("onnxruntime" in name and name.endswith(".run>")) or (file == "~" and _is_opencv(name)))
    return float(released / stats.total_tt)  # type: ignore[attr-defined]


def _is_opencv(name: str) -> bool:
    """cProfile names OpenCV's functions ``<resize>``, ``<warpPerspective>``: built-ins without a module."""
    return name.startswith("<") and "method" not in name and "function" not in name and "built-in" not in name


def measure(setting: str, paths: list[str]) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_measure, args=(setting, paths, results))
    process.start()
    result = results.get(timeout=3600)
    process.join(60)
    return result  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--cards-dir", type=Path, default=None, help="use these images instead of generating")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds of every setting")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cardpipe-bench-") as scratch:
        cards = args.cards_dir
        if cards is None:
            from scripts.make_cards import generate

            cards = Path(scratch) / "cards"
            generate(cards, args.images, "mixed", args.seed)
        paths = sorted(str(p) for p in cards.iterdir() if p.suffix in {".jpg", ".jpeg", ".png"})[: args.images]
        runs: dict[str, list[dict[str, float]]] = {"default": [], "one": []}
        for _ in range(args.repeat):
            for setting in runs:
                runs[setting].append(measure(setting, paths))
                print(runs[setting][-1], flush=True)
    load_after = os.getloadavg()

    def best(setting: str, key: str) -> float:
        return min(r[key] for r in runs[setting])  # the least disturbed round

    rows = []
    for setting in runs:
        rows.append([setting, f"{best(setting, 'startup_cpu_s'):.2f}", f"{best(setting, 'cpu_1'):.3f}",
                     f"{best(setting, 'cpu_2'):.3f}", f"{best(setting, 'cpu_2') / best('one', 'cpu_2'):.2f}",
                     int(runs[setting][0]["os_threads"]), f"{max(r['gil_free'] for r in runs[setting]):.2f}"])
    body = (
        f"**{len(paths)} generated cards, one process per setting, {args.repeat} interleaved round(s) (the "
        f"lowest figure of each is shown).** {load_note(load_before, load_after)}\n\n"
        + markdown_table(["library threads", "start-up CPU s (imports + models)", "CPU s / image, 1 thread",
                          "CPU s / image, 2 threads", "2 threads vs one", "OS threads", "GIL-free share"], rows)
    )
    print(body)
    if not args.no_write:
        write_section("threads", "Recognizer CPU per image by library threads", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
