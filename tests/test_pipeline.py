"""The pipeline core against real peers: a loopback HTTP upstream speaking the seed protocol, local files,
moto's S3, and a real token bucket. No queue involved: the core knows nothing of transports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
import structlog
import structlog.testing

from tests.fakes.upstream import FakeUpstream, Reply
from worker.outcomes import LocalOutcomeStore
from worker.pipeline import HaltError, OutcomeStatus, Pipeline, has_outcome
from worker.ratelimit import RateLimitSettings, TokenBucket, open_limiter
from worker.retry import CircuitBreaker, RetrySettings
from worker.storage import StorageSettings, open_storage
from worker.tasks import Task
from worker.upstreams import UpstreamSettings, open_upstream

FAST_RETRY = RetrySettings(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02, max_elapsed_s=10,
                           circuit_threshold=50, circuit_cooldown_s=0.05)
CARD = "6222020200112233446"


@pytest.fixture
def fake() -> FakeUpstream:
    with FakeUpstream() as server:
        yield server


def _pipeline(tmp_path: Path, upstream_url: str, *, retry: RetrySettings = FAST_RETRY, limiter=None,
              storage: StorageSettings | None = None) -> Pipeline:
    storage_settings = storage or StorageSettings(local_roots=[tmp_path])
    upstream = open_upstream(UpstreamSettings(url=upstream_url, appid="1250000000", timeout_s=5))
    return Pipeline(open_storage(storage_settings), upstream,
                    limiter or open_limiter(RateLimitSettings(backend="none")),
                    LocalOutcomeStore(tmp_path / "outcomes"), retry, "test:1",
                    breaker=CircuitBreaker.from_settings(retry), acquire_timeout_s=5)


def _image(tmp_path: Path, name: str, data: bytes | None = None) -> tuple[Task, bytes]:
    content = data if data is not None else f"card image {name}".encode()
    path = tmp_path / name
    path.write_bytes(content)
    return Task.for_location(str(path)), content


def test_success_writes_a_result_with_the_full_number(tmp_path: Path, fake: FakeUpstream) -> None:
    task, image = _image(tmp_path, "a.jpg")
    fake.script(image, [Reply(number=CARD)])
    pipeline = _pipeline(tmp_path, fake.url)
    outcome = pipeline.process(task)
    assert outcome.status is OutcomeStatus.OK and outcome.attempts == 1
    result = pipeline.outcomes.read_result(task.id)
    assert result is not None and result.response["data"]["items"][0]["itemstring"] == CARD
    assert result.task == task and result.worker == "test:1"


def test_transient_then_success_counts_attempts_and_tokens(tmp_path: Path, fake: FakeUpstream) -> None:
    task, image = _image(tmp_path, "b.jpg")
    fake.script(image, [Reply(code=15), Reply(code=0)])
    bucket = TokenBucket(rate=0.001, burst=3)
    outcome = _pipeline(tmp_path, fake.url, limiter=bucket).process(task)
    assert outcome.status is OutcomeStatus.OK and outcome.attempts == 2
    assert fake.calls_for(image) == 2
    # Two of the three tokens were taken: one left, then none.
    assert bucket.acquire(timeout=0) is True
    assert bucket.acquire(timeout=0) is False


def test_permanent_code_becomes_a_dead_letter(tmp_path: Path, fake: FakeUpstream) -> None:
    task, image = _image(tmp_path, "c.jpg")
    fake.script(image, [Reply(code=-9011, message=f"could not read {CARD}")])
    pipeline = _pipeline(tmp_path, fake.url)
    outcome = pipeline.process(task)
    assert (outcome.status, outcome.code) == (OutcomeStatus.DEAD, "-9011")
    assert fake.calls_for(image) == 1, "permanent codes are not retried"
    dead = pipeline.outcomes.read_dead_letter(task.id)
    assert dead is not None and dead.code == "-9011" and dead.attempts == 1 and dead.task == task
    assert CARD not in dead.model_dump_json() and "622202*********3446" in dead.reason


def test_each_task_done_line_names_the_image(tmp_path: Path, fake: FakeUpstream) -> None:
    unreadable, unreadable_image = _image(tmp_path, "unreadable.jpg")
    refused, refused_image = _image(tmp_path, "refused.jpg")
    fake.script(unreadable_image, [Reply(code=-1102)])
    fake.script(refused_image, [Reply(code=-9011)])
    pipeline = _pipeline(tmp_path, fake.url)
    with structlog.testing.capture_logs() as lines:
        pipeline.process(unreadable)
        pipeline.process(refused)
    done = {line["task_id"]: line["location"] for line in lines if line["event"] == "task.done"}
    assert done == {unreadable.id: unreadable.location, refused.id: refused.location}


def test_auth_failure_halts_and_dead_letters_nothing(tmp_path: Path, fake: FakeUpstream) -> None:
    task, image = _image(tmp_path, "d.jpg")
    fake.script(image, [Reply(code=5)])
    pipeline = _pipeline(tmp_path, fake.url)
    with pytest.raises(HaltError) as raised:
        pipeline.process(task)
    assert raised.value.code == "5"
    assert not pipeline.outcomes.exists(task.id)
    assert list(pipeline.outcomes.dead_letter_ids()) == []


def test_exhausted_retries_become_a_dead_letter(tmp_path: Path, fake: FakeUpstream) -> None:
    task, image = _image(tmp_path, "e.jpg")
    fake.script(image, [Reply(code=15)] * 5)
    pipeline = _pipeline(tmp_path, fake.url)
    outcome = pipeline.process(task)
    assert (outcome.status, outcome.code, outcome.attempts) == (OutcomeStatus.DEAD, "retries_exhausted:15", 3)
    assert fake.calls_for(image) == 3
    assert "3 attempt(s) failed" in pipeline.outcomes.read_dead_letter(task.id).reason


def test_http_5xx_is_transient(tmp_path: Path, fake: FakeUpstream) -> None:
    task, image = _image(tmp_path, "f.jpg")
    fake.script(image, [Reply(http_status=503, body=b"<html>busy</html>"), Reply()])
    outcome = _pipeline(tmp_path, fake.url).process(task)
    assert outcome.status is OutcomeStatus.OK and fake.calls_for(image) == 2


def test_already_done_is_skipped_without_a_call(tmp_path: Path, fake: FakeUpstream) -> None:
    task, _ = _image(tmp_path, "g.jpg")
    pipeline = _pipeline(tmp_path, fake.url)
    assert pipeline.process(task).status is OutcomeStatus.OK
    calls = fake.total_calls
    again = pipeline.process_message(task.to_json())
    assert again.status is OutcomeStatus.SKIPPED
    assert fake.total_calls == calls


def test_open_circuit_requeues_instead_of_dead_lettering(tmp_path: Path, fake: FakeUpstream) -> None:
    retry = FAST_RETRY.model_copy(update={"circuit_threshold": 2})
    task, image = _image(tmp_path, "h.jpg")
    fake.script(image, [Reply(code=-5208)] * 10)
    pipeline = _pipeline(tmp_path, fake.url, retry=retry)
    outcome = pipeline.process(task)
    assert outcome.status is OutcomeStatus.REQUEUE and outcome.code == "-5208"
    assert not pipeline.outcomes.exists(task.id)
    assert pipeline.breaker.in_outage


def test_bad_messages_become_dead_letters_keyed_by_body(tmp_path: Path, fake: FakeUpstream) -> None:
    pipeline = _pipeline(tmp_path, fake.url)
    first = pipeline.process_message(b"\x00 this is not json")
    assert (first.status, first.code) == (OutcomeStatus.DEAD, "bad_message")
    dead = pipeline.outcomes.read_dead_letter(first.task_id)
    assert dead.task is None and "not JSON" in dead.reason and dead.message_excerpt
    assert pipeline.process_message(b"\x00 this is not json").status is OutcomeStatus.SKIPPED, "same body, same id"
    no_location = pipeline.process_message(json.dumps({"id": "abc", "metadata": {"card": CARD}}))
    assert (no_location.status, no_location.code) == (OutcomeStatus.DEAD, "bad_message")
    stored = pipeline.outcomes.read_dead_letter(no_location.task_id)
    assert "no location" in stored.reason and CARD not in stored.model_dump_json()
    assert fake.total_calls == 0


def test_has_outcome_keys_a_message_as_the_pipeline_keys_what_it_writes(tmp_path: Path, fake: FakeUpstream) -> None:
    pipeline = _pipeline(tmp_path, fake.url)
    task, _ = _image(tmp_path, "a.jpg")
    garbage = b"\x00 this is not json"
    assert not has_outcome(pipeline.outcomes, task.to_json())
    assert not has_outcome(pipeline.outcomes, garbage)
    pipeline.process_message(task.to_json())
    pipeline.process_message(garbage)
    assert has_outcome(pipeline.outcomes, task.to_json()), "by task id"
    assert has_outcome(pipeline.outcomes, garbage), "by the bad_message dead letter's body hash"
    assert has_outcome(pipeline.outcomes, json.dumps({"Records": []})), "an event naming nothing needs nothing"


@pytest.mark.parametrize(("name", "expected"), [("missing.jpg", "not_found"), ("empty.jpg", "empty")])
def test_unfetchable_files_become_dead_letters(tmp_path: Path, fake: FakeUpstream, name: str, expected: str) -> None:
    if name == "empty.jpg":
        (tmp_path / name).write_bytes(b"")
    pipeline = _pipeline(tmp_path, fake.url)
    outcome = pipeline.process(Task.for_location(str(tmp_path / name)))
    assert (outcome.status, outcome.code) == (OutcomeStatus.DEAD, expected)
    assert fake.total_calls == 0


def test_a_50_mb_file_is_refused_before_any_call(tmp_path: Path, fake: FakeUpstream) -> None:
    path = tmp_path / "huge.jpg"
    with path.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(50 * 1024 * 1024)
    pipeline = _pipeline(tmp_path, fake.url)
    outcome = pipeline.process(Task.for_location(str(path)))
    assert (outcome.status, outcome.code) == (OutcomeStatus.DEAD, "too_large")
    assert fake.total_calls == 0


def test_a_missing_s3_key_is_a_dead_letter(tmp_path: Path, fake: FakeUpstream, aws_env: str,
                                           unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    client.put_object(Bucket=unique_name, Key="in/ok card.jpg", Body=b"s3 card bytes")
    storage = StorageSettings(local_roots=[tmp_path], s3={"endpoint_url": aws_env, "region": "us-east-1"})
    pipeline = _pipeline(tmp_path, fake.url, storage=storage)
    missing = pipeline.process(Task.for_location(f"s3://{unique_name}/in/nothing.jpg"))
    assert (missing.status, missing.code) == (OutcomeStatus.DEAD, "not_found")
    event = {"Records": [{"eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": unique_name}, "object": {"key": "in/ok+card.jpg"}}}]}
    found = pipeline.process_message(json.dumps(event))
    assert found.status is OutcomeStatus.OK and fake.calls_for(b"s3 card bytes") == 1
    assert pipeline.process_message(json.dumps({"Event": "s3:TestEvent"})).status is OutcomeStatus.IGNORED


def test_the_pipeline_keeps_going_after_bad_input(tmp_path: Path, fake: FakeUpstream) -> None:
    pipeline = _pipeline(tmp_path, fake.url)
    outcomes = [pipeline.process_message(body) for body in (b"{", b'{"location": "/nope/x.jpg"}')]
    good, _ = _image(tmp_path, "good.jpg")
    outcomes.append(pipeline.process(good))
    assert [o.status for o in outcomes] == [OutcomeStatus.DEAD, OutcomeStatus.DEAD, OutcomeStatus.OK]
    assert sorted(os.listdir(tmp_path / "outcomes" / "dead")).__len__() == 2


def test_the_local_recognizer_dead_letters_bad_images_and_keeps_going(tmp_path: Path) -> None:
    """Through the embedded upstream (local://): each bad file ends as a dead letter with the API's code."""
    from worker.recognizer import RecognizerSettings

    jpeg_start = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
    bad = {"truncated.jpg": jpeg_start, "notes.txt": b"not a picture of a card\n"}
    tasks = {name: _image(tmp_path, name, data)[0] for name, data in bad.items()}
    pipeline = Pipeline(open_storage(StorageSettings(local_roots=[tmp_path])),
                        open_upstream(UpstreamSettings(), recognizer_settings=RecognizerSettings(threads=1)),
                        open_limiter(RateLimitSettings(backend="none")), LocalOutcomeStore(tmp_path / "outcomes"),
                        FAST_RETRY, "test:1")
    outcomes = {name: pipeline.process(task) for name, task in tasks.items()}
    for name, outcome in outcomes.items():
        assert (outcome.status, outcome.code) == (OutcomeStatus.DEAD, "-1102"), name
        dead = pipeline.outcomes.read_dead_letter(tasks[name].id)
        assert dead is not None and dead.reason and dead.attempts == 1


def test_the_retry_policy_is_built_only_once_a_call_has_failed(tmp_path: Path, fake: FakeUpstream,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A first call that succeeds costs no retry machinery; a transient failure hands over to the policy,
    which counts the failed call as its first attempt."""
    pipeline = _pipeline(tmp_path, fake.url)
    built: list[str] = []
    real = pipeline._retrying
    monkeypatch.setattr(pipeline, "_retrying", lambda task, stage: built.append(stage) or real(task, stage))
    smooth, _ = _image(tmp_path, "smooth.jpg")
    assert pipeline.process(smooth).status is OutcomeStatus.OK and built == []
    bumpy, data = _image(tmp_path, "bumpy.jpg", b"bumpy image")
    fake.script(data, [Reply(code=15), Reply(code=15), Reply()])
    outcome = pipeline.process(bumpy)
    assert outcome.status is OutcomeStatus.OK and outcome.attempts == 3 and built == ["recognize"]
    assert fake.calls_for(data) == 3
