"""Benchmark: enqueueing an S3 prefix (moto's S3 server on loopback) to RabbitMQ, in objects per second.

Three passes over the same prefix, one after the other in one run:

1. listing only: ListObjectsV2 page by page, tasks built, nothing published (the baseline);
2. ``cardpipe enqueue``'s code path: listing, the outcome-store listing for skips, one publish and one
   checkpoint record per object (the checkpoint is what makes a killed listing resume without duplicates);
3. a rerun over the same prefix when every object already has an outcome (the skips).

moto runs in its own process, so its CPU is not this process's. Queue names are unique to the run and the
queue is deleted at the end.

Example::

    python scripts/bench/s3_enqueue.py --objects 100000

Figures go to docs/benchmarks.md (section ``s3-enqueue``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: Run in the moto process: objects are created in its backend directly (an HTTP PUT each would take minutes),
#: then it serves the S3 API on loopback until its stdin closes.
_MOTO_SERVER = """
import sys
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
port, bucket, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
backend.create_bucket(bucket, "us-east-1")
for index in range(count):
    backend.put_object(bucket, f"{prefix}{index:07d}.jpg", b"\\xff\\xd8")
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(port), verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    import boto3
    import kombu

    from worker.jobs.enqueue import enqueue_source
    from worker.outcomes import LocalOutcomeStore
    from worker.queues import QueueSettings, TaskPublisher, task_queue
    from worker.sources import S3PrefixSource

    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    port = _free_port()
    bucket, prefix = "bench-cards", "cards/2026-11/"
    began = time.perf_counter()
    moto = subprocess.Popen([sys.executable, "-c", _MOTO_SERVER, str(port), bucket, prefix, str(args.objects)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    queue_name = f"bench-s3-enqueue-{uuid.uuid4().hex[:8]}"
    settings = QueueSettings(url=AMQP_URL, tasks=queue_name)
    try:
        assert moto.stdout is not None
        if moto.stdout.readline().strip() != "ready":
            raise SystemExit("moto's S3 server did not start")
        print(f"moto holds {args.objects} objects after {time.perf_counter() - began:.0f} s", flush=True)
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        url = f"s3://{bucket}/{prefix}"

        started = time.perf_counter()
        listed = sum(len(page) for page in S3PrefixSource(client, url).pages())
        list_s = time.perf_counter() - started
        print(f"listed {listed} in {list_s:.1f} s", flush=True)

        with tempfile.TemporaryDirectory(prefix="cardpipe-s3-enqueue-") as scratch:
            outcomes = LocalOutcomeStore(Path(scratch) / "outcomes")
            source = S3PrefixSource(client, url, checkpoint_dir=Path(scratch) / "checkpoints")
            started = time.perf_counter()
            with TaskPublisher(settings) as publisher:
                report = enqueue_source(source, outcomes, publisher)
            enqueue_s = time.perf_counter() - started
            print(f"enqueued {report.enqueued} in {enqueue_s:.1f} s", flush=True)
            source.clear_checkpoint()

            # Every object done, so that the rerun only skips: outcome files written plainly (an fsynced
            # create per object would take longer than the benchmark).
            dead = Path(outcomes.location) / "dead"
            for task in S3PrefixSource(client, url).tasks():
                (dead / f"{task.id}.json").write_text("{}", encoding="utf-8")
            started = time.perf_counter()
            with TaskPublisher(settings) as publisher:
                rerun = enqueue_source(S3PrefixSource(client, url), outcomes, publisher)
            rerun_s = time.perf_counter() - started
    finally:
        with kombu.Connection(AMQP_URL) as conn:
            task_queue(settings)(conn.default_channel).delete()
        if moto.stdin is not None:
            moto.stdin.close()
        try:
            moto.wait(timeout=30)
        except subprocess.TimeoutExpired:
            moto.kill()

    rows = [
        ["listing only (baseline)", listed, f"{list_s:.1f}", f"{listed / list_s:,.0f}", "1.00"],
        ["enqueue to RabbitMQ (list, skip check, publish, checkpoint)", report.enqueued, f"{enqueue_s:.1f}",
         f"{report.enqueued / enqueue_s:,.0f}", f"{(report.enqueued / enqueue_s) / (listed / list_s):.2f}"],
        ["rerun, every object done (list, skip)", rerun.skipped, f"{rerun_s:.1f}",
         f"{rerun.skipped / rerun_s:,.0f}", f"{(rerun.skipped / rerun_s) / (listed / list_s):.2f}"],
    ]
    body = (f"**{args.objects:,} objects under one prefix of moto's S3 server (own process, loopback), enqueued to "
            f"RabbitMQ on loopback (no publisher confirms; persistent messages); 1-minute load average at the end: "
            f"{os.getloadavg()[0]:.2f} on 2 shared cores.**\n\n"
            + markdown_table(["pass", "objects", "s", "objects/s", "vs listing"], rows))
    print(body)
    if not args.no_write:
        write_section("s3-enqueue", "Enqueueing an S3 prefix to RabbitMQ", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
