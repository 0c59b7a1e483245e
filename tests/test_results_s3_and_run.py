"""Results on S3 (server-side encryption asked for on every object, export and show from the bucket) and what
``cardpipe run`` leaves behind: run ids in outcomes, the run record, the summary naming the outcome folder,
and an empty or mistyped source said as such (exit 7)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.test_results import T0, _dead, _result, logging_on_a_lasting_stream  # noqa: F401 - autouse
from tests.test_run import _cardpipe, _config, _env, _folder
from worker.outcomes import OutcomeSettings, open_outcomes
from worker.outcomes.s3 import S3OutcomeStore
from worker.results.runs import RunRecord, list_runs, save_run


@pytest.mark.parametrize("sse", ["AES256", "aws:kms"])
def test_s3_sink_asks_for_server_side_encryption_on_every_object(aws_env: str, unique_name: str, sse: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    key_id = None
    if sse == "aws:kms":
        key_id = boto3.client("kms", endpoint_url=aws_env, region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    settings = OutcomeSettings(sink=f"s3://{unique_name}/out", s3={"sse": sse, "kms_key_id": key_id})
    store = open_outcomes(settings, client=client)
    assert isinstance(store, S3OutcomeStore)
    result, dead = _result("/cards/a.jpg", "r1", T0), _dead("/cards/b.jpg", "r1", T0)
    assert store.write_result(result) and store.write_dead_letter(dead)
    save_run(store, RunRecord(run_id="r1", source="/cards", sink=store.location, started_at=T0))
    keys = [f"out/results/{result.task_id}.json", f"out/dead/{dead.task_id}.json", "out/runs/r1.json"]
    for key in keys:
        head = client.head_object(Bucket=unique_name, Key=key)
        assert head["ServerSideEncryption"] == sse, key
        if key_id:
            assert key_id in head["SSEKMSKeyId"]
    assert [r.run_id for r in list_runs(store)] == ["r1"]


def test_export_and_show_read_an_s3_sink(tmp_path: Path, aws_env: str, unique_name: str,
                                         capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.cli import main

    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    store = open_outcomes(OutcomeSettings(sink=f"s3://{unique_name}/out"), client=client)
    store.write_result(_result("s3://cards/a.jpg", "r1", T0))
    store.write_dead_letter(_dead("s3://cards/b.jpg", "r1", T0))
    client.put_object(Bucket=unique_name, Key="out/results/" + "ef" * 16 + ".json", Body=b"\x00garbage")
    monkeypatch.setenv("CARDPIPE_STORAGE__S3__ENDPOINT_URL", aws_env)
    monkeypatch.setenv("CARDPIPE_STORAGE__S3__ADDRESSING_STYLE", "path")
    config = tmp_path / "pipeline.yaml"
    config.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\n")
    code = main(["--config", str(config), "export", f"s3://{unique_name}/out", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert sorted(r["location"] for r in rows) == ["s3://cards/a.jpg", "s3://cards/b.jpg"]
    assert f"skipped {'ef' * 16}" in captured.err and "1 corrupt" in captured.err
    code = main(["--config", str(config), "show", "cos://cards/b.jpg", "--sink", f"s3://{unique_name}/out"])
    assert code == 0 and json.loads(capsys.readouterr().out)["code"] == "-1102"


def test_run_records_its_run_in_outcomes_and_beside_them(tmp_path: Path) -> None:
    folder, images = _folder(tmp_path, 3)
    config = _config(tmp_path)
    with FakeUpstream() as fake:
        fake.script(images[1], [Reply(code=-9011)])
        done = subprocess.run(_cardpipe(config, "run", str(folder)), env=_env(fake.url), capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    outcomes = tmp_path / "conf" / "var" / "outcomes"
    assert f"outcomes in {outcomes}" in done.stdout and "cardpipe export --run" in done.stdout
    [record_file] = list((outcomes / "runs").glob("*.json"))
    record = json.loads(record_file.read_text(encoding="utf-8"))
    assert record["status"] == "complete" and record["counts"]["ok"] == 2
    assert record["dead_by_code"] == {"-9011": 1} and record["source"] == str(folder)
    assert record["run_id"] in done.stdout and len(record["settings_digest"]) == 16
    for path in [*outcomes.glob("results/*.json"), *outcomes.glob("dead/*.json")]:
        outcome = json.loads(path.read_text(encoding="utf-8"))
        assert outcome["run_id"] == record["run_id"] and outcome["location"].startswith(str(folder))
        assert outcome["processed_at"]


def test_an_empty_source_says_where_it_looked(tmp_path: Path, aws_env: str, unique_name: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.jpg").write_bytes(b"hidden files are skipped")
    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket=unique_name)
    env = {**_env("http://127.0.0.1:9"), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "CARDPIPE_STORAGE__S3__ENDPOINT_URL": aws_env,
           "CARDPIPE_STORAGE__S3__ADDRESSING_STYLE": "path"}
    config = _config(tmp_path)
    done = subprocess.run(_cardpipe(config, "run", str(empty)), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert f"no images found in {empty} (looked for every file under it, e.g. .jpg .jpeg .png" in done.stderr
    typo = subprocess.run(_cardpipe(config, "run", f"s3://{unique_name}/cardz/"), env=env, capture_output=True,
                          text=True, timeout=60)
    assert typo.returncode == 7
    assert f"no images found in s3://{unique_name}/cardz/" in typo.stderr and "prefix spelling" in typo.stderr
