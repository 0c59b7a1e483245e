"""``cardpipe run`` end to end, as a user runs it: a subprocess on a folder, against a loopback upstream.

Includes the crash test: a run killed with SIGKILL mid-way, then run again, ends with exactly one outcome per
image, and images finished before the kill are not sent to the upstream again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream, Reply

ROOT = Path(__file__).resolve().parent.parent


def _folder(tmp_path: Path, count: int) -> tuple[Path, list[bytes]]:
    folder = tmp_path / "cards"
    folder.mkdir()
    images = []
    for index in range(count):
        data = f"card image {index}".encode()
        (folder / f"card_{index:03d}.jpg").write_bytes(data)
        images.append(data)
    return folder, images


def _config(tmp_path: Path) -> Path:
    """A config in its own folder, apart from the images: the folder named on the command line is readable."""
    (tmp_path / "conf").mkdir(exist_ok=True)
    config = tmp_path / "conf" / "pipeline.yaml"
    config.write_text(
        "queue:\n  url: sqla+sqlite:///var/queue.sqlite\n"
        "outcomes:\n  sink: var/outcomes\n"
        "ratelimit:\n  backend: none\n"
        "retry:\n  initial_backoff_s: 0.01\n  max_backoff_s: 0.05\n"
        "worker:\n  idle_exit_s: 0.3\n", encoding="utf-8")
    return config


def _env(upstream_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPIPE_")}
    env.update({"CARDPIPE_UPSTREAM__URL": upstream_url, "CARDPIPE_UPSTREAM__APPID": "1250000000",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)})
    return env


def _cardpipe(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "worker", "--config", str(config), "--log-level", "WARNING", *args]


def _outcome_ids(tmp_path: Path) -> tuple[list[str], list[str]]:
    base = tmp_path / "conf" / "var" / "outcomes"
    ids = [sorted(p.stem for p in (base / kind).glob("*.json")) if (base / kind).exists() else []
           for kind in ("results", "dead")]
    return ids[0], ids[1]


def test_run_a_folder_to_the_end_and_again(tmp_path: Path) -> None:
    folder, images = _folder(tmp_path, 6)
    config = _config(tmp_path)
    with FakeUpstream() as fake:
        fake.script(images[2], [Reply(code=-1102)])
        fake.script(images[4], [Reply(code=15), Reply()])
        first = subprocess.run(_cardpipe(config, "run", str(folder), "--json", "--concurrency", "3"),
                               env=_env(fake.url), capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout)
        assert (summary["ok"], summary["dead_by_code"], summary["skipped"], summary["missing"]) == \
            (5, {"-1102": 1}, 0, 0)
        calls = fake.total_calls
        assert calls == 7
        second = subprocess.run(_cardpipe(config, "run", str(folder), "--json"), env=_env(fake.url),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["skipped"] == 6
        assert fake.total_calls == calls, "a finished image is never sent again"
    results, dead = _outcome_ids(tmp_path)
    assert len(results) == 5 and len(dead) == 1


def test_run_prints_a_summary_table(tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path, 2)
    (folder / "empty.jpg").write_bytes(b"")
    with FakeUpstream() as fake:
        done = subprocess.run(_cardpipe(_config(tmp_path), "run", str(folder)), env=_env(fake.url),
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for expected in ("ok (result written)", "dead letter [empty]", "throughput", "wall time"):
        assert expected in done.stdout


def test_run_with_two_processes(tmp_path: Path) -> None:
    folder, images = _folder(tmp_path, 10)
    with FakeUpstream(default=Reply(delay=0.02)) as fake:
        fake.script(images[7], [Reply(code=-9011)])
        done = subprocess.run(_cardpipe(_config(tmp_path), "run", str(folder), "--json", "--processes", "2",
                                        "--concurrency", "2"),
                              env=_env(fake.url), capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert (summary["ok"], summary["dead"], summary["missing"]) == (9, 1, 0)
        assert fake.total_calls == 10


def test_run_halts_on_bad_credentials_without_dead_letters(tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path, 4)
    with FakeUpstream(default=Reply(code=11)) as fake:
        done = subprocess.run(_cardpipe(_config(tmp_path), "run", str(folder), "--json"), env=_env(fake.url),
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert "credentials or configuration" in done.stderr
    assert _outcome_ids(tmp_path) == ([], [])


def test_run_rejects_a_missing_source(tmp_path: Path) -> None:
    with FakeUpstream() as fake:
        done = subprocess.run(_cardpipe(_config(tmp_path), "run", str(tmp_path / "nowhere")), env=_env(fake.url),
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such file or folder" in done.stderr


@pytest.mark.timeout(240)
def test_killed_run_resumes_to_exactly_one_outcome_per_image(tmp_path: Path) -> None:
    count = 30
    folder, images = _folder(tmp_path, count)
    config = _config(tmp_path)
    with FakeUpstream(default=Reply(delay=0.1)) as fake:
        fake.script(images[11], [Reply(code=-1102)])
        victim = subprocess.Popen(_cardpipe(config, "run", str(folder), "--json", "--concurrency", "2"),
                                  env=_env(fake.url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(map(len, _outcome_ids(tmp_path))) < 6:
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        before = set(_outcome_ids(tmp_path)[0]) | set(_outcome_ids(tmp_path)[1])
        assert 6 <= len(before) < count, "the kill landed mid-run"
        calls_before = fake.total_calls
        resumed = subprocess.run(_cardpipe(config, "run", str(folder), "--json", "--concurrency", "2"),
                                 env=_env(fake.url), capture_output=True, text=True, timeout=180)
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["missing"] == 0 and summary["skipped"] == len(before)
        results, dead = _outcome_ids(tmp_path)
        assert len(results) + len(dead) == count and not set(results) & set(dead)
        assert len(dead) == 1
        # Only the images left without an outcome were sent again (those in flight at the kill, at most 2, twice).
        assert fake.total_calls - calls_before == count - len(before)
        assert calls_before <= len(before) + 2


def test_run_an_s3_prefix(tmp_path: Path, aws_env: str, unique_name: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    for index in range(4):
        client.put_object(Bucket=unique_name, Key=f"cards/2026/card {index}.jpg", Body=f"s3 card {index}".encode())
    client.put_object(Bucket=unique_name, Key="elsewhere/x.jpg", Body=b"not in the prefix")
    with FakeUpstream() as fake:
        fake.script(b"s3 card 2", [Reply(code=-9011)])
        env = {**_env(fake.url), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "CARDPIPE_STORAGE__S3__ENDPOINT_URL": aws_env,
               "CARDPIPE_STORAGE__S3__ADDRESSING_STYLE": "path"}
        done = subprocess.run(_cardpipe(_config(tmp_path), "run", f"s3://{unique_name}/cards/", "--json"), env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert (summary["ok"], summary["dead_by_code"]) == (3, {"-9011": 1})
        assert fake.total_calls == 4 and fake.calls_for(b"not in the prefix") == 0
