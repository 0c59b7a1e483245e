"""Outcomes in PostgreSQL: one row per task in ``cardpipe_outcomes``, run records in ``cardpipe_runs``.

Why one table with a ``kind`` column rather than one per kind: the primary key on ``task_id`` then enforces the
whole exactly-one-outcome rule (a result and a dead letter of one task cannot both exist), and create-once is
``INSERT ... ON CONFLICT DO NOTHING``: of two workers racing on a task exactly one row is inserted, and a
worker killed with ``kill -9`` either committed its row or left none, never half of one.

The outcome itself is kept whole as ``jsonb`` (``body``, the same JSON the file and S3 sinks hold); the columns
beside it (``location``, ``run_id``, ``code``, ``processed_at``) are copies made for indexes and for queries
such as ``SELECT count(*) FROM cardpipe_outcomes WHERE run_id = ... AND kind = 'dead_letter'``.

The schema is versioned in ``cardpipe_schema``; the first store opened against a database creates or migrates
it, under an advisory lock so that ten workers starting at once migrate once.

Connections come from a psycopg_pool pool. A statement that fails on a broken connection (the server restarted,
a proxy dropped an idle one) is tried once more on a fresh one, rather than checking every connection with a
round trip before use; when the server is really gone the retry cannot connect either, and the call raises
:class:`OutcomeStoreError`, which stops the worker with the message unacknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from worker.observability import get_logger
from worker.outcomes.base import DEAD_DIR, RESULTS_DIR, OutcomeKind, OutcomeStore, OutcomeStoreError
from worker.tasks import DeadLetter, Result, normalize_location

log = get_logger("outcomes.postgres")

_KIND_OF_FOLDER = {RESULTS_DIR: OutcomeKind.RESULT.value, DEAD_DIR: OutcomeKind.DEAD_LETTER.value}
_FOLDER_OF_KIND = {kind: folder for folder, kind in _KIND_OF_FOLDER.items()}
#: Rows fetched per round trip when streaming (export, listings).
STREAM_BATCH = 2000

#: Schema migrations, applied in order; the index is the version a database reaches after applying it.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE cardpipe_outcomes (
        task_id      text PRIMARY KEY,
        kind         text NOT NULL CHECK (kind IN ('result', 'dead_letter')),
        location     text,
        run_id       text,
        code         text NOT NULL,
        processed_at timestamptz NOT NULL,
        body         jsonb NOT NULL
    );
    CREATE INDEX cardpipe_outcomes_location ON cardpipe_outcomes (location);
    CREATE INDEX cardpipe_outcomes_run ON cardpipe_outcomes (run_id, processed_at);
    CREATE INDEX cardpipe_outcomes_code ON cardpipe_outcomes (kind, code);
    CREATE INDEX cardpipe_outcomes_id_prefix ON cardpipe_outcomes (task_id text_pattern_ops);
    CREATE TABLE cardpipe_runs (
        run_id     text PRIMARY KEY,
        started_at timestamptz,
        body       jsonb NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_LOCK_KEY = 0x63617264  # "card": the advisory lock that serialises migrations


def redact_url(url: str) -> str:
    """The URL without its password, for summaries and errors."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    user, host = info.get("user", ""), info.get("host", "")
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user + '@' if user else ''}{host}{port}/{info.get('dbname', '')}"


class PostgresOutcomeStore(OutcomeStore):
    """Results and dead letters as rows, keyed by task id.

    Parameters:
        url: ``postgresql://user@host:5432/dbname`` (libpq parameters may follow as a query string).
        password: the password, from ``outcomes.password`` (environment or ``_file``) rather than the URL.
        pool_size: most connections this process holds (one per worker thread is plenty).
        timeout_s: longest wait to connect or to get a connection from the pool.
    """

    def __init__(self, url: str, *, password: str | None = None, pool_size: int = 8,
                 timeout_s: float = 10.0) -> None:
        self.location = redact_url(url)
        self.timeout_s = timeout_s
        connect_args: dict[str, Any] = {"autocommit": True, "connect_timeout": max(1, round(timeout_s))}
        if password:
            connect_args["password"] = password
        self.pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size), kwargs=connect_args,
                                   timeout=timeout_s, open=False, name="cardpipe-outcomes")
        try:
            self.pool.open(wait=True, timeout=timeout_s)
        except (PoolTimeout, psycopg.Error) as exc:
            self.pool.close()
            raise OutcomeStoreError(f"cannot connect to the outcome database {self.location}: {exc}") from exc
        self._migrate()

    def close(self) -> None:
        self.pool.close()

    # --- plumbing -----------------------------------------------------------------------------------------------

    def _run(self, action: str, sql: str, params: Iterable[Any] = (), *, fetch: str = "none") -> Any:
        """Execute one statement on a pooled connection; every database failure is an OutcomeStoreError.

        A broken connection is discarded by the pool and the statement tried once more on a fresh one. Were the
        lost statement an INSERT that did commit, the retry finds the row and reports "not created": the
        outcome is stored either way.
        """
        values = tuple(params)
        for last_try in (False, True):
            try:
                with self.pool.connection() as conn:
                    cursor = conn.execute(sql, values)
                    if fetch == "one":
                        return cursor.fetchone()
                    if fetch == "all":
                        return cursor.fetchall()
                    return cursor.rowcount
            except psycopg.OperationalError as exc:
                if last_try:
                    raise self._unusable(action, exc) from exc
                log.warning("outcomes.reconnect", database=self.location, error=str(exc).strip().splitlines()[0])
            except (PoolTimeout, psycopg.Error) as exc:
                raise self._unusable(action, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _unusable(self, action: str, exc: Exception) -> OutcomeStoreError:
        return OutcomeStoreError(f"cannot {action} in {self.location}: {type(exc).__name__}: {exc}")

    def _stream(self, action: str, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor, ``STREAM_BATCH`` at a time: constant memory for any table size."""
        try:
            with self.pool.connection() as conn, conn.transaction(), \
                    conn.cursor(name="cardpipe_stream") as cursor:
                cursor.itersize = STREAM_BATCH
                cursor.execute(sql, tuple(params))
                yield from cursor
        except (PoolTimeout, psycopg.Error) as exc:
            raise self._unusable(action, exc) from exc

    def _migrate(self) -> None:
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute("CREATE TABLE IF NOT EXISTS cardpipe_schema (version integer NOT NULL)")
                row = conn.execute("SELECT max(version) FROM cardpipe_schema").fetchone()
                current = int(row[0]) if row and row[0] is not None else 0
                if current > SCHEMA_VERSION:
                    raise OutcomeStoreError(f"{self.location} holds schema version {current}; this cardpipe "
                                            f"knows up to {SCHEMA_VERSION} (upgrade cardpipe)")
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    conn.execute(MIGRATIONS[version - 1])
                    conn.execute("INSERT INTO cardpipe_schema (version) VALUES (%s)", (version,))
                    log.info("outcomes.schema_migrated", database=self.location, version=version)
        except (PoolTimeout, psycopg.Error) as exc:
            raise OutcomeStoreError(f"cannot create the outcome tables in {self.location}: {exc}") from exc

    # --- the store contract -------------------------------------------------------------------------------------

    def kind_of(self, task_id: str) -> OutcomeKind | None:
        row = self._run("check an outcome", "SELECT kind FROM cardpipe_outcomes WHERE task_id = %s", (task_id,),
                        fetch="one")
        return None if row is None else OutcomeKind(row[0])

    def _exists(self, folder: str, task_id: str) -> bool:
        return self.kind_of(task_id) is OutcomeKind(_KIND_OF_FOLDER[folder])

    def write_result(self, result: Result) -> bool:
        """One INSERT: the primary key refuses any second outcome, of either kind (no check first)."""
        result = self.as_stored(result)
        return self._insert(RESULTS_DIR, result.task_id, result.location, result.run_id, str(result.code),
                            result.processed_at, result.model_dump_json())

    def write_dead_letter(self, dead_letter: DeadLetter) -> bool:
        dead_letter = self.as_stored(dead_letter)
        return self._insert(DEAD_DIR, dead_letter.task_id, dead_letter.location, dead_letter.run_id,
                            dead_letter.code, dead_letter.processed_at, dead_letter.model_dump_json())

    def _create(self, folder: str, task_id: str, payload: bytes) -> bool:
        data = json.loads(payload)
        location = data.get("location") or (data.get("task") or {}).get("location")
        processed_at = data.get("processed_at") or data.get("finished_at") or data.get("last_attempt_at")
        return self._insert(folder, task_id, location, data.get("run_id"), str(data.get("code", "")),
                            processed_at, payload.decode("utf-8"))

    def _insert(self, folder: str, task_id: str, location: str | None, run_id: str | None, code: str,
                processed_at: Any, body: str) -> bool:
        inserted = self._run(
            "write an outcome",
            "INSERT INTO cardpipe_outcomes (task_id, kind, location, run_id, code, processed_at, body) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (task_id) DO NOTHING",
            (task_id, _KIND_OF_FOLDER[folder], location, run_id, code, processed_at, body))
        return inserted == 1

    def _read(self, folder: str, task_id: str) -> bytes | None:
        row = self._run("read an outcome", "SELECT body::text FROM cardpipe_outcomes WHERE task_id = %s AND kind = %s",
                        (task_id, _KIND_OF_FOLDER[folder]), fetch="one")
        return None if row is None else row[0].encode("utf-8")

    def _delete(self, folder: str, task_id: str) -> bool:
        deleted = self._run("delete an outcome", "DELETE FROM cardpipe_outcomes WHERE task_id = %s AND kind = %s",
                            (task_id, _KIND_OF_FOLDER[folder]))
        return deleted == 1

    def _ids(self, folder: str) -> Iterator[str]:
        for (task_id,) in self._stream("list outcomes", "SELECT task_id FROM cardpipe_outcomes WHERE kind = %s "
                                       "ORDER BY task_id", (_KIND_OF_FOLDER[folder],)):
            yield task_id

    def _put_run(self, run_id: str, payload: bytes) -> None:
        record = json.loads(payload)
        self._run("write a run record",
                  "INSERT INTO cardpipe_runs (run_id, started_at, body) VALUES (%s, %s, %s::jsonb) "
                  "ON CONFLICT (run_id) DO UPDATE SET body = EXCLUDED.body",
                  (run_id, record.get("started_at"), payload.decode("utf-8")))

    def _run_payloads(self) -> Iterator[bytes]:
        for (body,) in self._stream("read run records", "SELECT body::text FROM cardpipe_runs ORDER BY started_at"):
            yield body.encode("utf-8")

    # --- readers, with the work done by the database ------------------------------------------------------------

    def raw_outcomes(self, folders: Iterable[str] = (RESULTS_DIR, DEAD_DIR), *, run_id: str | None = None,
                     since: Any = None) -> Iterator[tuple[str, str, bytes]]:
        kinds = [_KIND_OF_FOLDER[folder] for folder in folders]
        sql = "SELECT kind, task_id, body::text FROM cardpipe_outcomes WHERE kind = ANY(%s)"
        params: list[Any] = [kinds]
        if run_id is not None:
            sql += " AND run_id = %s"
            params.append(run_id)
        if since is not None:
            sql += " AND processed_at >= %s"
            params.append(since)
        for kind, task_id, body in self._stream("read outcomes", sql, params):
            yield _FOLDER_OF_KIND[kind], task_id, body.encode("utf-8")

    def iter_results(self) -> Iterator[Result]:
        # One streamed query, not a read per id: a listing must not need a second pooled connection.
        for _, _, raw in self.raw_outcomes((RESULTS_DIR,)):
            yield Result.model_validate_json(raw)

    def iter_dead_letters(self) -> Iterator[DeadLetter]:
        for _, _, raw in self.raw_outcomes((DEAD_DIR,)):
            yield DeadLetter.model_validate_json(raw)

    def ids_with_prefix(self, prefix: str, limit: int = 20,
                        folders: Iterable[str] = (RESULTS_DIR, DEAD_DIR)) -> list[tuple[str, str]]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        kinds = [_KIND_OF_FOLDER[folder] for folder in folders]
        rows = self._run("find outcomes", "SELECT kind, task_id FROM cardpipe_outcomes WHERE task_id LIKE %s "
                         "AND kind = ANY(%s) ORDER BY task_id LIMIT %s", (pattern, kinds, limit), fetch="all")
        return [(_FOLDER_OF_KIND[kind], task_id) for kind, task_id in rows]

    def ids_at_location(self, location: str) -> list[tuple[str, str]]:
        spellings = {location.strip(), normalize_location(location)}
        normalized = normalize_location(location)
        if normalized.startswith("file://"):
            spellings.add(normalized.removeprefix("file://"))
        if normalized.startswith("s3://"):
            spellings.add("cos://" + normalized.removeprefix("s3://"))
        rows = self._run("find outcomes", "SELECT kind, task_id FROM cardpipe_outcomes WHERE location = ANY(%s) "
                         "ORDER BY processed_at", (sorted(spellings),), fetch="all")
        return [(_FOLDER_OF_KIND[kind], task_id) for kind, task_id in rows]
