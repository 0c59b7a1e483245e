"""Table writers for ``cardpipe export``: CSV, JSON lines and Parquet, each fed one row at a time.

Every writer holds at most one batch of rows (Parquet: a row group of ``BATCH_ROWS``), so memory stays flat
however many rows go through. Timestamps are UTC; CSV and JSON lines write them as ISO 8601.
"""

from __future__ import annotations

import abc
import csv
import datetime as dt
import json
from typing import IO, Any

from worker.results.rows import COLUMNS, CONFIDENCE_COLUMNS

FORMATS = ("csv", "jsonl", "parquet")
#: Rows per Parquet row group (and per batch handed to pyarrow).
BATCH_ROWS = 16_384


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value


class RowWriter(abc.ABC):
    @abc.abstractmethod
    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None:  # noqa: B027 - most writers buffer nothing
        """Flush what is buffered (the output file itself is closed by its owner)."""


class CsvWriter(RowWriter):
    """RFC 4180 CSV with a header row; empty cells for missing values."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(COLUMNS)

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow(["" if row[c] is None else _plain(row[c]) for c in COLUMNS])


class JsonLinesWriter(RowWriter):
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, row: dict[str, Any]) -> None:
        self._stream.write(json.dumps({c: _plain(row[c]) for c in COLUMNS}, ensure_ascii=False) + "\n")


class ParquetWriter(RowWriter):
    """Parquet (zstd) with typed columns: strings, float64 confidences, int32 attempts, UTC timestamps."""

    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        fields = []
        for column in COLUMNS:
            if column in CONFIDENCE_COLUMNS:
                kind = pa.float64()
            elif column == "attempts":
                kind = pa.int32()
            elif column == "processed_at":
                kind = pa.timestamp("us", tz="UTC")
            else:
                kind = pa.string()
            fields.append(pa.field(column, kind))
        self._schema = pa.schema(fields)
        self._writer = pq.ParquetWriter(path, self._schema, compression="zstd")
        self._batch: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        self._size = 0

    def write(self, row: dict[str, Any]) -> None:
        for column in COLUMNS:
            self._batch[column].append(row[column])
        self._size += 1
        if self._size >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._size:
            table = self._pa.Table.from_pydict(self._batch, schema=self._schema)
            self._writer.write_table(table)
            self._batch = {c: [] for c in COLUMNS}
            self._size = 0

    def close(self) -> None:
        self._flush()
        self._writer.close()
