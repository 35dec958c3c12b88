"""The Parquet output: a folder of parts read by pyarrow as it stands, killed and resumed to exactly
one record per input, several writers in one folder, and the types of its columns."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import multifetch
from multifetch.outputs._parquet import ParquetSink
from multifetch.testing import TargetServer

from helpers import mf

N = 20_000

TYPES = {
    "id": pa.string(), "url": pa.string(), "final_url": pa.string(), "method": pa.string(),
    "status": pa.int32(), "error": pa.struct([("kind", pa.string()), ("message", pa.string())]),
    "attempts": pa.int32(), "elapsed": pa.float64(), "size": pa.int64(), "sha256": pa.string(),
    "body_path": pa.string(), "started_at": pa.timestamp("ms", tz="UTC"), "meta": pa.string(),
}


def read_dataset(folder: Path) -> pa.Table:
    """The folder as any Parquet reader sees it: pyarrow's dataset, hidden files skipped."""
    return ds.dataset(str(folder), format="parquet").to_table()


def test_records_read_back_by_pyarrow_with_their_types(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    lines = [f"{target.url}/bytes/{i}" for i in range(1, 41)] + [f"{target.url}/status/404?i={i}" for i in range(5)]
    lines += [json.dumps({"url": f"{target.url}/bytes/3", "id": "m", "meta": {"tag": [1, "x"]}}), "not a url"]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.parquet"
    proc = mf("fetch", str(src), "-o", str(out), "-q", "--include-headers")
    assert proc.returncode == 1, proc.stderr.decode()  # the invalid line is an error record
    table = read_dataset(out)
    assert table.num_rows == 47
    for name, type_ in TYPES.items():
        assert table.schema.field(name).type == type_, name
    assert pa.types.is_map(table.schema.field("headers").type)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert len(rows) == 47
    assert rows["m"]["meta"] == '{"tag":[1,"x"]}' and rows["m"]["size"] == 3 and rows["m"]["status"] == 200
    assert rows["m"]["started_at"].tzinfo is not None
    assert dict(rows["m"]["headers"])["Content-Length"] == "3"
    bad = [r for r in rows.values() if r["error"] is not None]
    assert len(bad) == 1 and bad[0]["error"]["kind"] == "invalid_input" and bad[0]["status"] is None
    assert sorted(r["status"] for r in rows.values() if r["status"] == 404) == [404] * 5
    # no part is left hidden, and the fingerprint lives inside the folder, where readers skip it
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("part-")) == ["_multifetch.json"]
    # read back as records: the same dicts a JSONL output gives
    record = next(r for r in multifetch.read_results(out) if r["id"] == "m")
    assert record["meta"] == {"tag": [1, "x"]} and record["started_at"].endswith("Z")
    assert record["headers"]["Content-Length"] == "3"


def start(src: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out), "-c", "16", "--per-host", "16",
         "-q", "--resume", "--part-seconds", "0.3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def test_killed_runs_leave_a_readable_dataset_and_resume_to_one_record_each(
        target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}?delay=0.004\n" for i in range(N)))
    out = tmp_path / "out.parquet"
    rng = random.Random(7)
    kills = 0
    kept = []
    for _ in range(4):
        parts = len(list(out.glob("part-*"))) if out.exists() else 0
        proc = start(src, out)
        # killed once this run has committed a part (a loaded machine starts slowly), a moment later
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and len(list(out.glob("part-*"))) <= parts:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, err = proc.communicate(timeout=60)
        assert b"Traceback" not in err, err.decode()
        # what a killed run leaves is a dataset any reader takes: complete parts, no duplicate
        table = read_dataset(out)
        ids = table.column("id").to_pylist() if table.num_columns else []  # no part yet: no column
        assert len(ids) == len(set(ids))
        kept.append(len(ids))
    assert kills >= 3
    assert kept[0] > 0 and kept == sorted(kept) and kept[-1] < N, kept  # each run added to what was kept
    proc = start(src, out)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err.decode()
    table = read_dataset(out)
    ids = table.column("id").to_pylist()
    assert len(ids) == N and set(ids) == {str(i) for i in range(1, N + 1)}
    assert table.column("error").null_count == N
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    for name, type_ in TYPES.items():
        assert table.schema.field(name).type == type_, name
    assert len(multifetch.read_results(out).to_pandas()) == N


def test_a_torn_part_is_discarded_and_its_records_fetched_again(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}\n" for i in range(200)))
    out = tmp_path / "out.parquet"
    assert mf("fetch", str(src), "-o", str(out), "-q").returncode == 0
    (part,) = out.glob("part-*.parquet")
    # a kill mid-part: the part never got its footer or its name
    data = part.read_bytes()
    part.unlink()
    (out / f".{part.stem}.inprogress").write_bytes(data[: len(data) // 2])
    assert read_dataset(out).num_rows == 0
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume").returncode == 0
    assert sorted(read_dataset(out).column("id").to_pylist(), key=int) == [str(i) for i in range(1, 201)]
    assert not list(out.glob(".*"))


def test_retry_failed_replaces_error_records_in_their_parts(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/bytes/{i}\n" for i in range(1, 31)) + "http://127.0.0.1:1/\n")
    out = tmp_path / "out.parquet"
    assert mf("fetch", str(src), "-o", str(out), "-q", "--retries", "0").returncode == 1
    before = {p.name for p in out.glob("part-*")}
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retries", "0").returncode == 0
    assert {p.name for p in out.glob("part-*")} == before  # nothing to do: nothing written
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retry-failed",
              "--retries", "0").returncode == 1
    table = read_dataset(out)
    ids = table.column("id").to_pylist()
    assert len(ids) == 31 == len(set(ids))
    assert len(list(out.glob("part-*"))) == 2  # the error left its part for the new one


def test_parts_of_several_writers_read_as_one_result_set(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    fields = tuple(TYPES)
    sinks = [ParquetSink(str(out), fields, writer=f"w{i}", part_seconds=3600) for i in range(3)]
    for n in range(300):  # interleaved, as workers would
        sinks[n % 3].write({"id": str(n), "url": f"http://h{n % 3}.test/{n}", "method": "GET", "status": 200,
                            "error": None, "attempts": 1, "elapsed": 0.01, "size": n,
                            "started_at": "2026-01-02T03:04:05.678Z", "meta": None})
        if n == 150:
            for sink in sinks:
                sink.flush()  # a second part each
    for sink in sinks:
        sink.close()
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 6 and all(n.startswith("part-") for n in names)
    records = list(multifetch.read_results(out))
    assert sorted(int(r["id"]) for r in records) == list(range(300))
    assert {r["started_at"] for r in records} == {"2026-01-02T03:04:05.678Z"}
    assert read_dataset(out).num_rows == 300
    assert len(multifetch.read_results(out).to_pandas()) == 300


def test_overwrite_clears_only_what_multifetch_wrote(target: TargetServer, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    assert mf("fetch", f"{target.url}/bytes/1", "-o", str(out), "-q").returncode == 0
    proc = mf("fetch", f"{target.url}/bytes/2", "-o", str(out), "-q")
    assert proc.returncode == 2 and b"--overwrite" in proc.stderr
    assert mf("fetch", f"{target.url}/bytes/2", "-o", str(out), "-q", "--overwrite").returncode == 0
    assert [r["size"] for r in multifetch.read_results(out)] == [2]
    (out / "notes.txt").write_text("mine")
    proc = mf("fetch", f"{target.url}/bytes/3", "-o", str(out), "-q", "--overwrite")
    assert proc.returncode == 2 and b"did not write" in proc.stderr and b"Traceback" not in proc.stderr
    assert (out / "notes.txt").read_text() == "mine"
    plain = tmp_path / "file.parquet"
    pq.write_table(pa.table({"x": [1]}), plain)  # a Parquet file of someone else's, not a folder
    proc = mf("fetch", f"{target.url}/bytes/3", "-o", str(plain), "-q", "--resume")
    assert proc.returncode == 2 and b"is a file" in proc.stderr and b"Traceback" not in proc.stderr


@pytest.mark.parametrize("where", ["-", "/dev/stdout"])
def test_parquet_needs_a_folder(target: TargetServer, where: str) -> None:
    proc = mf("fetch", f"{target.url}/bytes/1", "-o", where, "--format", "parquet", "-q")
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
    assert proc.stderr.decode().count("\n") == 1


def test_parts_are_written_in_row_groups(tmp_path: Path) -> None:
    from multifetch.outputs import _parquet

    out = tmp_path / "out.parquet"
    sink = ParquetSink(str(out), ("id", "status"), part_seconds=3600)
    for n in range(_parquet.ROW_GROUP * 2 + 5):
        sink.write({"id": str(n), "status": 200})
    assert sink.durable == 0 and list(out.glob(".part-*"))  # written, not yet committed
    sink.close()
    (part,) = out.glob("part-*.parquet")
    assert pq.ParquetFile(part).metadata.num_row_groups == 3
    assert sink.durable == _parquet.ROW_GROUP * 2 + 5
    assert os.listdir(out) == [part.name]
