"""Results as tables: ``read_results`` on every output format, DataFrames with one row per input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import multifetch
from multifetch.testing import TargetServer

from helpers import mf

FORMATS = ("out.jsonl", "out.csv", "out.db", "out.parquet")


@pytest.fixture(scope="module")
def outputs(target: TargetServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same inputs written to each format."""
    folder = tmp_path_factory.mktemp("formats")
    src = folder / "in.txt"
    lines = [f"{target.url}/bytes/{i}" for i in range(1, 31)] + [f"{target.url}/status/404?i={i}" for i in range(4)]
    lines += ['{"url": "%s/bytes/2", "id": "m", "meta": {"k": [1, 2]}}' % target.url, "not a url"]  # noqa: UP031
    src.write_text("\n".join(lines) + "\n")
    made = {}
    for name in FORMATS:
        out = folder / name
        proc = mf("fetch", str(src), "-o", str(out), "-q", "--retries", "0")
        assert proc.returncode == 1, proc.stderr.decode()
        made[name] = out
    return made


def _essence(record: dict) -> tuple:
    error = record["error"]["kind"] if record["error"] else None
    return (record["id"], record["url"], record["status"], error, record["size"], record["attempts"],
            record["sha256"], record["meta"])


@pytest.mark.parametrize("name", FORMATS)
def test_read_results_gives_the_same_records_from_every_format(outputs: dict[str, Path], name: str) -> None:
    records = list(multifetch.read_results(outputs[name]))
    assert len(records) == 36
    expected = sorted(map(_essence, multifetch.read_results(outputs["out.jsonl"])))
    assert sorted(map(_essence, records)) == expected
    m = next(r for r in records if r["id"] == "m")
    assert m["meta"] == {"k": [1, 2]} and m["status"] == 200 and isinstance(m["elapsed"], float)
    assert m["started_at"].endswith("Z") and len(m["started_at"]) == 24
    # the results can be read again: an output, not a one-time iterator
    assert sum(1 for _ in multifetch.read_results(outputs[name])) == 36


@pytest.mark.parametrize("name", FORMATS)
def test_a_dataframe_of_any_output_has_a_row_per_input_and_the_same_types(
        outputs: dict[str, Path], name: str) -> None:
    frame = multifetch.read_results(outputs[name]).to_pandas()
    assert len(frame) == 36 and frame["id"].is_unique
    reference = multifetch.read_results(outputs["out.parquet"]).to_pandas()
    assert dict(frame.dtypes) == dict(reference.dtypes)
    assert str(frame["status"].dtype) == "Int32" and str(frame["size"].dtype) == "Int64"
    assert str(frame["started_at"].dtype) == "datetime64[ms, UTC]"
    assert frame["status"].isna().sum() == 1  # the invalid line: no answer, and not a float NaN column
    assert (frame["status"] == 404).sum() == 4
    errors = frame["error"].dropna()
    assert [e["kind"] for e in errors] == ["invalid_input"]
    polars = multifetch.read_results(outputs[name]).to_polars()
    assert polars.height == 36 and polars.schema["status"] == pl.Int32


def test_fetch_to_pandas_in_one_call_one_row_per_input(target: TargetServer) -> None:
    urls = [f"{target.url}/bytes/{i}" for i in range(1, 101)] + ["http://127.0.0.1:1/"]
    frame = multifetch.to_pandas(multifetch.fetch(urls, retries=0), fields=(*multifetch.RECORD_FIELDS, "headers"))
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 101 and frame["id"].is_unique
    assert sorted(frame["size"].dropna().tolist()) == [0, *range(1, 101)]
    answered = frame[frame["status"].notna()]
    assert all(h["Content-Length"] == str(s) for h, s in zip(answered["headers"], answered["size"], strict=True))
    assert frame.loc[frame["status"].isna(), "error"].iloc[0]["kind"] == "connect"


def test_tables_are_built_in_batches(target: TargetServer) -> None:
    """Only a batch of results is held as Python objects: the table is made of one Arrow batch each."""
    results = multifetch.fetch([f"{target.url}/bytes/{i}" for i in range(250)])
    table = multifetch.to_arrow(results, batch_size=100)
    assert isinstance(table, pa.Table) and table.num_rows == 250
    assert [len(chunk) for chunk in table.column("id").chunks] == [100, 100, 50]
    assert multifetch.to_polars(iter(table.to_pylist())).height == 250


def test_an_empty_run_is_an_empty_table_with_the_record_columns() -> None:
    frame = multifetch.to_pandas([])
    assert len(frame) == 0 and list(frame.columns)[:3] == ["id", "url", "final_url"]


def test_read_results_of_a_missing_output_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        multifetch.read_results(tmp_path / "nothing.jsonl")
    with pytest.raises(TypeError, match="Results or record dicts"):
        multifetch.to_pandas([42])
