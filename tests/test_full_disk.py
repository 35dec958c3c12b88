"""A real full disk: a small tmpfs mounted in a private mount namespace (nothing outside it changes).

Each scenario is one shell script run inside the namespace, where the tmpfs is visible; it copies
what the test checks (exit statuses, summaries, outputs) to the test's folder, outside the tmpfs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from multifetch.testing import TargetServer
from multifetch.testing._names import namespace_problem

from helpers import jsonl

N = 3000

pytestmark = pytest.mark.skipif(namespace_problem() is not None, reason=str(namespace_problem()))


def _in_namespace(script: str, tmp_path: Path) -> None:
    """Run ``script`` (sh) in a private mount namespace; ``$MF`` is the multifetch command there."""
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    env = {**os.environ, "MF": f"{sys.executable} -m multifetch", "T": str(tmp_path)}
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", *user, "sh", "-eu", "-c", script],
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr


def _read(tmp_path: Path, name: str) -> str:
    return (tmp_path / name).read_text()


def _input(tmp_path: Path, target: TargetServer) -> Path:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}\n" for i in range(N)))
    return src


def test_jsonl_on_a_full_disk_keeps_what_the_summary_counts_and_resumes(
        target: TargetServer, tmp_path: Path) -> None:
    _input(tmp_path, target)
    (tmp_path / "disk").mkdir()
    # The first 400 inputs, then (after the output's first fsync is due) the rest, which the
    # 256 KB disk cannot hold. Then a resume while the disk is still full, and one after it grew.
    _in_namespace("""
        mount -t tmpfs -o size=256k tmpfs "$T/disk"
        set +e
        (head -n 400 "$T/in.txt"; sleep 1.3; tail -n +401 "$T/in.txt") |
            $MF fetch - -o "$T/disk/out.jsonl" --summary-json "$T/first.json" 2>"$T/first.err"
        echo $? >"$T/first.rc"
        cp "$T/disk/out.jsonl" "$T/first.jsonl"
        dd if=/dev/zero of="$T/disk/fill" bs=4096 2>/dev/null
        $MF fetch - -o "$T/disk/out.jsonl" -q --resume <"$T/in.txt" 2>"$T/full.err"
        echo $? >"$T/full.rc"
        rm "$T/disk/fill"
        mount -o remount,size=8m "$T/disk"
        $MF fetch - -o "$T/disk/out.jsonl" -q --resume <"$T/in.txt" 2>"$T/last.err"
        echo $? >"$T/last.rc"
        cp "$T/disk/out.jsonl" "$T/last.jsonl"
    """, tmp_path)
    err = _read(tmp_path, "first.err")
    assert _read(tmp_path, "first.rc").strip() == "4", err
    assert "error: cannot write" in err and "No space left on device" in err and "Traceback" not in err
    kept = jsonl(tmp_path / "first.jsonl")  # whole lines only: no torn record
    assert (tmp_path / "first.jsonl").read_bytes().endswith(b"\n") or not kept
    summary = json.loads(_read(tmp_path, "first.json"))
    # the summary counts what the output kept, and says how many were fetched but lost
    assert summary["records"] == len(kept) > 0
    assert summary["not_written"] > 0 and summary["exit_status"] == 4
    assert f"stopped after {len(kept)} records" in err
    err = _read(tmp_path, "full.err")
    assert _read(tmp_path, "full.rc").strip() == "4", err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert _read(tmp_path, "last.rc").strip() == "0", _read(tmp_path, "last.err")
    ids = [r["id"] for r in jsonl(tmp_path / "last.jsonl")]
    assert sorted(ids) == sorted(str(i) for i in range(1, N + 1))


def test_sqlite_on_a_full_disk_is_exit_4_and_resumes(target: TargetServer, tmp_path: Path) -> None:
    _input(tmp_path, target)
    (tmp_path / "disk").mkdir()
    (tmp_path / "first").mkdir()
    _in_namespace("""
        mount -t tmpfs -o size=200k tmpfs "$T/disk"
        set +e
        $MF fetch "$T/in.txt" -o "$T/disk/out.db" --summary-json "$T/first.json" 2>"$T/first.err"
        echo $? >"$T/first.rc"
        cp "$T"/disk/out.db* "$T/first/"
        mount -o remount,size=8m "$T/disk"
        $MF fetch "$T/in.txt" -o "$T/disk/out.db" -q --resume 2>"$T/last.err"
        echo $? >"$T/last.rc"
        mkdir "$T/last" && cp "$T"/disk/out.db* "$T/last/"
    """, tmp_path)
    err = _read(tmp_path, "first.err")
    assert _read(tmp_path, "first.rc").strip() == "4", err
    assert "cannot write" in err and "No space left on device" in err and "internal error" not in err
    rows = sqlite3.connect(tmp_path / "first" / "out.db").execute("SELECT count(*) FROM results").fetchone()[0]
    summary = json.loads(_read(tmp_path, "first.json"))
    assert summary["records"] == rows and summary["not_written"] > 0
    assert _read(tmp_path, "last.rc").strip() == "0", _read(tmp_path, "last.err")
    db = sqlite3.connect(tmp_path / "last" / "out.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*), count(DISTINCT id) FROM results").fetchone() == (N, N)


def test_parquet_on_a_full_disk_keeps_its_committed_parts_and_resumes(
        target: TargetServer, tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    _input(tmp_path, target)
    (tmp_path / "disk").mkdir()
    # parts closed every 0.2 s: several are committed before the 96 KB disk is full
    _in_namespace("""
        mount -t tmpfs -o size=96k tmpfs "$T/disk"
        set +e
        (head -n 300 "$T/in.txt"; sleep 0.6; tail -n +301 "$T/in.txt") |
            $MF fetch - -o "$T/disk/out.parquet" --part-seconds 0.2 --summary-json "$T/first.json" 2>"$T/first.err"
        echo $? >"$T/first.rc"
        cp -r "$T/disk/out.parquet" "$T/first"
        mount -o remount,size=8m "$T/disk"
        $MF fetch - -o "$T/disk/out.parquet" -q --resume <"$T/in.txt" 2>"$T/last.err"
        echo $? >"$T/last.rc"
        cp -r "$T/disk/out.parquet" "$T/last"
    """, tmp_path)
    err = _read(tmp_path, "first.err")
    assert _read(tmp_path, "first.rc").strip() == "4", err
    assert "cannot write" in err and "No space left on device" in err and "Traceback" not in err
    # the folder holds its committed parts only (the part being written was deleted), readable as is
    assert not [p for p in (tmp_path / "first").iterdir() if p.name.startswith(".")]
    kept = ds.dataset(str(tmp_path / "first"), format="parquet").to_table()
    summary = json.loads(_read(tmp_path, "first.json"))
    assert summary["records"] == kept.num_rows > 0 and summary["not_written"] > 0
    assert _read(tmp_path, "last.rc").strip() == "0", _read(tmp_path, "last.err")
    ids = ds.dataset(str(tmp_path / "last"), format="parquet").to_table().column("id").to_pylist()
    assert sorted(ids) == sorted(str(i) for i in range(1, N + 1))
