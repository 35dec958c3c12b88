"""`multifetch fetch` as a user runs it: records, exit statuses, errors in one line."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from multifetch.outputs._sinks import RECORD_FIELDS
from multifetch.testing import TargetServer

from helpers import jsonl, mf


def test_url_lines_and_json_specs_to_stdout(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(
        "# a comment\n\n"
        f"{target.url}/bytes/10\n"
        f'{{"url": "{target.url}/echo", "method": "POST", "json": {{"a": 1}}, "id": "p", "meta": [1]}}\n'
        f"{target.url}/status/404\n"
    )
    proc = mf("fetch", str(src), "-q")
    assert proc.returncode == 0, proc.stderr
    records = {r["id"]: r for r in jsonl(proc.stdout)}
    assert set(records) == {"3", "p", "5"}
    assert list(records["3"]) == list(RECORD_FIELDS)
    assert records["3"]["status"] == 200 and records["3"]["size"] == 10
    assert records["p"]["method"] == "POST" and records["p"]["meta"] == [1]
    assert records["5"]["status"] == 404 and records["5"]["error"] is None
    assert records["3"]["started_at"].endswith("Z")


def test_invalid_lines_get_records_and_exit_1(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(f"{target.url}/bytes/1\nnot a url\n{{broken json\n{{\"method\": \"GET\"}}\n")
    proc = mf("fetch", str(src), "-o", str(tmp_path / "out.jsonl"), "-q")
    assert proc.returncode == 1
    records = {r["id"]: r for r in jsonl(tmp_path / "out.jsonl")}
    assert len(records) == 4
    for line in ("2", "3", "4"):
        assert records[line]["error"]["kind"] == "invalid_input"
        assert f"in.txt:{line}:" in records[line]["error"]["message"]
    assert "no 'url'" in records["4"]["error"]["message"]


def test_literal_urls_stdin_and_gzip(target: TargetServer, tmp_path: Path) -> None:
    gz = tmp_path / "in.gz"
    gz.write_bytes(gzip.compress(f"{target.url}/item/g\n".encode()))
    proc = mf("fetch", f"{target.url}/item/u", "-", str(gz), "-q",
              stdin=f"{target.url}/item/s\n".encode())
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["id"] for r in jsonl(proc.stdout)) == ["1:1", "2:1", "3:1"]


def test_method_header_data_defaults(target: TargetServer) -> None:
    proc = mf("fetch", f"{target.url}/echo", "-X", "put", "-H", "X-Key: v", "-d", "body", "-q")
    (record,) = jsonl(proc.stdout)
    assert record["method"] == "PUT"


def test_missing_input_is_one_line_exit_3(tmp_path: Path) -> None:
    proc = mf("fetch", str(tmp_path / "nope.txt"))
    assert proc.returncode == 3
    assert proc.stderr.decode().strip() == f"multifetch: error: {tmp_path / 'nope.txt'}: no such file"


def test_bad_option_value_exit_2(tmp_path: Path) -> None:
    proc = mf("fetch", "http://127.0.0.1:1/", "--rate", "fast")
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr
    assert b"bad rate" in proc.stderr


def test_refuses_to_clobber_output(target: TargetServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "x"}\n')
    proc = mf("fetch", f"{target.url}/bytes/1", "-o", str(out), "-q")
    assert proc.returncode == 2 and b"--resume" in proc.stderr
    assert mf("fetch", f"{target.url}/bytes/1", "-o", str(out), "-q", "--overwrite").returncode == 0


def test_csv_and_sqlite_outputs_hold_the_same_records(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}\n" for i in range(50)) + "bad\n")
    for name in ("a.jsonl", "a.csv", "a.db"):
        assert mf("fetch", str(src), "-o", str(tmp_path / name), "-q").returncode == 1
    from multifetch.outputs._records import read_records

    def key(r: dict) -> tuple:  # type: ignore[type-arg]
        return (r["id"], r["status"], r["sha256"], r["size"], json.dumps(r["error"]), r["url"])

    base = sorted(key(r) for r in read_records(str(tmp_path / "a.jsonl")))
    assert len(base) == 51
    assert sorted(key(r) for r in read_records(str(tmp_path / "a.csv"))) == base
    assert sorted(key(r) for r in read_records(str(tmp_path / "a.db"))) == base
    db = sqlite3.connect(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 51


def test_summary_json(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(f"{target.url}/status/200\n" * 8 + f"{target.url}/status/404\n" * 2 + "http://127.0.0.1:1/\n")
    proc = mf("fetch", str(src), "-o", str(tmp_path / "o.jsonl"), "--summary-json", str(tmp_path / "s.json"),
              "--retries", "0")
    assert proc.returncode == 1
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["records"] == 11
    assert summary["statuses"] == {"200": 8, "404": 2}
    assert summary["error_kinds"]["connect"]["count"] == 1
    assert summary["latency"]["p50"] > 0
    assert b"records" in proc.stderr  # the summary is shown on stderr


def test_version_is_quick_to_answer() -> None:
    proc = mf("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("multifetch, version ")


def test_a_plain_run_imports_only_what_it_uses(tmp_path: Path) -> None:
    """Start-up is paid by every run: what only some runs need (cluster part folders, the HTML
    report, SQLite) is imported when a run needs it."""
    src = tmp_path / "urls.txt"
    src.write_text("http://127.0.0.1:1/refused\n")
    only_some = ["glob", "sqlite3", "multifetch.cli._fetch_parts", "multifetch.report._aggregate",
                 "multifetch.report._html", "multifetch.runners._cluster_input"]
    code = (
        "import sys\n"
        "from multifetch.cli.main import main\n"
        f"sys.argv = ['multifetch', 'fetch', {str(src)!r}, '-o', {str(tmp_path / 'out.jsonl')!r}, '-q']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {only_some!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]
    assert jsonl(tmp_path / "out.jsonl")[0]["error"]["kind"] == "connect"


def test_help_has_examples() -> None:
    assert b"Examples:" in mf("fetch", "--help").stdout
    assert b"Examples:" in mf("--help").stdout
