"""WARC archives: request and response records with the raw body, valid by warcio's own checker,
rotated by size, and continued after kill -9 with the torn last record cut away."""

from __future__ import annotations

import gzip
import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

import multifetch
from multifetch import Client
from multifetch.outputs._warc import existing, repair
from multifetch.testing import TargetServer, item_body

from helpers import jsonl, mf

try:
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]


def warcio(*args: str) -> subprocess.CompletedProcess[str]:
    """warcio's own command line (``warcio check``, ``warcio index``)."""
    return subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; main(sys.argv[1:])",
                           *args], capture_output=True, text=True, timeout=120, check=False)


def records(path: Path) -> list[tuple[str, str, int | None, bytes, str | None]]:
    """``(type, target URI, HTTP status, raw payload, WARC-Truncated)`` of each record."""
    found = []
    with open(path, "rb") as f:
        for record in ArchiveIterator(f):
            status = record.http_headers.get_statuscode() if record.http_headers else None
            found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                          int(status) if status and record.rec_type == "response" else None,
                          record.raw_stream.read(), record.rec_headers.get_header("WARC-Truncated")))
    return found


def assert_valid(*paths: Path) -> None:
    checked = warcio("check", "-v", *map(str, paths))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout and "fail" not in checked.stdout
    index = warcio("index", "-f", "warc-type,warc-target-uri", *map(str, paths))
    assert index.returncode == 0 and '"warc-type": "response"' in index.stdout, index.stderr


def test_every_request_and_answer_is_archived_with_its_raw_body(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(f"{target.url}/zstd\n{target.url}/gzip\n{target.url}/redirect/2\n{target.url}/status/503\n"
                   f'{{"url": "{target.url}/echo", "method": "POST", "data": "a body sent"}}\n'
                   "http://127.0.0.1:1/refused\n")
    out, archive = tmp_path / "out.jsonl", tmp_path / "crawl.warc.gz"
    done = mf("fetch", str(src), "-o", str(out), "--warc", str(archive), "--retries", "1", "-q")
    assert done.returncode == 1, done.stderr  # the refused connection: an error record, nothing archived
    assert_valid(archive)
    found = records(archive)
    assert found[0][0] == "warcinfo"
    responses = {(uri, status): payload for kind, uri, status, payload, _ in found if kind == "response"}
    requests = {uri: payload for kind, uri, _, payload, _ in found if kind == "request"}
    by_url = {r["url"]: r for r in jsonl(out)}
    zstd_body = responses[(f"{target.url}/zstd", 200)]
    assert zstd.decompress(zstd_body) == next(multifetch.fetch([f"{target.url}/zstd"])).content  # raw, as it came
    assert by_url[f"{target.url}/zstd"]["sha256"] == hashlib.sha256(zstd.decompress(zstd_body)).hexdigest()
    assert gzip.decompress(responses[(f"{target.url}/gzip", 200)]).startswith(b'{"encoding": "gzip"')
    for hop in ("2", "1"):  # each redirect libcurl followed is a pair of its own
        assert (f"{target.url}/redirect/{hop}", 302) in responses
    assert responses[(f"{target.url}/redirect/0", 200)] == b"arrived\n"
    assert sum(1 for kind, uri, *_ in found if kind == "response" and uri.endswith("/status/503")) == 2  # retried
    assert requests[f"{target.url}/echo"] == b"a body sent"
    assert not any("refused" in uri for _, uri, *_ in found if uri)
    assert len(requests) == len({uri for uri, _ in responses})


def test_archives_rotate_by_size(target: TargetServer, tmp_path: Path) -> None:
    archive = tmp_path / "a.warc.gz"
    urls = [f"{target.url}/bytes/3000?seed={i}" for i in range(20)]
    results = list(Client(warc=archive, warc_max_size=8000, retries=0).stream(urls))
    assert all(r.status == 200 for r in results)
    files = [Path(p) for p in existing(str(archive))]
    assert len(files) >= 3 and files[1].name == "a-00001.warc.gz"
    assert all(f.stat().st_size <= 8000 for f in files)
    assert_valid(*files)
    uris = [uri for f in files for kind, uri, *_ in records(f) if kind == "response"]
    assert sorted(uris) == sorted(urls)


def test_killed_run_resumes_with_a_valid_archive(target: TargetServer, tmp_path: Path) -> None:
    n = 300
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/k{i}?delay=0.1\n" for i in range(n)))  # 300 × 0.1 s / 4: 7.5 s
    out, archive = tmp_path / "out.jsonl", tmp_path / "run.warc.gz"
    args = ["fetch", str(src), "-o", str(out), "--warc", str(archive), "-c", "4", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", *args], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 40):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    kept = out.read_bytes().count(b"\n")
    assert 40 <= kept < n
    whole = archive.read_bytes()
    with open(archive, "ab") as f:  # a record torn by the kill, as a write cut short leaves it
        f.write(whole[-700:-300])
    assert mf(*args).returncode == 2  # an archive that exists is not overwritten without --resume
    done = mf(*args, "--resume")
    assert done.returncode == 0, done.stderr
    assert_valid(archive)
    final = jsonl(out)
    assert len(final) == n and len({r["id"] for r in final}) == n
    archived = {uri for kind, uri, *_ in records(archive) if kind == "response"}
    assert {r["url"] for r in final} <= archived  # every record's answer is in the archive
    for kind, uri, _, payload, _ in records(archive):
        if kind == "response":
            assert payload == item_body(uri.split("/item/")[1].split("?")[0])
    done = mf(*args, "--overwrite")
    assert done.returncode == 0 and len(records(archive)) == 1 + 2 * n


def test_repair_cuts_after_the_last_whole_member(tmp_path: Path) -> None:
    path = tmp_path / "x.warc.gz"
    members = gzip.compress(b"one") + gzip.compress(b"two")
    path.write_bytes(members + gzip.compress(b"three")[:-5])
    assert repair(str(path)) > 0
    assert path.read_bytes() == members
    assert repair(str(path)) == 0
    path.write_bytes(members + b"not gzip at all")
    repair(str(path))
    assert path.read_bytes() == members


def test_archive_mistakes(tmp_path: Path) -> None:
    with pytest.raises(multifetch.UsageError):
        Client(warc=tmp_path / "a.warc.gz", transport="requests")
    with pytest.raises(multifetch.UsageError):
        Client(warc=tmp_path / "a.warc.gz", processes=2)
    with pytest.raises(multifetch.UsageError):
        Client(warc_max_size=100)
    done = mf("fetch", "http://127.0.0.1:1/", "--warc", str(tmp_path / "no" / "a.warc.gz"))
    assert done.returncode == 2 and b"no folder" in done.stderr
    done = mf("fetch", "http://127.0.0.1:1/", "--warc", str(tmp_path))
    assert done.returncode == 2 and b"is a folder" in done.stderr
