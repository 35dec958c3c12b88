"""A cluster run writing its part folder to an object store through fsspec: moto's S3 server in this
process on 127.0.0.1, reached by the CLI, its Dask workers and the reader the standard way (the AWS
environment variables and ``AWS_ENDPOINT_URL``). A run stopped part-way and resumed per part, then
exactly one record per input read back from the bucket, the manifest complete, and a ``--resume`` of
the finished run fetching nothing more."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from multifetch import read_results
from multifetch.outputs._parts import PartFolder, read_part_folder
from multifetch.testing import TargetServer

from helpers import mf

pytest.importorskip("distributed")
pytest.importorskip("s3fs")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """An empty bucket on an S3 server of our own; its endpoint in the environment (the subprocesses'
    too), every AWS setting of this machine's user kept out."""
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.ERROR)  # not a line a request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                        "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bucket")
    try:
        yield endpoint
    finally:
        server.stop()


def objects(endpoint: str, prefix: str) -> list[str]:
    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket="bucket", Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_a_cluster_run_writes_its_part_folder_to_an_object_store(s3: str, fresh_target: TargetServer,
                                                                 tmp_path: Path) -> None:
    target = fresh_target
    source = tmp_path / "urls.txt"
    source.write_text("".join(f"{target.url}/item/{i}?delay=0.05\n" for i in range(200)))
    args = ["fetch", str(source), "-o", "s3://bucket/run/", "--cluster", "local:2", "--part-size", "20",
            "--per-host", "2", "-q"]
    stopped = mf(*args, "--deadline", "2", timeout=60)  # of 5 s of fetching or more: stopped part-way
    assert stopped.returncode == 1, stopped.stderr.decode()
    before = PartFolder("s3://bucket/run/").parts()
    assert 1 <= len(before) < 10 and objects(s3, "run/_inputs/")  # some parts; the split input kept
    target.stats.reset()
    proc = mf(*args, "--resume", "--summary-json", str(tmp_path / "summary.json"), timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["records_before"] == 20 * len(before) and summary["records"] == 200 - summary["records_before"]
    assert target.stats.total == summary["records"]  # the committed parts are not fetched again

    records = list(read_part_folder("s3://bucket/run/"))
    ids = Counter(r["id"] for r in records)
    assert len(ids) == 200 and set(ids.values()) == {1}
    assert {r["status"] for r in records} == {200}
    manifest = PartFolder("s3://bucket/run/").manifest()
    assert manifest is not None and manifest["complete"] and manifest["records"] == 200
    keys = objects(s3, "run/")
    assert sorted(f"run/{p['name']}" for p in manifest["parts"]) == [k for k in keys if k.startswith("run/part-")]
    assert len(manifest["parts"]) == 10 and sum(p["records"] for p in manifest["parts"]) == 200
    assert set(keys) - {f"run/{p['name']}" for p in manifest["parts"]} == {"run/_manifest.json"}  # work gone

    target.stats.reset()
    again = mf(*args, "--resume", timeout=60)
    assert again.returncode == 0, again.stderr.decode()
    assert target.stats.total == 0  # the finished run: nothing fetched again
    assert objects(s3, "run/") == keys

    report = mf("report", "s3://bucket/run/", "-o", str(tmp_path / "r.html"), timeout=60)
    assert report.returncode == 0 and b"200 records" in report.stderr, report.stderr.decode()
    results = read_results("s3://bucket/run/")
    assert len(list(results)) == 200 and results.to_arrow().num_rows == 200
    missing = mf("report", "s3://bucket/nothing/", "-o", str(tmp_path / "n.html"), timeout=60)
    assert missing.returncode == 3 and missing.stderr.startswith(b"multifetch: error: s3://bucket/nothing/")


def test_a_part_folder_reads_back_as_a_table_of_its_records(tmp_path: Path) -> None:
    folder = PartFolder(str(tmp_path / "run"))
    folder.make()
    folder.write_manifest({"complete": False})
    folder.commit("part-f00000-l0000-c00000.jsonl", b'{"id": "a", "url": "http://127.0.0.1:1/", "status": 200}\n')
    results = read_results(tmp_path / "run")
    assert results.format == "jsonl" and results.to_arrow().num_rows == 1  # not read as an empty Parquet folder
