"""Property tests: the input parsers never raise and give one item per line; names stay inside."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from multifetch.inputs._sources import read_inputs
from multifetch.inputs._spec import InvalidSpec, Request
from multifetch.outputs._bodies import safe_name

lines = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=200)
urlish = st.builds(lambda scheme, rest: scheme + rest, st.sampled_from(["http://", "https://", "HTTP://", "ftp://", ""]), lines)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)
specs = st.dictionaries(st.sampled_from(["url", "method", "headers", "params", "json", "data", "body_b64", "id",
                                         "timeout", "meta", "other"]), json_values | urlish, max_size=6)


def counted(raw: list[str]) -> int:
    return sum(1 for line in raw if line.strip() and not line.strip().startswith("#"))


@settings(max_examples=300, deadline=None)
@given(st.lists(urlish | lines, max_size=20))
def test_url_lines_never_raise_and_give_one_item_per_line(raw: list[str]) -> None:
    data = "\n".join(raw).encode()
    items = list(read_inputs(["-"], stdin=io.BytesIO(data)))
    assert len(items) == counted("\n".join(raw).split("\n"))
    assert all(isinstance(i, Request | InvalidSpec) for i in items)


@settings(max_examples=300, deadline=None)
@given(st.lists(specs, max_size=15))
def test_jsonl_specs_never_raise(objs: list[dict[str, object]]) -> None:
    data = "\n".join(json.dumps(o) for o in objs).encode()
    items = list(read_inputs(["-"], stdin=io.BytesIO(data)))
    assert len(items) == len(objs)
    for item in items:
        if isinstance(item, Request):
            assert item.url.lower().startswith(("http://", "https://"))
            assert all("\n" not in v and "\r" not in v for _, v in item.headers)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(lines, min_size=1, max_size=3), max_size=10))
def test_csv_template_rows_never_raise(rows: list[list[str]]) -> None:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "q"])
    for row in rows:
        writer.writerow(row)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        path.write_text(buffer.getvalue())
        items = list(read_inputs([str(path)], template="https://api.example/users/{id}?q={q}"))
    assert len(items) == sum(1 for row in rows if any(c.strip() for c in row))


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_saved_names_stay_inside_the_folder(job_id: str) -> None:
    name = safe_name(job_id)
    folder = "/srv/bodies"
    resolved = os.path.normpath(os.path.join(folder, name))
    assert os.path.dirname(resolved) == folder
    assert name not in (".", "..") and "/" not in name and "\0" not in name
    assert not name.endswith((".part", ".meta"))
    assert len(name) <= 100


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_distinct_ids_keep_distinct_names(a: str, b: str) -> None:
    if a != b:
        assert safe_name(a) != safe_name(b)


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
@settings(max_examples=2000)
def test_record_timestamps_match_datetime_isoformat(ts: float) -> None:
    """``started_at`` is formatted with a per-second cache; it must equal the plain formatting."""
    from datetime import UTC, datetime

    from multifetch.engine._result import iso_utc

    expected = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert iso_utc(ts) == expected
    assert iso_utc(ts) == expected  # the cached second


@given(st.integers(1, 4_000_000_000), st.lists(st.floats(-2e-6, 1 + 2e-6), max_size=20))
def test_record_timestamps_near_the_remembered_second(second: int, offsets: list[float]) -> None:
    """Timestamps just around the second iso_utc remembers (carries into the next second included)."""
    from datetime import UTC, datetime

    from multifetch.engine._result import iso_utc

    iso_utc(float(second))
    for offset in offsets:
        ts = second + offset
        expected = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert iso_utc(ts) == expected, ts


@given(st.lists(st.sampled_from(["http://a.com", "http://A.com", "http://a.com.evil", "https://a.com",
                                 "http://u:p@a.com", "http://a.com:8080", "ftp://a.com", "a.com", ""]).flatmap(
    lambda heads: st.tuples(st.just(heads), st.sampled_from(["", "/", "/x?y", "?q", "#f", ".b/c", ":1/"]))),
    max_size=30))
def test_origin_of_remembers_only_what_it_may(parts: list[tuple[str, str]]) -> None:
    """origin_of keeps the last origin and the origins of the hosts it has seen, to answer the next
    URL of a known host quickly; the answer must be the one it gives with nothing remembered."""
    from multifetch.inputs import _urls

    for head, tail in parts:
        url = head + tail
        cached = _urls.origin_of(url)
        kept, _urls._origins = _urls._origins, {}
        _urls._last = ("\0", "")
        assert cached == _urls.origin_of(url), url
        _urls._origins = kept


@given(st.lists(st.tuples(
    st.sampled_from(["http://a.test", "http://A.test", "https://a.test:443", "http://u:p@a.test", "http://a.test:99999",
                     "http://a b.test", "http://a.test:8080", "ftp://a.test", "http://[::1]", "http://a|b.test", ""]),
    st.sampled_from(["", "/", "/x?y", "?q", "#f", "/a b", "/\x7f", "/\x00", "/é", ".evil/x", ":1/", "@b.test/"])),
    max_size=40))
def test_check_url_remembers_only_what_it_may(parts: list[tuple[str, str]]) -> None:
    """check_url passes a URL of a host it has passed before with a look at the rest of it alone;
    its verdict must be the one it gives with nothing remembered."""
    from multifetch.inputs import _urls

    for head, tail in parts:
        url = head + tail
        cached = _urls.check_url(url)
        kept, _urls._passed = _urls._passed, {}
        _urls._last_authority = "\0"
        assert (cached is None) == (_urls.check_url(url) is None), url
        _urls._passed = kept


record_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=1000)
@given(st.dictionaries(st.text(max_size=8), record_values, max_size=6))
def test_record_lines_read_back_as_the_standard_library_writes_them(record: dict[str, object]) -> None:
    """The JSONL encoder (orjson, the standard library for what orjson would write otherwise) gives
    one ASCII line holding the same JSON as the standard library's encoding."""
    from multifetch.outputs._jsonl import encode_line

    line = encode_line(record)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert line.isascii()
    assert json.loads(line) == json.loads(json.dumps(record)) == record


@given(st.builds(
    dict,
    status=st.none() | st.integers(100, 599),
    error=st.none() | st.tuples(st.sampled_from(["timeout", "invalid_input", "cancelled"]), st.text(max_size=20)),
    attempt=st.integers(0, 5),
    elapsed=st.floats(0, 1e4),
    size=st.integers(0, 2**40),
    sha256=st.none() | st.just("ab" * 32),
    content=st.none() | st.binary(max_size=20),
    body_path=st.none() | st.text(max_size=10),
    started_at=st.none() | st.floats(0, 4e9),
    final_url=st.none() | st.text(max_size=20),
    meta=json_values,
))
def test_a_jobs_record_is_its_results_record(fields: dict[str, object]) -> None:
    """The CLI makes records straight from jobs; they must be the records of the jobs' results."""
    from multifetch.engine._job import Job

    job = Job(Request(url="http://a.test/x", method="POST", id="7", meta=fields.pop("meta")), "7", "", 3)
    error = fields.pop("error")
    for name, value in fields.items():
        setattr(job, name, value)
    if error is not None:
        job.fail(*error)  # type: ignore[misc]
    assert job.to_record() == job.to_result().to_record()


@given(st.lists(st.lists(st.floats(0, 1e3), max_size=30), max_size=5))
def test_merged_latency_sketches_answer_as_one(groups: list[list[float]]) -> None:
    """The summary keeps a sketch a host and merges them for the run's figures."""
    from math import isclose

    from multifetch.report._sketch import LatencySketch

    one, merged = LatencySketch(), LatencySketch()
    for values in groups:
        part = LatencySketch()
        for v in values:
            one.add(v)
            part.add(v)
        merged.merge(part)
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        assert merged.quantile(q) == one.quantile(q)
    assert (merged.count, merged.max, merged.counts) == (one.count, one.max, one.counts)
    assert isclose(merged.total, one.total, rel_tol=1e-9, abs_tol=1e-9)


url_parts = st.lists(st.sampled_from(["http://", "HTTPS://", "ftp://", "a", "B", "0", "9", ".", "-", ":", "::",
                                      "@", "/", "?", "#", "[", "]", "[::1]", " ", "\x7f", "\t", "%", "é", ";", "!", "\\", "(",
                                      "65535", "65536", "99999", "1234", "123456"]), max_size=12)


@settings(max_examples=2000)
@given(st.lists(st.tuples(st.sampled_from(["http://", "https://", "HTTP://", ""]), url_parts), max_size=8))
def test_the_quick_url_checks_answer_as_the_full_checks(urls: list[tuple[str, list[str]]]) -> None:
    """check_url passes most URLs with one regex, or after the remembered authority of the last one
    with none; whatever it answers, the full checks answer the same."""
    from multifetch.inputs import _urls

    for scheme, parts in urls:
        url = scheme + "".join(parts)
        for rest in ("", "/x", "?y", "#z", ":1", "@h", " ", "/\x7f"):
            assert _urls.check_url(url + rest) == _urls._url_problem(url + rest), url + rest


def test_the_quick_url_check_takes_the_common_urls() -> None:
    from multifetch.inputs import _urls

    for url in ("http://127.0.0.1:41971/1k?i=1", "https://example.org", "HTTPS://u:p@Example.org:443/a#b",
                "http://[::1]:8080/x?y=1", "http://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC", "http://a:65535"):
        assert _urls._PLAIN_URL.fullmatch(url), url
    for url in ("http://a:65536/", "http://a b/", "http://a@b@c/", "ftp://a/", "http://:80/", "http://a:8x/"):
        assert not _urls._PLAIN_URL.fullmatch(url), url


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=5000), st.sampled_from([0.0, 0.01, 0.5, 0.9, 0.99, 1.0]))
@example(values=[(i % 997) / 10 for i in range(3000)], q=0.9)
def test_a_sketch_answers_within_one_percent(values: list[float], q: float) -> None:
    """However many latencies it holds (more than it counts at a time too), a quantile is within
    1 % of the exact one (nearest rank), and its count, total and largest are exact."""
    import math

    from multifetch.report._sketch import LatencySketch

    sketch = LatencySketch()
    for v in values:
        sketch.add(v)
    exact = sorted(values)[max(1, math.ceil(q * len(values))) - 1]
    answer = sketch.quantile(q)
    assert answer is not None
    assert answer == 1e-6 if exact <= 1e-6 else abs(answer - exact) <= 0.01 * exact
    assert (sketch.count, sketch.max) == (len(values), max(values))
    assert math.isclose(sketch.total, sum(values), rel_tol=1e-9, abs_tol=1e-9)


header_lines = st.lists(st.one_of(
    st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"http/2 301\r\n", b"HTTP/1.1 100 Continue\r\n", b"\r\n", b"",
                     b"ETag: \"a\"\r\n", b"etag:b\r\n", b"ETAG:   \r\n", b"ETag:\r\r\n", b"ETag2: x\r\n", b"X-ETag: y\r\n",
                     b"Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n", b"LAST-MODIFIED:z\r\n",
                     b"Last-Modifiedx: w\r\n", b" folded\r\n", b"Location: http://a.test/\r\n"]),
    st.binary(max_size=20)), max_size=12)


@example([b"X: y\r\n", b"ETag:\r\r\n", b"ETag: \"a\"\r\n"])  # the first ETag counts, though empty
@given(header_lines)
def test_validators_are_those_of_the_last_answer(lines: list[bytes]) -> None:
    """ETag and Last-Modified of the last answer among libcurl's header lines (a redirect's or a
    1xx's come first): the first of each after the last status line, as the joined header text says."""
    from multifetch.engine._headers import validators

    def field(blob: bytes, low: bytes, name: bytes, start: int) -> str | None:
        at = low.find(name, start)
        if at < 0:
            return None
        at += len(name)
        end = blob.find(b"\n", at)
        return blob[at:end if end >= 0 else len(blob)].strip().decode("latin-1") or None

    # Each line libcurl hands over ends with its line break: the text they make is their join.
    lines = [line.replace(b"\n", b"") + b"\r\n" for line in lines]
    blob = b"\n" + b"".join(lines)
    low = blob.lower()
    start = low.rfind(b"\nhttp/") + 1
    assert validators(lines) == (field(blob, low, b"\netag:", start), field(blob, low, b"\nlast-modified:", start))
