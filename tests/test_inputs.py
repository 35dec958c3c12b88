"""Every input form, parsed without a network: URL lines, JSONL, CSV templates, gzip, stdin."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from multifetch import InvalidSpec, Request, UsageError
from multifetch.inputs._lines import MAX_LINE
from multifetch.inputs._sources import InputError, RequestDefaults, check_sources, count_lines, read_inputs


def items(tmp_path: Path, text: str | bytes, name: str = "in.txt", **kw: object) -> list[Request | InvalidSpec]:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return list(read_inputs([str(path)], **kw))  # type: ignore[arg-type]


def test_url_lines_comments_and_blanks(tmp_path: Path) -> None:
    got = items(tmp_path, "# c\n\nhttp://a.example/x\n  https://b.example/y  \n")
    assert [(i.id, i.url) for i in got] == [("3", "http://a.example/x"), ("4", "https://b.example/y")]


def test_every_jsonl_key(tmp_path: Path) -> None:
    line = ('{"url": "http://a.example/p", "method": "put", "headers": {"X": "1"}, "params": {"q": "a b"},'
            ' "json": {"k": [1]}, "id": "mine", "timeout": 2.5, "meta": {"m": true}}\n'
            '{"url": "http://a.example/d", "data": "raw"}\n'
            '{"url": "http://a.example/b", "body_b64": "aGk="}\n')
    put, data, b64 = items(tmp_path, line)
    assert isinstance(put, Request) and put.method == "PUT" and put.id == "mine"
    assert put.full_url == "http://a.example/p?q=a+b"
    assert put.body == b'{"k":[1]}' and ("X", "1") in put.headers and put.timeout == 2.5
    assert put.meta == {"m": True}
    assert isinstance(data, Request) and data.body == b"raw" and data.id == "2"
    assert isinstance(b64, Request) and b64.body == b"hi"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"method": "GET"}', "no 'url'"),
        ('{"url": "http://a/", "colour": 1}', "unknown key"),
        ('{"url": "http://a/", "headers": []}', "'headers' must be an object"),
        ('{"url": "http://a/", "timeout": -1}', "timeout"),
        ('{"url": "http://a/", "body_b64": "!!"}', "base64"),
        ('{"url": "http://a/", "json": 1, "data": "x"}', "only one of"),
        ("[1, 2]", "not an http(s) URL"),
        ("ftp://a.example/", "not an http(s) URL"),
        ("http://a.example:99999/", "port"),
        ("http://bad host/", "whitespace"),
    ],
)
def test_bad_lines_become_invalid_specs(tmp_path: Path, line: str, message: str) -> None:
    (got,) = items(tmp_path, f"{line}\n")
    assert isinstance(got, InvalidSpec)
    assert got.id == "1"
    assert message in got.message and "in.txt:1:" in got.message


def test_not_utf8_line(tmp_path: Path) -> None:
    (got,) = items(tmp_path, b"http://a.example/\xff\n")
    assert isinstance(got, InvalidSpec) and "UTF-8" in got.message


def test_gzip_by_content_and_line_counting(tmp_path: Path) -> None:
    path = tmp_path / "urls.data"
    path.write_bytes(gzip.compress(b"http://a.example/1\n#x\nhttp://a.example/2\n"))
    assert [i.id for i in read_inputs([str(path)])] == ["1", "3"]
    assert count_lines([str(path)]) == 2


def test_corrupt_gzip_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    data = "".join(f"http://a.example/{i * 7919 % 100003}\n" for i in range(5000)).encode()
    path.write_bytes(gzip.compress(data)[:2000])
    with pytest.raises(InputError, match=r"bad\.gz"):
        list(read_inputs([str(path)]))


def test_stdin_and_several_inputs(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("http://a.example/f\n")
    got = list(read_inputs(["http://a.example/arg", "-", str(tmp_path / "f.txt")],
                           stdin=io.BytesIO(b"http://a.example/s\n")))
    assert [i.id for i in got] == ["1:1", "2:1", "3:1"]


def test_defaults_apply_to_url_lines_and_yield_to_specs(tmp_path: Path) -> None:
    defaults = RequestDefaults(method="POST", headers=(("X-A", "d"),), data="body")
    line, spec = items(tmp_path, 'http://a.example/\n{"url": "http://a.example/", "headers": {"x-a": "own"}}\n',
                       defaults=defaults)
    assert isinstance(line, Request) and line.method == "POST" and line.body == b"body"
    assert isinstance(spec, Request) and spec.method == "POST" and spec.headers == (("x-a", "own"),)


def test_csv_template(tmp_path: Path) -> None:
    csv_text = "id,q\n7,a b&c\n8\n9,x\n,\n"
    got = items(tmp_path, csv_text, name="in.csv", template="https://api.example/users/{id}?q={q}")
    ok, short, ok2 = got
    assert isinstance(ok, Request) and ok.url == "https://api.example/users/7?q=a%20b%26c" and ok.id == "2"
    assert isinstance(short, InvalidSpec) and "in.csv:3" in short.message
    assert isinstance(ok2, Request) and ok2.id == "4"


def test_csv_template_missing_column(tmp_path: Path) -> None:
    (got,) = items(tmp_path, "id\n1\n", name="in.csv", template="https://x.example/{id}/{missing}")
    assert isinstance(got, InvalidSpec) and "no column missing" in got.message and "in.csv:2" in got.message


def test_csv_without_url_column_or_template(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="url"):
        items(tmp_path, "a,b\n1,2\n", name="in.csv")
    assert [i.url for i in items(tmp_path, "url,x\nhttp://a.example/,1\n", name="u.csv")] == ["http://a.example/"]


def test_bad_template(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        items(tmp_path, "id\n1\n", name="in.csv", template="https://x.example/{}")


def test_missing_and_folder_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        check_sources([str(tmp_path / "nope")])
    with pytest.raises(InputError, match="folder"):
        check_sources([str(tmp_path)])


def test_34_duplicate_own_ids_are_invalid(tmp_path: Path) -> None:
    text = ('{"url": "http://a.example/1", "id": "u7"}\n'
            '{"url": "http://a.example/2", "id": "u7"}\n'
            'http://a.example/3\n')
    first, second, third = items(tmp_path, text)
    assert isinstance(first, Request) and first.id == "u7"
    assert isinstance(second, InvalidSpec) and second.id == "2" and "already used" in second.message
    assert isinstance(third, Request) and third.id == "3"


def test_request_init_keeps_the_dataclass_contract() -> None:
    """Request has its own quick __init__: same defaults, order, immutability and equality as the fields say."""
    import dataclasses

    plain = Request("http://a.test/")
    for f in dataclasses.fields(Request):
        assert getattr(plain, f.name) == (f.default if f.name != "url" else "http://a.test/"), f.name
    args = ("http://a.test/", "POST", (("A", "b"),), (("q", "1"),), b"x", 2.5, "7", {"m": 1})
    full = Request(*args)
    assert tuple(getattr(full, f.name) for f in dataclasses.fields(Request)) == args
    assert full == Request(**{f.name: a for f, a in zip(dataclasses.fields(Request), args, strict=True)})
    assert dataclasses.replace(full, method="PUT").method == "PUT"
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.url = "http://b.test/"  # type: ignore[misc]


@pytest.mark.parametrize("gz", [False, True])
def test_a_utf8_byte_order_mark_is_not_part_of_the_input(tmp_path: Path, gz: bool) -> None:
    """Excel's "CSV UTF-8" starts with a BOM: the CSV once lacked its 'url' column, a URL line was invalid."""
    bom = b"\xef\xbb\xbf"
    table = bom + b"url,name\nhttp://127.0.0.1:9/a,x\n"
    lines = bom + b"http://127.0.0.1:9/b\n"
    if gz:
        table, lines = gzip.compress(table), gzip.compress(lines)
    (from_csv,) = items(tmp_path, table, name="in.csv.gz" if gz else "in.csv")
    (from_line,) = items(tmp_path, lines)
    assert isinstance(from_csv, Request) and from_csv.url == "http://127.0.0.1:9/a"
    assert isinstance(from_line, Request) and from_line.url == "http://127.0.0.1:9/b"


def test_lines_longer_than_the_cap_are_skipped_and_the_next_ones_read(tmp_path: Path) -> None:
    long = "x" * (MAX_LINE + 10)
    got = items(tmp_path, f"http://a.example/1\n{long}\n{'y' * MAX_LINE}\nhttp://a.example/4\n{{{long}")
    assert [i.id for i in got] == ["1", "2", "3", "4", "5"]
    assert isinstance(got[0], Request) and isinstance(got[3], Request)
    for item, size in ((got[1], MAX_LINE + 11), (got[4], MAX_LINE + 11)):
        assert isinstance(item, InvalidSpec)
        assert f"in.txt:{item.id}: line is longer than {MAX_LINE:,} bytes ({size:,}): skipped" in item.message
    assert isinstance(got[2], InvalidSpec) and "3: not an http(s) URL" in got[2].message  # at the cap: read
    assert count_lines([str(tmp_path / "in.txt")]) == 5
    rows = items(tmp_path, f"url\nhttp://a.example/2\n{long}\nhttp://a.example/4\n", name="in.csv")
    assert [i.id for i in rows] == ["2", "3", "4"]
    assert isinstance(rows[1], InvalidSpec) and "in.csv:3: line is longer than" in rows[1].message
    assert isinstance(rows[2], Request) and rows[2].url == "http://a.example/4"
