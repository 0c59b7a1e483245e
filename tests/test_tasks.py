"""Tasks, outcomes' JSON and event parsing: versioned round trips, stable ids, S3 and COS notifications."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from worker.tasks import BadMessage, DeadLetter, Result, Task, is_event, task_id_for, tasks_from_event, utc_now


def test_task_json_round_trip_keeps_every_field() -> None:
    task = Task.for_location("s3://cards/in/a.jpg", etag='"abc"', version="v7", metadata={"size": 12})
    data = json.loads(task.to_json())
    assert data["v"] == 1 and data["location"] == "s3://cards/in/a.jpg" and data["etag"] == "abc"
    assert set(data) >= {"v", "id", "location", "etag", "version", "attempt", "metadata", "enqueued_at"}
    assert Task.from_json(task.to_json()) == task
    assert Task.from_json(task.to_json().encode()) == task


def test_ids_are_stable_and_32_hex() -> None:
    first = Task.for_location("/data/cards/a.jpg")
    again = Task.for_location("file:///data/cards/a.jpg")
    assert first.id == again.id and len(first.id) == 32 and int(first.id, 16) >= 0
    assert first.id != Task.for_location("/data/cards/b.jpg").id
    assert Task.for_location("cos://b/k.jpg", etag="e").id == Task.for_location("s3://b/k.jpg", etag='"e"').id
    assert task_id_for("s3://b/k.jpg", "e1") != task_id_for("s3://b/k.jpg", "e2"), "a changed object is a new task"
    assert task_id_for("s3://b/k.jpg", "e1", "ver") == task_id_for("s3://b/k.jpg", "e2", "ver"), "version wins"


def test_relative_paths_normalise_to_the_same_id(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Task.for_location("a.jpg").id == Task.for_location(str(tmp_path / "a.jpg")).id


@pytest.mark.parametrize(("body", "why"), [
    (b"not json at all", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"id": "x"}', "no location"),
    (b'{"location": ""}', "no location"),
    (b'{"location": "ftp://host/a.jpg"}', "unsupported location scheme"),
    (b'{"location": "/a.jpg", "v": 99}', "unsupported task version"),
    (b'{"location": "/a.jpg", "attempt": "many"}', "attempt"),
])
def test_bad_messages_say_why(body: bytes, why: str) -> None:
    with pytest.raises(BadMessage, match=why):
        Task.from_json(body)


def test_a_task_without_id_gets_its_stable_id() -> None:
    task = Task.from_json('{"location": "s3://b/k.jpg", "etag": "e"}')
    assert task.id == task_id_for("s3://b/k.jpg", "e")


def test_result_and_dead_letter_round_trip() -> None:
    task = Task.for_location("/x.jpg")
    now = utc_now()
    result = Result(task=task, response={"code": 0}, attempts=2, started_at=now, finished_at=now, duration_s=0.5,
                    worker="h:1")
    assert Result.model_validate_json(result.model_dump_json()) == result
    dead = DeadLetter(task_id=task.id, task=task, code="-1102", reason="not an image", attempts=1,
                      first_attempt_at=now, last_attempt_at=now, worker="h:1")
    assert DeadLetter.model_validate_json(dead.model_dump_json()) == dead


def test_s3_event_keys_are_unquoted_and_test_events_ignored() -> None:
    event = {"Records": [
        {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-11-24T00:00:00Z",
         "s3": {"bucket": {"name": "cards"}, "object": {"key": "in%2Fmy+card%281%29.jpg", "size": 10,
                                                         "eTag": "abc", "versionId": "v1"}}},
        {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
         "s3": {"bucket": {"name": "cards"}, "object": {"key": "gone.jpg"}}},
    ]}
    assert is_event(event)
    tasks = tasks_from_event(event)
    assert [t.location for t in tasks] == ["s3://cards/in/my card(1).jpg"]
    assert tasks[0].version == "v1" and tasks[0].metadata["size"] == 10
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "cards"}
    assert is_event(test_event) and tasks_from_event(test_event) == []


def test_sns_wrapped_s3_event() -> None:
    inner = {"Records": [{"eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": "b"}, "object": {"key": "k.jpg", "eTag": "e"}}}]}
    wrapped = {"Type": "Notification", "Message": json.dumps(inner)}
    assert [t.location for t in tasks_from_event(wrapped)] == ["s3://b/k.jpg"]


def test_cos_event_key_drops_appid_and_bucket() -> None:
    event = {"Records": [{
        "cos": {"cosSchemaVersion": "1.0",
                "cosObject": {"key": "/1250000000/cards/2026/a b.jpg", "size": 5, "vid": "",
                              "meta": {"x-cos-meta-md5": "m5"}},
                "cosBucket": {"name": "cards", "appid": "1250000000", "region": "ap-guangzhou"}},
        "event": {"eventName": "cos:ObjectCreated:Put", "eventTime": 1763942400, "eventSource": "qcs::cos"},
    }]}
    tasks = tasks_from_event(event)
    assert [t.location for t in tasks] == ["cos://cards-1250000000/2026/a b.jpg"]
    assert tasks[0].etag == "m5" and tasks[0].metadata["event_time"] == 1763942400


@pytest.mark.parametrize("event", [
    {"Records": "nope"},
    {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]},
    {"Records": [{"something": "else"}]},
])
def test_malformed_events_are_bad_messages(event: dict) -> None:
    with pytest.raises(BadMessage):
        tasks_from_event(event)


@pytest.mark.parametrize(("body", "says"), [
    ('{"v":1,"location":12345}', "location: a string is required, got int"),
    ('{"v":1,"location":"/a.jpg","etag":7}', "etag: a string is required"),
    ('{"v":1,"location":"/a.jpg","attempt":"x"}', "attempt"),
    ('{"v":1,"location":"/a.jpg","attempt":-1}', "attempt"),
    ('{"v":1,"location":"/a.jpg","metadata":[]}', "metadata"),
    ('{"v":1,"location":"/a.jpg","shape":"round"}', "fields no task has: shape"),
    ('{"v":1,"location":"/a.jpg","history":[{"code":1}]}', "history"),
    ('{"v":1,"location":"' + "x" * 5000 + '"}', "at most 4096"),
    ("[" * 50_000 + "]" * 50_000, "not JSON"),
    (b"\xff\xfe", "not JSON"),
])
def test_a_task_of_the_wrong_shape_is_a_bad_message_saying_why(body: str | bytes, says: str) -> None:
    with pytest.raises(BadMessage) as raised:
        Task.from_json(body)
    assert says in str(raised.value)


def test_a_redriven_task_carries_its_dead_letters_in_its_history() -> None:
    task = Task.for_location("/data/a.jpg")
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    first = DeadLetter(task_id=task.id, task=task, code="-1102", reason="undecodable", attempts=1,
                       first_attempt_at=at, last_attempt_at=at, worker="w:1")
    again = task.redriven(first)
    second = first.model_copy(update={"task": again, "code": "retries_exhausted:15", "attempts": 5})
    twice = again.redriven(second)
    assert twice.attempt == 2 and twice.id == task.id
    assert [(h.code, h.attempts) for h in twice.history] == [("-1102", 1), ("retries_exhausted:15", 5)]
    assert Task.from_json(twice.to_json()) == twice
