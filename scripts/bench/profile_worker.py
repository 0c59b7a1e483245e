"""Where a cardpipe worker's CPU goes per message: py-spy over a long run, summed by function.

Enqueues N copies of a ~30 KB JPEG (the brokers benchmark's work), runs ``cardpipe worker --until-empty
--concurrency 8`` under ``py-spy record --gil`` (samples only the thread holding the GIL, i.e. Python
CPU), and prints each function's share of the samples, inclusive, for cardpipe's code and what it calls.

Example::

    python scripts/bench/profile_worker.py --broker redis --messages 3000 --match worker/

Needs py-spy (the ``bench`` extra) and permission to trace a child process. Prints only.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench import brokers  # noqa: E402


def summarize(raw: Path, match: str, top: int, *, self_time: bool = False) -> str:
    """Share of samples per function (``name (file)``), from py-spy's raw (collapsed) output: inclusive, or
    with ``self_time`` only the samples where the function itself was running."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        for name in ({frames[-1]} if self_time else set(frames)):
            inclusive[name] += samples
    rows = [f"{n / total * 100:5.1f}%  {name}" for name, n in inclusive.most_common() if match in name][:top]
    return f"{total} samples\n" + "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--match", default="", help="show only functions whose name or file contains this")
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--self", dest="self_time", action="store_true",
                        help="rank functions by their own samples (not counting what they call)")
    parser.add_argument("--keep-raw", type=Path, help="also copy py-spy's raw (collapsed) stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    with tempfile.TemporaryDirectory(prefix="cardpipe-profile-") as scratch:
        work = Path(scratch)
        folder = work / "images"
        folder.mkdir()
        image = brokers.make_jpeg()
        for index in range(args.messages):
            (folder / f"card_{index:06d}.jpg").write_bytes(image)
        url = {"redis": brokers.REDIS_URL, "rabbitmq": brokers.AMQP_URL}[args.broker]
        queue = f"bench-profile-{uuid.uuid4().hex[:8]}"
        fake, upstream = brokers.start_fake_upstream()
        try:
            config = brokers._cardpipe_config(work, url, queue, folder, upstream)
            env = brokers._python_env({"CARDPIPE_UPSTREAM__SECRET_ID": brokers.SECRET_ID,
                                       "CARDPIPE_UPSTREAM__SECRET_KEY": brokers.SECRET_KEY})
            base = [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING"]
            subprocess.run([*base, "enqueue", str(folder)], env=env, cwd=work, check=True)
            raw = work / "py-spy.txt"
            subprocess.run([py_spy, "record", "--gil", "-r", str(args.rate), "-f", "raw", "-o", str(raw), "--",
                            *base, "worker", "--concurrency", str(brokers.THREADS), "--until-empty"],
                           env=env, cwd=work, check=True)
            if args.keep_raw:
                shutil.copyfile(raw, args.keep_raw)
            print(summarize(raw, args.match, args.top, self_time=args.self_time))
        finally:
            if fake.stdin is not None:
                fake.stdin.close()
            fake.wait(timeout=30)
            brokers._delete_queues(args.broker, url, queue)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
