"""Reading results as a data team does: export (CSV, JSON lines, Parquet; filters; corrupt outcomes counted),
show by location or id prefix, run records, dlq list's display and order, card numbers at rest."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from worker.cli import main
from worker.config import load_config
from worker.observability import configure_logging
from worker.outcomes import OutcomeStore, open_outcomes
from worker.results.runs import RunRecord, list_runs, save_run
from worker.tasks import DeadLetter, Result, Task

NUMBER = "6222020200112233446"
T0 = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)


def _response(number: str = NUMBER) -> dict:
    items = [{"item": "卡号", "itemstring": number, "itemconf": 0.99},
             {"item": "卡类型", "itemstring": "借记卡", "itemconf": 0.9},
             {"item": "卡名字", "itemstring": "牡丹卡", "itemconf": 0.8},
             {"item": "银行信息", "itemstring": "中国工商银行(01020000)", "itemconf": 0.95},
             {"item": "有效期", "itemstring": "08/2028", "itemconf": 0.7}]
    return {"code": 0, "message": "OK", "data": {"session_id": "s", "items": items}}


def _result(location: str, run_id: str | None, at: dt.datetime, number: str = NUMBER) -> Result:
    task = Task.for_location(location).model_copy(update={"run_id": run_id})
    return Result(task=task, response=_response(number), attempts=1, started_at=at, finished_at=at,
                  duration_s=0.1, worker="test:1")


def _dead(location: str, run_id: str | None, at: dt.datetime, code: str = "-1102") -> DeadLetter:
    task = Task.for_location(location).model_copy(update={"run_id": run_id})
    return DeadLetter(task_id=task.id, task=task, code=code, reason="decode failed", attempts=2,
                      first_attempt_at=at, last_attempt_at=at, worker="test:1")


@pytest.fixture(autouse=True)
def logging_on_a_lasting_stream() -> Iterator[None]:
    """``main()`` points structlog at the stderr of the moment (capsys's, closed after the test): point it back
    at the session's stream so that later tests can still log."""
    yield
    configure_logging("INFO")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: ./var/outcomes\n")
    return path


@pytest.fixture
def store(config_path: Path) -> OutcomeStore:
    """Two runs: run-a (2 results, 1 dead letter on Dec 1), run-b (1 result on Dec 2)."""
    outcomes = open_outcomes(load_config(config_path).outcomes)
    outcomes.write_result(_result("/cards/a.jpg", "run-a", T0))
    outcomes.write_result(_result("/cards/b.jpg", "run-a", T0 + dt.timedelta(minutes=1)))
    outcomes.write_dead_letter(_dead("/cards/c.jpg", "run-a", T0 + dt.timedelta(minutes=2)))
    outcomes.write_result(_result("/cards/d.jpg", "run-b", T0 + dt.timedelta(days=1)))
    for run_id, start in (("run-a", T0), ("run-b", T0 + dt.timedelta(days=1))):
        record = RunRecord(run_id=run_id, source="/cards", sink=outcomes.location, started_at=start)
        save_run(outcomes, record.finish(exit_code=0, reason="", counts={"ok": 1}, dead_by_code={}))
    return outcomes


def _cli(config_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config_path), "--log-level", "ERROR", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_outcome_says_where_which_run_and_when(store: OutcomeStore) -> None:
    result = store.read_result(Task.for_location("/cards/a.jpg").id)
    dead = store.read_dead_letter(Task.for_location("/cards/c.jpg").id)
    assert (result.location, result.run_id, result.processed_at) == ("/cards/a.jpg", "run-a", T0)
    assert (dead.location, dead.run_id) == ("/cards/c.jpg", "run-a")


def test_export_csv_has_one_row_per_image_with_every_field(config_path: Path, store: OutcomeStore,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(config_path, capsys, "export", "--no-progress")
    assert code == 0, err
    rows = {row["location"]: row for row in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"/cards/a.jpg", "/cards/b.jpg", "/cards/c.jpg", "/cards/d.jpg"}
    a = rows["/cards/a.jpg"]
    assert (a["status"], a["card_number"], a["bank"], a["institution_code"], a["card_kind"], a["card_name"],
            a["expiry"], a["card_number_conf"], a["run_id"]) == \
        ("ok", NUMBER, "中国工商银行", "01020000", "借记卡", "牡丹卡", "08/2028", "0.99", "run-a")
    assert a["processed_at"] == "2026-12-01T06:00:00Z" and a["task_id"] == Task.for_location("/cards/a.jpg").id
    c = rows["/cards/c.jpg"]
    assert (c["status"], c["code"], c["reason"], c["card_number"]) == ("dead", "-1102", "decode failed", "")
    assert "4 row(s) (ok 3, dead 1)" in err


def test_export_filters_by_run_status_and_time(config_path: Path, store: OutcomeStore,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def locations(*args: str) -> list[str]:
        code, out, err = _cli(config_path, capsys, "export", "--format", "jsonl", "--no-progress", *args)
        assert code == 0, err
        return sorted(json.loads(line)["location"] for line in out.splitlines())

    assert locations("--run", "run-a", "--status", "ok") == ["/cards/a.jpg", "/cards/b.jpg"]
    assert locations("--run", "latest") == ["/cards/d.jpg"]
    assert locations("--status", "dead") == ["/cards/c.jpg"]
    assert locations("--since", "2026-12-01T06:00:30") == ["/cards/b.jpg", "/cards/c.jpg", "/cards/d.jpg"]
    code, _, err = _cli(config_path, capsys, "export", "--run", "nope")
    assert code == 1 and "no run 'nope'" in err
    code, _, err = _cli(config_path, capsys, "export", "--since", "yesterday")
    assert code == 2 and "--since" in err


def test_export_parquet_is_typed_and_written_whole(config_path: Path, store: OutcomeStore, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.parquet"
    code, _, err = _cli(config_path, capsys, "export", "-o", str(target), "--no-progress")
    assert code == 0, err
    table = pq.read_table(target)
    assert table.num_rows == 4 and not (tmp_path / "out.parquet.partial").exists()
    assert str(table.schema.field("processed_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("card_number_conf").type) == "double"
    rows = {r["location"]: r for r in table.to_pylist()}
    assert rows["/cards/d.jpg"]["processed_at"] == T0 + dt.timedelta(days=1)
    assert rows["/cards/c.jpg"]["card_number_conf"] is None
    code, _, err = _cli(config_path, capsys, "export", "--format", "parquet")
    assert code == 2 and "-o FILE" in err


def test_export_reports_corrupt_outcomes_by_id_and_goes_on(config_path: Path, store: OutcomeStore, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "var" / "outcomes" / "results"
    (results / ("ab" * 16 + ".json")).write_text("{not json", encoding="utf-8")
    (results / ("cd" * 16 + ".json")).write_text('{"kind": "result", "task": 3}', encoding="utf-8")
    code, out, err = _cli(config_path, capsys, "export", "--no-progress")
    assert code == 0
    assert len(list(csv.DictReader(io.StringIO(out)))) == 4
    assert f"skipped {'ab' * 16}" in err and f"skipped {'cd' * 16}" in err
    assert "2 corrupt outcome(s) skipped" in err


def test_export_applies_the_card_number_policy(config_path: Path, store: OutcomeStore,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(config_path, capsys, "export", "--card-number", "masked", "--status", "ok")
    assert code == 0 and NUMBER not in out and "622202*********3446" in out
    monkeypatch.setenv("CARDPIPE_OUTCOMES__CARD_NUMBER_KEY", "k" * 32)
    code, out, _ = _cli(config_path, capsys, "export", "--card-number", "hmac", "--status", "ok")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and NUMBER not in out
    assert len({row["card_number_hmac"] for row in rows}) == 1, "equal numbers, equal hashes: they still join"
    assert len(rows[0]["card_number_hmac"]) == 64


def test_show_finds_an_outcome_by_location_or_id_prefix(config_path: Path, store: OutcomeStore,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    task_id = Task.for_location("/cards/c.jpg").id
    code, out, _ = _cli(config_path, capsys, "show", "/cards/c.jpg")
    assert code == 0 and json.loads(out)["task_id"] == task_id
    code, out, _ = _cli(config_path, capsys, "show", "file:///cards/a.jpg")
    assert code == 0 and json.loads(out)["location"] == "/cards/a.jpg"
    code, out, _ = _cli(config_path, capsys, "show", task_id[:6])
    assert code == 0 and json.loads(out)["code"] == "-1102"
    code, _, err = _cli(config_path, capsys, "show", "/cards/nowhere.jpg")
    assert code == 1 and "no outcome for" in err


def test_an_ambiguous_prefix_lists_the_candidates(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = open_outcomes(load_config(config_path).outcomes)
    for tail in ("0" * 28, "1" * 28):
        task = Task(id="abcd" + tail, location=f"/cards/{tail[0]}.jpg")
        outcomes.write_result(Result(task=task, response=_response(), attempts=1, started_at=T0, finished_at=T0,
                                     duration_s=0.1, worker="test:1"))
    code, _, err = _cli(config_path, capsys, "show", "abcd")
    assert code == 1 and "type more of it" in err and "abcd" + "0" * 28 in err
    code, out, _ = _cli(config_path, capsys, "show", "abcd1")
    assert code == 0 and json.loads(out)["location"] == "/cards/1.jpg"


def test_dlq_show_finds_a_dead_letter_among_many_results_of_its_prefix(
        config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = open_outcomes(load_config(config_path).outcomes)
    for index in range(15):  # more results under the prefix than candidates are listed
        task = Task(id=f"abcd{index:028x}", location=f"/cards/{index}.jpg")
        outcomes.write_result(Result(task=task, response=_response(), attempts=1, started_at=T0, finished_at=T0,
                                     duration_s=0.1, worker="test:1"))
    task = Task(id="abcdf" + "0" * 27, location="/cards/dead.jpg")
    outcomes.write_dead_letter(DeadLetter(task_id=task.id, task=task, code="-1102", reason="decode failed",
                                          attempts=1, first_attempt_at=T0, last_attempt_at=T0, worker="test:1"))
    code, out, err = _cli(config_path, capsys, "dlq", "show", "abcd")
    assert code == 0, err
    assert json.loads(out)["location"] == "/cards/dead.jpg"


def test_runs_lists_the_records_oldest_first(config_path: Path, store: OutcomeStore,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(config_path, capsys, "runs", "--json")
    assert code == 0 and [json.loads(line)["run_id"] for line in out.splitlines()] == ["run-a", "run-b"]
    code, out, _ = _cli(config_path, capsys, "runs")
    assert code == 0 and "run-a" in out and "complete" in out
    assert [r.run_id for r in list_runs(store)] == ["run-a", "run-b"]


def test_dlq_list_shows_full_ids_and_locations_newest_last_masked(config_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = open_outcomes(load_config(config_path).outcomes)
    locations = [f"/a/very/long/folder/name/that/would/not/fit/any/table/column/{i}.jpg" for i in range(4)]
    locations.append(f"/uploads/{NUMBER}.jpg")
    for index, location in enumerate(locations):
        outcomes.write_dead_letter(_dead(location, None, T0 + dt.timedelta(minutes=(index * 7) % 5)))
    code, table, _ = _cli(config_path, capsys, "dlq", "list", "--limit", "3")
    assert code == 0 and NUMBER not in table and "/uploads/622202*********3446.jpg" in table
    code, as_json, _ = _cli(config_path, capsys, "dlq", "list", "--limit", "3", "--json")
    listed = [json.loads(line) for line in as_json.splitlines()]
    stamps = [entry["last_attempt_at"] for entry in listed]
    assert stamps == sorted(stamps) and len(listed) == 3
    newest_three = sorted(outcomes.iter_dead_letters(), key=lambda d: d.last_attempt_at)[-3:]
    assert [entry["task_id"] for entry in listed] == [d.task_id for d in newest_three]
    table_ids = [line.split()[0] for line in table.splitlines() if not line.startswith(" ")]
    assert table_ids == [d.task_id for d in newest_three], "the table and --json agree, newest last"
    for dead in newest_three:
        assert mask_path(dead.location) in table


def mask_path(location: str | None) -> str:
    from worker.observability import mask_digits_in_text

    return mask_digits_in_text(location or "")


def test_dlq_show_and_redrive_take_id_prefixes(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = open_outcomes(load_config(config_path).outcomes)
    dead = _dead("/cards/z.jpg", None, T0)
    outcomes.write_dead_letter(dead)
    code, out, _ = _cli(config_path, capsys, "dlq", "show", dead.task_id[:8])
    assert code == 0 and json.loads(out)["task_id"] == dead.task_id
    code, out, _ = _cli(config_path, capsys, "dlq", "redrive", dead.task_id[:8])
    assert code == 0 and "redrove 1" in out
    assert outcomes.read_dead_letter(dead.task_id) is None


@pytest.mark.parametrize("policy", ["masked", "hmac"])
def test_card_numbers_at_rest_are_never_full(tmp_path: Path, policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDPIPE_OUTCOMES__CARD_NUMBER", policy)
    monkeypatch.setenv("CARDPIPE_OUTCOMES__CARD_NUMBER_KEY", "a-key-of-32-bytes-for-the-hmac!!")
    monkeypatch.setenv("CARDPIPE_OUTCOMES__SINK", str(tmp_path / "out"))
    outcomes = open_outcomes(load_config(None).outcomes)
    first, second = _result("/cards/1.jpg", None, T0), _result("/cards/2.jpg", None, T0)
    assert outcomes.write_result(first) and outcomes.write_result(second)
    on_disk = (tmp_path / "out" / "results" / f"{first.task_id}.json").read_text(encoding="utf-8")
    assert NUMBER not in on_disk and "622202*********3446" in on_disk
    hashes = {outcomes.read_result(r.task_id).card_number_hmac for r in (first, second)}
    assert hashes == ({None} if policy == "masked" else {next(iter(hashes))}) and len(hashes) == 1
    if policy == "hmac":
        assert len(next(iter(hashes))) == 64


def test_the_hmac_key_is_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.api.errors import ConfigError

    config = tmp_path / "pipeline.yaml"
    config.write_text("outcomes:\n  card_number: hmac\n  card_number_key: in-the-file-is-refused\n")
    with pytest.raises(ConfigError, match="secrets are not read from the configuration file"):
        load_config(config)
    config.write_text("outcomes:\n  card_number: hmac\n")
    with pytest.raises(ConfigError, match="card_number_key"):
        load_config(config)
    (tmp_path / "key").write_text("a-key-of-32-bytes-for-the-hmac!!\n")
    config.write_text("outcomes:\n  card_number: hmac\n  card_number_key_file: key\n")
    settings = load_config(config)
    assert settings.outcomes.card_number_key.get_secret_value() == "a-key-of-32-bytes-for-the-hmac!!"
    assert "a-key-of-32" not in json.dumps(settings.redacted())


def test_api_3_answers_are_protected_and_exported_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.results.rows import result_row

    monkeypatch.setenv("CARDPIPE_OUTCOMES__CARD_NUMBER", "masked")
    monkeypatch.setenv("CARDPIPE_OUTCOMES__SINK", str(tmp_path / "out"))
    outcomes = open_outcomes(load_config(None).outcomes)
    answer = {"CardNo": NUMBER, "BankInfo": "招商银行(03080000)", "ValidDate": "08/2028", "CardType": "借记卡",
              "CardName": "一卡通", "CardNoImage": "base64-of-the-number-line", "BorderCutImage": "base64-card",
              "RequestId": "r-1"}
    result = Result(task=Task.for_location("/cards/v3.jpg"), response=answer, attempts=1, started_at=T0,
                    finished_at=T0, duration_s=0.1, worker="test:1")
    assert outcomes.write_result(result)
    stored = outcomes.read_result(result.task_id)
    assert stored.response["CardNo"] == "622202*********3446"
    assert "CardNoImage" not in stored.response and "BorderCutImage" not in stored.response
    row = result_row(stored)
    assert (row["card_number"], row["bank"], row["institution_code"], row["expiry"], row["card_kind"]) == \
        ("622202*********3446", "招商银行", "03080000", "08/2028", "借记卡")
