"""The Python API: streaming, ordering, laziness, ids, bodies."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from pathlib import Path

import multifetch
from multifetch import Client
from multifetch.outputs import _bodies
from multifetch.testing import TargetServer, body_for, item_body


def test_stream_gives_one_result_per_input(target: TargetServer) -> None:
    urls = [f"{target.url}/item/{i}" for i in range(300)]
    results = list(multifetch.fetch(urls, concurrency=32, per_host=32))
    assert sorted(int(r.id) for r in results) == list(range(300))
    for r in results:
        assert r.content == item_body(r.url.rsplit("/", 1)[1])


def test_map_keeps_input_order(target: TargetServer) -> None:
    # Later inputs finish first: map must still answer in input order.
    urls = [f"{target.url}/delay/{0.3 - i * 0.01:.2f}?i={i}" for i in range(30)]
    with Client(concurrency=30, per_host=30) as client:
        results = list(client.map(urls))
    assert [r.url for r in results] == urls


def test_input_is_pulled_lazily_within_the_window(target: TargetServer) -> None:
    pulled = 0

    def specs():  # type: ignore[no-untyped-def]
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield f"{target.url}/item/{i}"

    window = 200
    held = 2 * window + 2  # the window, and as much again read ahead by the input's thread
    with Client(concurrency=16, per_host=16) as client:
        run = client.start(specs(), window=window)
        taken = 0
        for _ in itertools.islice(run.results(), 1000):
            taken += 1
            assert pulled - taken <= held
    assert taken == 1000
    assert pulled <= 1000 + held


def test_hash_mode_keeps_no_body(target: TargetServer) -> None:
    (result,) = list(multifetch.fetch([target.url + "/bytes/5000"], bodies="hash"))
    assert result.content == b""
    assert result.size == 5000
    assert result.sha256 is not None


def test_bodies_streamed_to_a_folder(target: TargetServer, tmp_path: Path) -> None:
    specs = [
        {"url": target.url + "/item/a", "id": "../../etc/evil"},
        {"url": target.url + "/item/b", "id": "b"},
    ]
    results = {r.id: r for r in multifetch.fetch(specs, bodies=tmp_path)}
    for r in results.values():
        assert r.body_path is not None
        path = Path(r.body_path)
        assert path.parent == tmp_path
        assert path.read_bytes() == item_body(r.url.rsplit("/", 1)[1])
    assert Path(results["b"].body_path or "").name == "b"
    assert not list(tmp_path.glob("*.part"))


def test_large_bodies_saved_at_once_each_stay_whole(target: TargetServer, tmp_path: Path) -> None:
    # Each body is several blocks; the disk threads take blocks of all of them in turns, and every
    # file and hash must still be its own body, in order.
    sizes = [3_000_000 + i * 70_001 for i in range(12)]
    urls = [f"{target.url}/bytes/{n}?seed=s{i}" for i, n in enumerate(sizes)]
    with Client(concurrency=12, per_host=12, bodies=tmp_path) as client:
        results = list(client.map(urls))
    for i, (n, r) in enumerate(zip(sizes, results, strict=True)):
        body = body_for(n, f"s{i}")
        assert Path(r.body_path or "").read_bytes() == body, i
        assert r.sha256 == hashlib.sha256(body).hexdigest() and r.size == n
    assert _bodies._room._value == _bodies._BLOCKS_QUEUED  # every queued block was let go


def test_bodies_the_disk_refuses_give_their_room_back(target: TargetServer, tmp_path: Path) -> None:
    # More failing bodies than blocks may be queued: if a failed body kept its blocks' room, the
    # event loop would wait for room forever.
    folder = tmp_path / "bodies"
    urls = [f"{target.url}/bytes/2500000?seed={i}" for i in range(3 * _bodies._BLOCKS_QUEUED)]
    with Client(concurrency=8, per_host=8, bodies=folder, retries=0) as client:
        shutil.rmtree(folder)
        folder.write_text("not a folder")  # every file open fails: ENOTDIR
        failed = list(client.map(urls))
    assert {r.error.kind if r.error else None for r in failed} == {"write"}
    assert _bodies._room._value == _bodies._BLOCKS_QUEUED
    (ok,) = multifetch.fetch([f"{target.url}/bytes/2500000?seed=x"], bodies=tmp_path / "again")
    assert ok.status == 200 and Path(ok.body_path or "").read_bytes() == body_for(2_500_000, "x")


def test_bodies_saved_at_once_gather_smaller_blocks(tmp_path: Path) -> None:
    # Each saved body gathers a block before the disk threads take it: at thousands of bodies at
    # once, 1 MB each would be gigabytes.
    assert _bodies.BodyStore(tmp_path, concurrency=8).block == 1 << 20
    assert _bodies.BodyStore(tmp_path, concurrency=256).block == 256 << 10
    assert _bodies.BodyStore(tmp_path, concurrency=5000).block == 64 << 10
    with Client(concurrency=1000, bodies=tmp_path) as client:
        writer = client._bodies.writer("x")
        assert isinstance(writer, _bodies.FileBody) and writer.block == (64 << 20) // 1000


def test_mixed_spec_forms_and_default_headers(target: TargetServer) -> None:
    specs = [
        target.url + "/headers",
        {"url": target.url + "/headers", "headers": {"X-A": "own"}, "id": "dict"},
        multifetch.make_request(target.url + "/headers", id="req"),
    ]
    with Client(headers={"X-A": "default"}, retries=0) as client:
        results = {r.id: r for r in client.stream(specs)}
    assert results["0"].json()["headers"]["x-a"] == "default"
    assert results["dict"].json()["headers"]["x-a"] == "own"
    assert results["req"].json()["headers"]["x-a"] == "default"


def test_user_agent_names_multifetch(target: TargetServer) -> None:
    (result,) = list(multifetch.fetch([target.url + "/headers"]))
    assert result.json()["headers"]["user-agent"] == f"multifetch/{multifetch.__version__}"


def test_connections_are_reused_across_calls(fresh_target: TargetServer) -> None:
    with Client() as client:
        for _ in range(5):
            assert client.get(fresh_target.url + "/bytes/1").status_code == 200
    # every request arrived; the server saw them over one keep-alive connection
    assert fresh_target.stats.total == 5
