"""Outputs and bodies: dedup, fields, headers, hostile names, CSV formulas, a 2 GB body in flat memory."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from multifetch.outputs._csv import cell
from multifetch.testing import TargetServer

from helpers import jsonl, mf


def test_dedup_a_million_lines(fresh_target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    with src.open("w") as f:
        for i in range(1_000_000):
            f.write(f"{fresh_target.url}/item/{i % 500}\n")
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", str(src), "-o", str(out), "--dedup", "-q", "--per-host", "32",
              "--summary-json", str(tmp_path / "s.json"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = jsonl(out)
    assert len(records) == 500
    assert len({r["url"] for r in records}) == 500
    assert fresh_target.stats.total == 500
    assert json.loads((tmp_path / "s.json").read_text())["duplicates_dropped"] == 999_500


def test_fields_and_headers(target: TargetServer, tmp_path: Path) -> None:
    proc = mf("fetch", target.url + "/gzip", "--fields", "id,status,headers", "--include-headers", "-q")
    (record,) = jsonl(proc.stdout)
    assert list(record) == ["id", "status", "headers"]
    assert record["headers"]["Content-Encoding"] == "gzip"
    assert mf("fetch", target.url, "--fields", "status,nope").returncode == 2


def test_timings_field(target: TargetServer, tmp_path: Path) -> None:
    """``--fields ...,timings`` writes each phase's seconds (it was accepted and always null)."""
    src = tmp_path / "in.txt"
    src.write_text(f"{target.url}/bytes/10?a\n{target.url}/bytes/10?b\n")
    proc = mf("fetch", str(src), "--fields", "id,timings", "-q", "-c", "1")
    records = jsonl(proc.stdout)
    assert [list(r) for r in records] == [["id", "timings"]] * 2
    for record in records:
        timings = record["timings"]
        assert list(timings) == ["dns", "connect", "tls", "first_byte", "total"]
        assert 0 < timings["first_byte"] <= timings["total"] < 5
    assert records[1]["timings"]["connect"] == 0  # the second reused the first's connection
    proc = mf("fetch", target.url, "--fields", "id,timings", "--engine", "requests", "-q")
    assert list(jsonl(proc.stdout)[0]) == ["id", "timings"]


def test_hostile_names_stay_inside_the_folder(target: TargetServer, tmp_path: Path) -> None:
    bodies = tmp_path / "a" / "bodies"
    src = tmp_path / "in.txt"
    src.write_text(
        f'{{"url": "{target.url}/download?name=../../../escaped", "id": "../../escaped"}}\n'
        f'{{"url": "{target.url}/item/%2e%2e/%2e%2e/x", "id": "/abs/path"}}\n'
        f'{{"url": "{target.url}/item/ok", "id": ".hidden"}}\n'
    )
    proc = mf("fetch", str(src), "--save-bodies", str(bodies), "-q")
    assert proc.returncode == 0, proc.stderr
    records = jsonl(proc.stdout)
    for r in records:
        assert Path(r["body_path"]).parent == bodies
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [Path(r["body_path"]).name for r in records] + ["in.txt"]
    )


def test_planted_symlink_is_not_followed(target: TargetServer, tmp_path: Path) -> None:
    bodies = tmp_path / "bodies"
    bodies.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (bodies / "x.part").symlink_to(victim)
    proc = mf("fetch", "-", "-q", "--save-bodies", str(bodies),
              stdin=f'{{"url": "{target.url}/item/x", "id": "x"}}\n'.encode())
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious"
    assert (bodies / "x").read_bytes().startswith(b"item x")


def test_csv_cells_neutralise_formulas() -> None:
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("+1+1") == "'+1+1"
    assert cell("@x") == "'@x"
    assert cell("-5") == "-5"
    assert cell({"a": 1}) == '{"a":1}'
    assert cell(None) == ""


def test_two_gigabyte_body_in_flat_memory(target: TargetServer, tmp_path: Path) -> None:
    n = 2 * 1024**3
    code = (
        "import resource, sys, multifetch\n"
        "(r,) = multifetch.fetch([sys.argv[1]], bodies=sys.argv[2], timeout=600)\n"
        "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(r.status_code, r.size, r.body_path, hwm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, f"{target.url}/large/{n}", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=True)
    status, size, path, hwm_kb, maxrss_kb = proc.stdout.split()
    assert (status, int(size)) == ("200", n)
    assert Path(path).stat().st_size == n
    # Peak RSS of the child's own image. Linux carries ru_maxrss over fork+exec, so a child of a
    # big pytest process starts with the parent's figure; VmHWM is measured for the new image.
    assert int(hwm_kb) < 100 * 1024, f"peak RSS {int(hwm_kb) / 1024:.0f} MB (ru_maxrss {maxrss_kb} kB)"
    Path(path).unlink()


def test_a_body_that_cannot_be_saved_is_a_write_error(target: TargetServer, tmp_path: Path) -> None:
    """The disk refuses a saved body part-way (here: a 2 MB file-size limit): that request gets a
    ``write`` error, the others their files, and the run ends normally with status 1."""
    import resource

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))

    src = tmp_path / "in.txt"
    src.write_text(f"{target.url}/bytes/6000000?seed=big\n" + "".join(
        f"{target.url}/bytes/3000?seed={i}\n" for i in range(5)))
    folder = tmp_path / "bodies"
    done = subprocess.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(tmp_path / "out.jsonl"),
                           "--save-bodies", str(folder), "-q", "--retries", "0"],
                          capture_output=True, timeout=60, preexec_fn=limit_files, check=False)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    records = {r["id"]: r for r in jsonl(tmp_path / "out.jsonl")}
    assert records["1"]["error"]["kind"] == "write" and "cannot save body" in records["1"]["error"]["message"]
    assert all(records[str(i)]["status"] == 200 and records[str(i)]["size"] == 3000 for i in range(2, 7))
    assert not (folder / "1").exists()


def test_jsonl_lines_stay_ascii_and_take_what_orjson_refuses() -> None:
    from multifetch.outputs._jsonl import encode_line

    assert encode_line({"id": "1", "elapsed": 0.0125, "error": None}) == b'{"id":"1","elapsed":0.0125,"error":null}\n'
    # non-ASCII text is escaped as before: a C1 control (CSI) never reaches a terminal raw
    assert encode_line({"meta": "caf\u00e9\x9b[2J"}) == b'{"meta":"caf\\u00e9\\u009b[2J"}\n'
    assert encode_line({"meta": 2**70}) == b'{"meta":1180591620717411303424}\n'
    assert encode_line({"meta": "\udc80"}) == b'{"meta":"\\udc80"}\n'
    assert encode_line({"meta": {1: "a"}}) == b'{"meta":{"1":"a"}}\n'
    # NaN and infinities (which Python's JSON reader lets into meta) become null: valid JSON
    assert encode_line({"meta": [float("nan"), float("inf")]}) == b'{"meta":[null,null]}\n'


def test_csv_rows_are_their_cells(tmp_path: Path) -> None:
    """The CSV sink writes common rows by hand; every row must be what the csv module makes of cell()s."""
    import csv
    import io

    from multifetch.outputs._sinks import open_sink

    fields = ("id", "status", "elapsed", "error", "meta", "body_path", "size")
    rows = [("=1+1", 200, 0.5, None, {"a": [1, None]}, "-x", 0), ("-5", None, 1e-07, {"kind": "timeout", "message": "@t"},
            True, None, -3), ("", 404, float("inf"), None, ["=x"], "+", 2**70),
            ("a1", 200, 0.25, None, None, None, 1024), ("a,b", 200, 1e-07, None, 'say "x"', "l\nm", 5),
            ("7", 200, -0.5, None, None, None, 1), ("8", None, 0.0, None, "\tx", "\r", None), ("", None, None, None, None, None, None),
            (" a\x00b ", 200, 2.0, None, "a\u2028b\x0b\x85", "é;'\\", 9)]
    sink = open_sink(str(tmp_path / "o.csv"), "csv", fields)
    for row in rows:
        sink.write(dict(zip(fields, row, strict=True)))
    sink.close()
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    assert (tmp_path / "o.csv").read_bytes() == expected.getvalue().encode()


def _urls(tmp_path: Path, target: TargetServer, n: int = 50) -> Path:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}\n" for i in range(n)))
    return src


def _run_into_pipe(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """The CLI writing to ``/dev/fd/N``, a pipe this test reads (as the shell's ``-o >(gzip > x.gz)``)."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", *args, "-o", f"/dev/fd/{write_end}"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, b"", err), data


def test_outputs_that_are_not_files_get_the_records(target: TargetServer, tmp_path: Path) -> None:
    src = _urls(tmp_path, target)
    work = tmp_path / "work"
    work.mkdir()
    # a pipe named /dev/fd/N: every record, no fsync error, nothing written beside it
    proc, data = _run_into_pipe(["fetch", str(src)], work)
    assert proc.returncode == 0, proc.stderr
    assert len(jsonl(data)) == 50
    assert proc.stderr.decode().count("is not a regular file: records are written to it, without --resume") == 1
    # /dev/stdout into a pipe
    proc = subprocess.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-q", "-o", "/dev/stdout"],
                          capture_output=True, timeout=60, check=False, cwd=work)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert len(jsonl(proc.stdout)) == 50
    # /dev/stdout that is the caller's `>> kept.jsonl`: appended to, not truncated, nothing beside it
    kept = tmp_path / "kept.jsonl"
    kept.write_text('{"id": "earlier"}\n')
    with kept.open("ab") as stdout:
        proc = subprocess.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-q", "-o", "/dev/stdout"],
                              stdout=stdout, stderr=subprocess.PIPE, timeout=60, check=False, cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in jsonl(kept)][:2] == ["earlier", "1"] and len(jsonl(kept)) == 51
    # a FIFO, as CSV
    fifo = work / "out.csv"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    proc = mf("fetch", str(src), "-q", "-o", str(fifo))
    assert proc.returncode == 0, proc.stderr
    assert reader.communicate(timeout=30)[0].count(b"\n") == 51  # the header and 50 rows
    assert sorted(p.name for p in work.iterdir()) == ["out.csv"]


def test_a_device_output_leaves_nothing_beside_it(target: TargetServer, tmp_path: Path) -> None:
    src = _urls(tmp_path, target)
    devices = tmp_path / "dev"
    devices.mkdir()
    null = devices / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    for extra in ((), ("--dedup", "--overwrite")):
        proc = mf("fetch", str(src), "-q", "-o", str(null), *extra)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in devices.iterdir()) == ["null"] and null.is_char_device()
    for args in (("--resume",), ("--format", "sqlite")):
        proc = mf("fetch", str(src), "-q", "-o", str(null), *args)
        assert proc.returncode == 2 and proc.stderr.count(b"\n") == 1, proc.stderr
        assert b"is not one" in proc.stderr
    assert sorted(p.name for p in devices.iterdir()) == ["null"]


# Started from a small process: a child forked from this one (pytest, 150 MB) would report this
# one's memory as its peak, since the peak survives exec.
_MEASURE = """
import os, subprocess, sys
with open(sys.argv[1], "rb") as inp, open(sys.argv[2], "wb") as out:
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", "-", "-q"],
                            stdin=inp, stdout=out, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss(stdin: Path, out: Path) -> tuple[int, int]:
    """The exit status and peak RSS (KB) of ``multifetch fetch -`` reading ``stdin``."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(stdin), str(out)],
                          capture_output=True, text=True, timeout=120, check=True)
    status, rss = done.stdout.split()
    return int(status), int(rss)


def test_an_endless_line_is_one_record_in_flat_memory(target: TargetServer, tmp_path: Path) -> None:
    size = 50_000_000
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_bytes(f"{target.url}/bytes/1\nx\n{target.url}/bytes/3\n{{".encode())
    with large.open("wb") as f:  # a 50 MB line, and one of 50 MB without a newline at the end
        f.write(f"{target.url}/bytes/1\n".encode())
        f.write(b"x" * size + b"\n")
        f.write(f"{target.url}/bytes/3\n".encode())
        f.write(b"{" * size)
    base_status, base_rss = _peak_rss(small, tmp_path / "small.jsonl")
    status, rss = _peak_rss(large, tmp_path / "large.jsonl")
    assert base_status == status == 1
    assert rss < base_rss + 16 * 1024, (rss, base_rss)  # without the cap: > 140 MB more
    records = {r["id"]: r for r in jsonl(tmp_path / "large.jsonl")}
    assert sorted(records) == ["1", "2", "3", "4"]
    assert records["1"]["status"] == records["3"]["status"] == 200
    for line in ("2", "4"):
        error = records[line]["error"]
        assert error["kind"] == "invalid_input"
        assert error["message"].startswith(f"<stdin>:{line}: line is longer than 1,048,576 bytes")
