"""``--since PREVIOUS`` / ``Client(since=...)``: a second run sends the validators the first one
recorded, and a 304 becomes an ``unchanged`` record with the previous body's facts.

Against the target server's ``/cached/KEY`` route: ETag and Last-Modified of a version the test
can bump (``server.versions``), 304 for a request that already has it, each answer counted.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import multifetch
from multifetch.outputs import _since
from multifetch.outputs._records import read_records
from multifetch.outputs._since import PreviousRun
from multifetch.testing import TargetServer

from helpers import jsonl, mf


@pytest.fixture
def site() -> Iterator[TargetServer]:
    with TargetServer() as server:
        yield server


def urls_file(server: TargetServer, tmp_path: Path, keys: list[str]) -> Path:
    src = tmp_path / "urls.txt"
    src.write_text("".join(f"{server.url}/cached/{key}\n" for key in keys))
    return src


def by_key(records: list[dict]) -> dict[str, dict]:
    return {r["url"].rsplit("/", 1)[-1]: r for r in records}


@pytest.mark.parametrize("previous", ["one.jsonl", "one.csv", "one.db", "one.parquet"])
def test_a_second_run_gets_304s_that_carry_the_previous_body(
        site: TargetServer, tmp_path: Path, previous: str) -> None:
    src = urls_file(site, tmp_path, ["a", "b", "c?validators=date", "d?validators=etag"])
    first = tmp_path / previous
    assert mf("fetch", str(src), "-o", str(first), "-q").returncode == 0
    site.versions["b"] = 2  # b changes between the runs
    second, summary = tmp_path / "two.jsonl", tmp_path / "summary.json"
    proc = mf("fetch", str(src), "-o", str(second), "--since", str(first), "--summary-json", str(summary), "-q")
    assert proc.returncode == 0, proc.stderr
    before, after = by_key(list(read_records(str(first)))), by_key(jsonl(second))
    for key in ("a", "c?validators=date", "d?validators=etag"):
        assert after[key]["status"] == 304 and after[key]["unchanged"] is True
        for field in ("sha256", "size", "etag", "last_modified"):
            assert after[key][field] == before[key][field], (key, field)
        assert after[key]["size"] > 0 and after[key]["sha256"]
    assert after["b"]["status"] == 200 and after["b"]["unchanged"] is False
    assert after["b"]["etag"] == '"b-v2"' and after["b"]["sha256"] != before["b"]["sha256"]
    assert site.stats.counters["304"] == 3
    assert json.loads(summary.read_text())["unchanged"] == 3


def test_records_carry_their_validators(site: TargetServer) -> None:
    (etag_and_date,) = multifetch.fetch([f"{site.url}/cached/v"])
    assert etag_and_date.etag == '"v-v1"' and etag_and_date.last_modified.endswith(" GMT")
    record = etag_and_date.to_record()
    assert (record["etag"], record["last_modified"]) == (etag_and_date.etag, etag_and_date.last_modified)
    (plain,) = multifetch.fetch([f"{site.url}/item/x"])
    assert plain.to_record()["etag"] is None and plain.to_record()["last_modified"] is None


def test_runs_chain_and_saved_bodies_survive_a_304(site: TargetServer, tmp_path: Path) -> None:
    src = urls_file(site, tmp_path, ["a", "b"])
    bodies = tmp_path / "bodies"
    outputs = [tmp_path / f"run{i}.jsonl" for i in range(3)]
    assert mf("fetch", str(src), "-o", str(outputs[0]), "--save-bodies", str(bodies), "-q").returncode == 0
    saved = {p.name: p.read_bytes() for p in bodies.iterdir()}
    for previous, output in itertools.pairwise(outputs):
        proc = mf("fetch", str(src), "-o", str(output), "--since", str(previous), "--save-bodies", str(bodies), "-q")
        assert proc.returncode == 0, proc.stderr
    last = by_key(jsonl(outputs[2]))
    assert all(r["unchanged"] and r["status"] == 304 for r in last.values())  # the second run's 304s chain on
    assert {p.name: p.read_bytes() for p in bodies.iterdir()} == saved  # never replaced by an empty body
    first = by_key(jsonl(outputs[0]))
    assert all(last[k]["body_path"] == first[k]["body_path"] and last[k]["sha256"] == first[k]["sha256"]
               for k in first)


def test_api_since_and_engine_processes(site: TargetServer, tmp_path: Path) -> None:
    urls = [f"{site.url}/cached/k{i}" for i in range(20)]
    first = tmp_path / "first.jsonl"
    with multifetch.Client(bodies="hash") as client:  # the API's ids: positions
        records = {r.id: r.to_record() for r in client.stream(urls)}
    first.write_text("".join(json.dumps(r) + "\n" for r in records.values()))
    site.versions["k3"] = 2
    results = list(multifetch.fetch(urls, since=str(first), processes=2, bodies="hash"))
    unchanged = {r.id for r in results if r.unchanged}
    assert unchanged == {str(i) for i in range(20)} - {"3"}
    assert all(r.status == 304 and r.sha256 == records[r.id]["sha256"] for r in results if r.unchanged)


def test_the_same_id_for_another_url_is_not_conditional(site: TargetServer, tmp_path: Path) -> None:
    src = urls_file(site, tmp_path, ["a", "b"])
    first = tmp_path / "first.jsonl"
    assert mf("fetch", str(src), "-o", str(first), "-q").returncode == 0
    src.write_text(f"{site.url}/cached/b\n{site.url}/cached/a\n")  # the lines swapped: ids 1 and 2 too
    second = tmp_path / "second.jsonl"
    assert mf("fetch", str(src), "-o", str(second), "--since", str(first), "-q").returncode == 0
    assert [r["status"] for r in jsonl(second)] == [200, 200]
    assert site.stats.counters["304"] == 0


def test_a_large_previous_output_is_indexed_on_disk(
        site: TargetServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_since, "_MEMORY_ENTRIES", 5)
    urls = [f"{site.url}/cached/m{i}" for i in range(30)]
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(r.to_record()) + "\n" for r in multifetch.fetch(urls, bodies="hash")))
    previous = PreviousRun(str(first), str(tmp_path))
    try:
        assert previous.count == 30 and previous._memory is None  # moved to its table
        assert not [p for p in tmp_path.iterdir() if p.suffix == ".db"]  # unlinked as soon as opened
        assert previous.lookup("7", urls[7]) is not None and previous.lookup("7", urls[8]) is None
    finally:
        previous.close()
    results = list(multifetch.fetch(urls, since=str(first)))
    assert all(r.unchanged for r in results)


def test_since_mistakes_are_one_line_errors(site: TargetServer, tmp_path: Path) -> None:
    src = urls_file(site, tmp_path, ["a"])
    out = tmp_path / "out.jsonl"
    assert mf("fetch", str(src), "-o", str(out), "-q").returncode == 0
    same = mf("fetch", str(src), "-o", str(out), "--since", str(out), "--overwrite", "-q")
    assert same.returncode == 2 and b"is the output of this run too" in same.stderr
    missing = mf("fetch", str(src), "--since", str(tmp_path / "nope.jsonl"), "-q")
    assert missing.returncode == 2 and b"--since" in missing.stderr and b"Traceback" not in missing.stderr
    with pytest.raises(multifetch.UsageError, match="not with requests_map"):
        list(multifetch.requests_map([f"{site.url}/cached/a"], since=str(out)))
