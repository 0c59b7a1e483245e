"""The task a team writes by hand for Celery or Dramatiq, as the brokers benchmark's peers run it.

Read the image, POST it signed (legacy protocol) to the upstream, check the answer, write one JSON outcome
durably (temporary file, fsync, rename), return so that the framework acks. One pooled httpx client is
shared by the worker's threads. Configured from the environment (set by ``scripts/bench/brokers.py``):
``BENCH_UPSTREAM``, ``BENCH_APPID``, ``BENCH_SECRET_ID``, ``BENCH_SECRET_KEY``, ``BENCH_OUT``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx

from worker.api.legacy.signing import sign

_client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))


def recognize_file(path: str) -> None:
    """Process one image end to end; raises on any failure (the framework then retries or gives up)."""
    image = Path(path).read_bytes()
    appid = os.environ["BENCH_APPID"]
    authorization = sign(appid, os.environ["BENCH_SECRET_ID"], os.environ["BENCH_SECRET_KEY"])
    response = _client.post(os.environ["BENCH_UPSTREAM"], data={"appid": appid, "bucket": ""},
                            files={"image": ("image.jpg", image, "image/jpeg")},
                            headers={"Authorization": authorization})
    response.raise_for_status()
    answer = response.json()
    if answer.get("code") != 0:
        raise RuntimeError(f"upstream answered code {answer.get('code')}")
    task_id = hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]
    folder = Path(os.environ["BENCH_OUT"]) / "results"
    temp = folder / f".{task_id}.tmp"
    with open(temp, "wb") as handle:
        handle.write(json.dumps({"task_id": task_id, "location": path, "response": answer},
                                ensure_ascii=False).encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, folder / f"{task_id}.json")
