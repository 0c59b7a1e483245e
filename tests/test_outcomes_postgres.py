"""The Postgres outcome sink on the real loopback server: the store contract, create-once under concurrency,
the schema created once and migrated, streaming readers, run records."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tests.test_outcomes import _dead, _exercise, _result
from worker.outcomes import OutcomeKind, OutcomeSettings, OutcomeStoreError, open_outcomes
from worker.outcomes.postgres import SCHEMA_VERSION, PostgresOutcomeStore, redact_url
from worker.results.runs import RunRecord, list_runs, save_run
from worker.tasks import Task


def test_postgres_store_keeps_the_contract(postgres_url: str) -> None:
    store = open_outcomes(OutcomeSettings(sink=postgres_url))
    assert isinstance(store, PostgresOutcomeStore)
    _exercise(store)
    task = Task.for_location("/cards/a.jpg")
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT kind, location, code, body->'task'->>'location' FROM cardpipe_outcomes "
                           "WHERE task_id = %s", (task.id,)).fetchone()
    assert row == ("result", "/cards/a.jpg", "0", "/cards/a.jpg")
    store.close()


def test_one_winner_among_racing_writers_of_both_kinds(postgres_url: str) -> None:
    store = PostgresOutcomeStore(postgres_url, pool_size=8)
    task = Task.for_location("/cards/race.jpg")
    wins: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def write(i: int) -> None:
        start.wait()
        won = store.write_result(_result(task, f"62220202001122{i:05d}")) if i % 2 else \
            store.write_dead_letter(_dead(task))
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM cardpipe_outcomes").fetchone() == (1,)
    store.close()


def test_schema_is_created_once_by_stores_opening_together(postgres_url: str) -> None:
    stores: list[PostgresOutcomeStore] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def open_one() -> None:
        try:
            store = PostgresOutcomeStore(postgres_url, pool_size=1)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)
            return
        with lock:
            stores.append(store)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(stores) == 6
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM cardpipe_schema ORDER BY version").fetchall() == \
            [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        indexes = {name for (name,) in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'cardpipe_outcomes'")}
    assert {"cardpipe_outcomes_location", "cardpipe_outcomes_run", "cardpipe_outcomes_code"} <= indexes
    for store in stores:
        store.close()


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    PostgresOutcomeStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cardpipe_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(OutcomeStoreError, match="upgrade cardpipe"):
        PostgresOutcomeStore(postgres_url)


def test_readers_filter_in_sql_and_find_by_prefix_and_location(postgres_url: str) -> None:
    store = PostgresOutcomeStore(postgres_url)
    tasks = [Task.for_location(f"/cards/{i}.jpg").model_copy(update={"run_id": f"run-{i % 2}"}) for i in range(6)]
    for task in tasks[:4]:
        assert store.write_result(_result(task))
    for task in tasks[4:]:
        assert store.write_dead_letter(_dead(task))
    run_one = [tid for _, tid, _ in store.raw_outcomes(run_id="run-1")]
    assert sorted(run_one) == sorted(t.id for t in tasks if t.run_id == "run-1")
    assert [folder for folder, _, _ in store.raw_outcomes(("dead",))] == ["dead", "dead"]
    assert store.ids_with_prefix(tasks[0].id[:10]) == [("results", tasks[0].id)]
    assert store.ids_with_prefix(tasks[0].id[:10], folders=("dead",)) == []
    assert store.ids_with_prefix(tasks[5].id[:10], folders=("dead",)) == [("dead", tasks[5].id)]
    assert store.ids_with_prefix("_%") == [], "LIKE wildcards in a prefix match themselves only"
    assert store.ids_at_location("file:///cards/5.jpg") == [("dead", tasks[5].id)]
    assert store.kind_of(tasks[5].id) is OutcomeKind.DEAD_LETTER
    record = RunRecord.start("/cards", store.location, settings_digest="x")
    save_run(store, record)
    save_run(store, record.finish(exit_code=0, reason="", counts={"ok": 4}, dead_by_code={}))
    assert [(r.run_id, r.status, r.counts) for r in list_runs(store)] == [(record.run_id, "complete", {"ok": 4})]
    store.close()


def test_listing_needs_one_connection_only(postgres_url: str) -> None:
    store = PostgresOutcomeStore(postgres_url, pool_size=1, timeout_s=2)
    for index in range(3):
        store.write_dead_letter(_dead(Task.for_location(f"/cards/{index}.jpg")))
    assert len(list(store.iter_dead_letters())) == 3
    assert list(store.iter_results()) == []
    store.close()


def test_a_dropped_connection_is_replaced_without_an_error(postgres_url: str, postgres_server: str) -> None:
    store = PostgresOutcomeStore(postgres_url, pool_size=1)
    first, second = Task.for_location("/cards/1.jpg"), Task.for_location("/cards/2.jpg")
    assert store.write_result(_result(first))
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                               (database,)).fetchone()
    assert killed == (1,)
    assert store.write_result(_result(second)), "a server restart or an idle cut is not an unusable store"
    assert store.kind_of(first.id) is OutcomeKind.RESULT
    store.close()


def test_an_unreachable_database_is_an_outcome_store_error() -> None:
    with pytest.raises(OutcomeStoreError, match="cannot connect"):
        PostgresOutcomeStore("postgresql://nobody@127.0.0.1:1/none", timeout_s=1)


def test_the_password_never_shows_in_the_location() -> None:
    assert redact_url("postgresql://cards:s3cret@db.internal:5433/outcomes") == \
        "postgresql://cards@db.internal:5433/outcomes"
