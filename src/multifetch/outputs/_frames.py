"""Results as a table: an Arrow table, a pandas or a polars DataFrame, one row per result.

``to_pandas(multifetch.fetch(urls))`` takes any iterable of results — ``Result`` objects as
``fetch`` and ``Client.stream`` give them, or records (dicts) as ``read_results`` gives them — and
turns it into columns ``batch_size`` results at a time: only one batch is held as Python objects,
the rest is already columnar, so a run of millions fits in the memory of its table, not of its
dicts (and a ``Result``'s body is let go as soon as its row is made). The columns and their types
are the Parquet output's (``_arrow``): the same DataFrame whatever the results came from.

pyarrow (``multifetch[parquet]``), and pandas or polars for their DataFrames, are imported on use;
without them these say which extra to install.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .._errors import UsageError
from ._fields import OPTIONAL_FIELDS, RECORD_FIELDS

BATCH = 10_000


def need(module: str, extra: str, what: str) -> Any:
    """Import ``module``, or say which extra brings it."""
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise UsageError(f"{what} needs {module.split('.')[0]}: pip install 'multifetch[{extra}]'") from None


def to_arrow(results: Iterable[Any], *, fields: Sequence[str] | None = None, batch_size: int = BATCH) -> Any:
    """A ``pyarrow.Table`` of ``results``, a row each. ``fields``: the columns, in order (default:
    the record's fields, or the keys of the first record given)."""
    pa = need("pyarrow", "parquet", "a table of results")
    from ._arrow import batch_from_records, batches, schema_for

    records = _records(iter(results), fields)
    first = next(records, None)
    if first is None:
        return schema_for(tuple(fields or RECORD_FIELDS)).empty_table()
    schema = schema_for(tuple(fields or first))
    made = [batch_from_records(chunk, schema) for chunk in batches(_chain(first, records), batch_size)]
    return pa.Table.from_batches(made, schema=schema)


def to_pandas(results: Iterable[Any], *, fields: Sequence[str] | None = None, batch_size: int = BATCH) -> Any:
    """A pandas DataFrame of ``results``, a row each (columns and types: see ``to_arrow``)."""
    need("pandas", "pandas", "to_pandas")
    return arrow_to_pandas(to_arrow(results, fields=fields, batch_size=batch_size))


def to_polars(results: Iterable[Any], *, fields: Sequence[str] | None = None, batch_size: int = BATCH) -> Any:
    """A polars DataFrame of ``results``, a row each (columns and types: see ``to_arrow``)."""
    polars = need("polars", "polars", "to_polars")
    return polars.from_arrow(to_arrow(results, fields=fields, batch_size=batch_size))


def arrow_to_pandas(table: Any) -> Any:
    """``table`` in pandas: integer columns stay integers with missing values (``Int32``, not
    float), ``headers`` maps become dicts, ``started_at`` a UTC datetime."""
    pd = need("pandas", "pandas", "to_pandas")
    pa = need("pyarrow", "parquet", "to_pandas")
    integers = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}
    return table.to_pandas(types_mapper=integers.get, maps_as_pydicts="lossy")


def _records(items: Iterator[Any], fields: Sequence[str] | None) -> Iterator[dict[str, Any]]:
    """Each item as its record: a dict as it is, a ``Result`` as ``to_record()`` (with its
    headers and retries when ``fields`` asks for them, as ``--include-headers`` writes them)."""
    wanted = [f for f in OPTIONAL_FIELDS if fields is not None and f in fields and f != "timings"]
    for item in items:
        if isinstance(item, dict):
            yield item
            continue
        to_record = getattr(item, "to_record", None)
        if to_record is None:
            raise TypeError(f"a table of results takes Results or record dicts, not {type(item).__name__}")
        record: dict[str, Any] = to_record()
        for name in wanted:
            if name == "headers":
                record["headers"] = None if item.status is None else dict(item.headers)
            elif name == "retries":
                record["retries"] = item.retries or []
            else:
                record["proxy"] = item.proxy
        yield record


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest
