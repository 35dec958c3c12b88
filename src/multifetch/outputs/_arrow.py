"""Records as Arrow columns and back: the one schema of the Parquet output and of DataFrames.

Each record field has a fixed Arrow type, known before the first record arrives, so every part
file of a run, and every DataFrame made from any output, has the same columns with the same
types:

- ``status``, ``attempts``: int32; ``size``: int64 (nullable: an error has no status);
- ``elapsed``: float64 seconds; ``started_at``: timestamp (ms, UTC);
- ``error``: a struct ``{kind, message}``, a shape that never varies, so a query can filter on
  ``error.kind`` without parsing;
- ``headers``: a map of strings (names vary from answer to answer; a map keeps them queryable);
- ``retries``: a list of structs ``{status, error, delay}``;
- ``meta`` (and ``timings``): JSON text. ``meta`` is whatever JSON the input gave — an object
  in one spec, a number or a list in the next — which no fixed Arrow type can hold; text keeps
  it exact, and ``json.loads`` (or a SQL engine's JSON functions) reads it back.

Fields outside the record contract (a JSONL file written by something else) become JSON text
columns too: nothing is dropped.

pyarrow is imported with this module, which only the Parquet output and the DataFrame
functions import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_ERROR = pa.struct([("kind", pa.string()), ("message", pa.string())])
_HEADERS = pa.map_(pa.string(), pa.string())
_RETRIES = pa.list_(pa.struct([("status", pa.int32()), ("error", pa.string()), ("delay", pa.float64())]))
_JSON_TEXT = pa.string()

FIELD_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "url": pa.string(),
    "final_url": pa.string(),
    "method": pa.string(),
    "status": pa.int32(),
    "error": _ERROR,
    "attempts": pa.int32(),
    "elapsed": pa.float64(),
    "size": pa.int64(),
    "sha256": pa.string(),
    "body_path": pa.string(),
    "started_at": _TIMESTAMP,
    "meta": _JSON_TEXT,
    "etag": pa.string(),
    "last_modified": pa.string(),
    "unchanged": pa.bool_(),
    "headers": _HEADERS,
    "retries": _RETRIES,
    "timings": _JSON_TEXT,
    "proxy": pa.string(),
}
#: the columns held as JSON text, by the name of their field
JSON_TEXT_FIELDS = frozenset({"meta", "timings"})


def schema_for(fields: Sequence[str]) -> pa.Schema:
    """The Arrow schema of records with ``fields``, in that order (``id`` never null)."""
    return pa.schema([pa.field(name, FIELD_TYPES.get(name, _JSON_TEXT), nullable=name != "id")
                      for name in fields])


def batch_from_records(records: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """``records`` as one record batch of ``schema``; a field a record lacks is null."""
    columns = [_column([record.get(f.name) for record in records], f.name, f.type) for f in schema]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _column(values: list[Any], name: str, type_: pa.DataType) -> pa.Array:
    if name in JSON_TEXT_FIELDS or name not in FIELD_TYPES:
        return pa.array([None if v is None else _json_text(v) for v in values], _JSON_TEXT)
    if type_ == _TIMESTAMP:
        return _timestamps(values)
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # a value of another type than the contract's (a file written by hand or by another
        # tool): coerced one by one rather than refused
        return pa.array([_coerce(v, type_) for v in values], type_)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (integers past 64 bits...), the standard library writes
        return json.dumps(value, default=str)


def _timestamps(values: list[Any]) -> pa.Array:
    """ISO 8601 texts (the record's ``started_at``) as timestamps; one that is not, null."""
    try:
        return pa.array(values, pa.string()).cast(_TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array([_epoch_ms(v) for v in values], pa.int64()).cast(_TIMESTAMP)


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _coerce(value: Any, type_: pa.DataType) -> Any:
    if value is None:
        return None
    try:
        if pa.types.is_string(type_):
            return value if isinstance(value, str) else _json_text(value)
        if pa.types.is_integer(type_):
            return int(value)
        if pa.types.is_floating(type_):
            return float(value)
        if type_ == _ERROR:
            if isinstance(value, dict):
                return {"kind": _text(value.get("kind")), "message": _text(value.get("message"))}
            return {"kind": None, "message": _text(value)}
        if type_ == _HEADERS:
            return {str(k): _text(v) for k, v in value.items()} if isinstance(value, dict) else None
    except (TypeError, ValueError, OverflowError):
        return None
    return None  # a retries list of another shape: left out rather than guessed at


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else _json_text(value)


def records_from_batch(batch: pa.RecordBatch | pa.Table) -> Iterator[dict[str, Any]]:
    """Each row of ``batch`` as a record, the same dict a JSONL line reads back as."""
    names = batch.schema.names
    columns = [_values(batch.column(i), name) for i, name in enumerate(names)]
    for row in zip(*columns, strict=True):
        yield dict(zip(names, row, strict=True))


def _values(column: pa.Array | pa.ChunkedArray, name: str) -> list[Any]:
    type_ = column.type
    if pa.types.is_timestamp(type_):
        import pyarrow.compute as pc

        if type_.tz is None:  # a timestamp without a zone is taken as UTC, as the record's are
            column = column.cast(pa.timestamp(type_.unit, tz="UTC"))
        return _iso(pc.strftime(column.cast(_TIMESTAMP), format="%Y-%m-%dT%H:%M:%SZ").to_pylist())
    values: list[Any] = column.to_pylist()
    if pa.types.is_map(type_):
        return [None if v is None else dict(v) for v in values]
    if pa.types.is_string(type_) and (name in JSON_TEXT_FIELDS or name not in FIELD_TYPES):
        return [None if v is None else _loads(v) for v in values]
    return values


def _iso(texts: list[str | None]) -> list[str | None]:
    # strftime's %S gives "47.263" for a millisecond timestamp, but "47" for a whole second
    return [t if t is None or "." in t else t[:-1] + ".000Z" for t in texts]


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # a text column that is not JSON: kept as the text it is


def batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """``records`` in lists of up to ``size``: the only records held at once."""
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
