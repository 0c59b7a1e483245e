"""Outcome stores: create-once (a duplicate never overwrites), atomic files, S3 prefix on moto, listing for dlq."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import boto3
import pytest

from worker.outcomes import LocalOutcomeStore, OutcomeKind, OutcomeSettings, OutcomeStore, S3OutcomeStore, open_outcomes
from worker.outcomes.local import DirectoryBarrier
from worker.tasks import DeadLetter, Result, Task, utc_now


def _result(task: Task, number: str = "6222020200112233446") -> Result:
    now = utc_now()
    return Result(task=task, response={"code": 0, "data": {"items": [{"item": "卡号", "itemstring": number}]}},
                  attempts=1, started_at=now, finished_at=now, duration_s=0.1, worker="test:1")


def _dead(task: Task, code: str = "-1102") -> DeadLetter:
    now = utc_now()
    return DeadLetter(task_id=task.id, task=task, code=code, reason="decode failed", attempts=1,
                      first_attempt_at=now, last_attempt_at=now, worker="test:1")


def _exercise(store: OutcomeStore) -> None:
    ok_task, bad_task = Task.for_location("/cards/a.jpg"), Task.for_location("/cards/b.jpg")
    assert not store.exists(ok_task.id)
    assert store.write_result(_result(ok_task)) is True
    assert store.write_result(_result(ok_task, number="6222020200112233999")) is False, "create-once"
    assert store.write_dead_letter(_dead(ok_task)) is False, "one outcome per task, whatever its kind"
    assert store.read_result(ok_task.id).response["data"]["items"][0]["itemstring"] == "6222020200112233446"
    assert store.kind_of(ok_task.id) is OutcomeKind.RESULT
    assert store.write_dead_letter(_dead(bad_task)) is True
    assert store.kind_of(bad_task.id) is OutcomeKind.DEAD_LETTER
    assert [d.task_id for d in store.iter_dead_letters()] == [bad_task.id]
    assert [r.task_id for r in store.iter_results()] == [ok_task.id]
    assert store.delete_dead_letter(bad_task.id) is True
    assert store.delete_dead_letter(bad_task.id) is False
    assert not store.exists(bad_task.id) and store.read_dead_letter(bad_task.id) is None


def test_local_store(tmp_path: Path) -> None:
    store = open_outcomes(OutcomeSettings(sink=str(tmp_path / "out")))
    assert isinstance(store, LocalOutcomeStore)
    _exercise(store)
    task = Task.for_location("/cards/a.jpg")
    on_disk = json.loads((tmp_path / "out" / "results" / f"{task.id}.json").read_text(encoding="utf-8"))
    assert on_disk["task"]["location"] == "/cards/a.jpg" and on_disk["kind"] == "result"
    assert not list((tmp_path / "out" / "results").glob(".*")), "no temporary files left behind"


@pytest.mark.parametrize("nameless", [True, False], ids=["O_TMPFILE", "named-temp-file"])
def test_local_store_concurrent_writers_one_winner(tmp_path: Path, nameless: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.outcomes import local

    if nameless and not local._nameless_files:
        pytest.skip("this system has no O_TMPFILE or no /proc")
    monkeypatch.setattr(local, "_nameless_files", nameless)
    store = LocalOutcomeStore(tmp_path)
    task = Task.for_location("/cards/race.jpg")
    wins: list[bool] = []
    def write(i: int) -> None:
        wins.append(store.write_result(_result(task, f"62220202001122{i:05d}")))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1
    for folder in ("results", "dead"):  # the losers left no temporary file behind
        assert [entry.name for entry in (tmp_path / folder).iterdir()] == ([f"{task.id}.json"] if folder == "results"
                                                                          else [])
    assert (tmp_path / "results" / f"{task.id}.json").stat().st_mode & 0o777 == 0o600  # results hold card numbers


def test_local_store_rejects_path_tricks(tmp_path: Path) -> None:
    from worker.outcomes import OutcomeStoreError

    with pytest.raises(OutcomeStoreError):
        LocalOutcomeStore(tmp_path).exists("../../etc/passwd")


def test_s3_store_on_moto(aws_env: str, unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    store = open_outcomes(OutcomeSettings(sink=f"s3://{unique_name}/runs/one"), client=client)
    assert isinstance(store, S3OutcomeStore) and store.location == f"s3://{unique_name}/runs/one/"
    _exercise(store)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=unique_name)["Contents"]]
    assert keys == [f"runs/one/results/{Task.for_location('/cards/a.jpg').id}.json"]


def test_s3_store_missing_bucket_is_a_clear_error(aws_env: str, unique_name: str) -> None:
    from worker.outcomes import OutcomeStoreError

    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    store = S3OutcomeStore(client, f"s3://{unique_name}-missing/x")
    with pytest.raises(OutcomeStoreError, match="cannot write"):
        store.write_result(_result(Task.for_location("/cards/a.jpg")))


def test_bad_sink_is_refused() -> None:
    with pytest.raises(ValueError, match=r"directory, an s3.*postgresql"):
        OutcomeSettings(sink="ftp://x/y")


def test_s3_write_checks_only_the_other_kind_before_its_conditional_create(aws_env: str, unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    store = S3OutcomeStore(client, f"s3://{unique_name}/runs")
    calls: list[str] = []
    client.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    task = Task.for_location("/cards/heads.jpg")
    assert store.write_result(_result(task)) is True
    assert calls == ["HeadObject", "PutObject"], "one HEAD for a dead letter, then the create-once PUT"
    calls.clear()
    assert store.write_result(_result(task)) is False
    assert calls == ["HeadObject", "PutObject"], "the duplicate is refused by the conditional PUT itself"


def test_s3_outcome_check_is_one_request_whatever_the_task_has(aws_env: str, unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    store = S3OutcomeStore(client, f"s3://{unique_name}/runs")
    new, done, failed = (Task.for_location(f"/cards/{name}.jpg") for name in ("new", "done", "failed"))
    assert store.write_result(_result(done)) and store.write_dead_letter(_dead(failed))
    calls: list[str] = []
    client.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    for task, kind in ((new, None), (done, OutcomeKind.RESULT), (failed, OutcomeKind.DEAD_LETTER)):
        calls.clear()
        assert store.kind_of(task.id) is kind
        assert calls == ["ListObjectsV2"], task.location
    # A redrive deletes the dead letter's marker with it, so the task counts as new again.
    assert store.delete_dead_letter(failed.id) is True
    assert store.kind_of(failed.id) is None and list(store.result_ids()) == [done.id]


def test_s3_dead_letter_without_a_marker_still_blocks_a_second_outcome(aws_env: str, unique_name: str) -> None:
    """Dead letters written before the marker existed: the check misses them, the write does not."""
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    store = S3OutcomeStore(client, f"s3://{unique_name}/runs")
    task = Task.for_location("/cards/old.jpg")
    client.put_object(Bucket=unique_name, Key=f"runs/dead/{task.id}.json", Body=_dead(task).model_dump_json())
    assert store.write_result(_result(task)) is False
    assert list(store.result_ids()) == [] and list(store.dead_letter_ids()) == [task.id]


def test_a_directory_fsync_is_shared_but_never_one_that_started_before_the_link(tmp_path: Path) -> None:
    """Group commit: every writer returns only after an fsync that started after its link has finished, and
    writers that link at the same time share fsyncs."""
    lock = threading.Lock()
    linked: list[int] = []
    covered: list[int] = []  # for each finished fsync: how many links it covers (made before it started)
    late: list[int] = []

    def slow_fsync(_directory: str) -> None:
        with lock:
            seen = len(linked)
        threading.Event().wait(0.005)  # a disk's fsync: long enough for other writers to link meanwhile
        with lock:
            covered.append(seen)

    barrier = DirectoryBarrier(str(tmp_path), fsync=slow_fsync)

    def write() -> None:
        with lock:
            linked.append(1)
            position = len(linked)
        barrier.sync()
        with lock:
            if max(covered, default=0) < position:
                late.append(position)

    writers = [threading.Thread(target=write) for _ in range(40)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert late == [], "a writer returned before its link was covered by a finished fsync"
    assert max(covered) == 40 and len(covered) < 40, "the writers shared fsyncs"


def test_a_failed_shared_fsync_fails_every_writer_it_was_to_cover(tmp_path: Path) -> None:
    """A directory fsync that fails (EIO: the links may not be on disk) must fail every writer waiting on it,
    leader and followers alike, so that none acks a message whose outcome may be lost; the next fsync, once
    it succeeds, serves writers that come later."""
    started = threading.Event()
    release = threading.Event()
    runs: list[int] = []

    def failing_then_good_fsync(_directory: str) -> None:
        runs.append(1)
        if len(runs) == 1:
            started.set()
            release.wait(5)
            raise OSError(5, "Input/output error")
        if len(runs) == 2:
            release.wait(5)
            raise OSError(5, "Input/output error")

    barrier = DirectoryBarrier(str(tmp_path), fsync=failing_then_good_fsync)
    outcomes: list[str] = []
    lock = threading.Lock()

    def write() -> None:
        try:
            barrier.sync()
        except OSError:
            with lock:
                outcomes.append("failed")
        else:
            with lock:
                outcomes.append("durable")

    leader = threading.Thread(target=write)
    leader.start()
    assert started.wait(5)
    followers = [threading.Thread(target=write) for _ in range(5)]  # linked while the first fsync runs
    for follower in followers:
        follower.start()
    threading.Event().wait(0.3)  # let every follower reach its wait on the running fsync
    release.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert outcomes.count("failed") == 6, outcomes
    barrier.sync()  # a later writer: the third fsync succeeds
    assert len(runs) == 3


def test_concurrent_writes_each_land_once_through_the_shared_fsync(tmp_path: Path) -> None:
    store = LocalOutcomeStore(tmp_path)
    tasks = [Task.for_location(f"/cards/{index}.jpg") for index in range(60)]
    written: list[bool] = []

    def write(task: Task) -> None:
        written.append(store.write_result(_result(task)))
        written.append(store.write_result(_result(task)))  # a redelivery racing it: refused

    threads = [threading.Thread(target=write, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert written.count(True) == 60 and written.count(False) == 60
    assert sorted(store.result_ids()) == sorted(task.id for task in tasks)


def test_a_directory_fsync_that_fails_fails_the_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error making the new name durable must not be taken for success (the message would be acked with
    an outcome that a crash can lose); a file system that cannot fsync a directory at all (EINVAL) is not an
    error."""
    import errno
    import stat

    from worker.outcomes import OutcomeStoreError

    real_fsync = os.fsync
    failure = {"errno": errno.EIO}

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(failure["errno"], os.strerror(failure["errno"]))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = LocalOutcomeStore(tmp_path)
    with pytest.raises(OutcomeStoreError, match="Input/output error"):
        store.write_result(_result(Task.for_location("/cards/eio.jpg"), "6222020200112233445"))
    failure["errno"] = errno.EINVAL
    assert store.write_result(_result(Task.for_location("/cards/einval.jpg"), "6222020200112233445"))
