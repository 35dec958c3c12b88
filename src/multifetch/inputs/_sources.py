"""Reading inputs: URL lines, JSONL specs, CSV rows through a template; files, gzip, stdin, URLs.

Everything is lazy: one line at a time, so a file of any size streams. Every non-blank,
non-comment line yields exactly one item: a ``Request`` or an ``InvalidSpec`` naming the file and
line. Ids: a spec's own ``id``, else the line number (``"12"``), prefixed by the input's position
when several inputs are given (``"2:12"``).
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import os
import stat
import string
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import quote

from .._errors import InvalidInput, UsageError
from ._idset import IdSet
from ._lines import LineTooLong, TextLines, TooLong, byte_lines
from ._spec import InvalidSpec, Request, make_request, request_from_json, with_default_headers
from ._urls import check_url, sendable_url

_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


class InputError(UsageError):
    """An input that cannot be read at all (missing file, corrupt gzip)."""


@dataclass(frozen=True, slots=True)
class RequestDefaults:
    """What ``-X``, ``-H`` and ``-d`` give every request that does not say otherwise."""

    method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    data: str | bytes | None = None


def is_url(text: str) -> bool:
    head = text[:8].lower()
    return head.startswith("http://") or head.startswith("https://")


def check_sources(sources: Sequence[str]) -> None:
    """Fail early, with the input's name, for files that cannot be opened."""
    for source in sources:
        if source == "-" or is_url(source):
            continue
        path = Path(source)
        if not path.exists():
            raise InputError(f"{source}: no such file")
        if path.is_dir():
            raise InputError(f"{source}: is a folder, not a file")
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise InputError(f"{source}: {exc.strerror}") from None


def never_blocks(sources: Sequence[str]) -> bool:
    """Whether reading every source is local work (URLs given as arguments, regular files), so the
    engine may read them itself; stdin, pipes and FIFOs are read ahead by a thread of their own."""
    for source in sources:
        if source == "-":
            return False
        if is_url(source):
            continue
        try:
            if not stat.S_ISREG(os.stat(source).st_mode):
                return False
        except OSError:
            return False
    return True


def read_inputs(
    sources: Sequence[str],
    *,
    defaults: RequestDefaults | None = None,
    template: str | None = None,
    stdin: IO[bytes] | None = None,
) -> Iterator[Request | InvalidSpec]:
    """Every item of every source, in order."""
    defaults = defaults or RequestDefaults()
    several = len(sources) > 1
    own_ids = IdSet()  # ids specs chose themselves (line-number ids are unique by construction)
    try:
        for number, source in enumerate(sources, 1):
            prefix = f"{number}:" if several else ""
            if is_url(source):
                yield _from_line(source, f"{prefix}1", "argument", defaults)
                continue
            name = "<stdin>" if source == "-" else source
            with _open(source, stdin) as stream:
                if template is not None or (source.endswith((".csv", ".csv.gz")) and source != "-"):
                    yield from _csv_items(stream, name, prefix, template, defaults)
                else:
                    yield from _line_items(stream, name, prefix, defaults, own_ids)
    finally:
        own_ids.close()


def count_lines(sources: Sequence[str]) -> int | None:
    """Quickly count the items of file inputs (for progress); None when a source is stdin."""
    total = 0
    for source in sources:
        if is_url(source):
            total += 1
            continue
        if source == "-":
            return None
        with _open(source, None) as stream:
            is_csv = source.endswith((".csv", ".csv.gz"))
            for raw in byte_lines(stream):
                if isinstance(raw, TooLong):
                    total += 1
                    continue
                stripped = raw.strip()
                if stripped and not stripped.startswith(b"#"):
                    total += 1
            if is_csv and total:
                total -= 1  # the header row
    return total


def _open(source: str, stdin: IO[bytes] | None) -> IO[bytes]:
    """The source as bytes, decompressed when it starts with gzip's magic (whatever its name),
    without the UTF-8 byte order mark that Excel's "CSV UTF-8" and some editors put first."""
    stream: Any
    if source == "-":
        raw: Any = stdin if stdin is not None else sys.stdin.buffer
        stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
        if stream.peek(2)[:2] == _GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
    else:
        with open(source, "rb") as probe:
            magic = probe.read(2)
        opener: Any = gzip.open if magic == _GZIP_MAGIC else functools.partial(open, buffering=1 << 20)
        stream = opener(source, "rb")  # the caller's `with` closes it
    try:
        if stream.peek(3)[:3] == _BOM:
            stream.read(3)
    except (OSError, EOFError) as exc:  # a gzip header cut short or corrupt (BadGzipFile is an OSError)
        stream.close()
        raise InputError(f"{'<stdin>' if source == '-' else source}:1: cannot read: {exc}") from None
    return cast(IO[bytes], stream)


def _line_items(
    stream: IO[bytes], name: str, prefix: str, defaults: RequestDefaults, own_ids: IdSet
) -> Iterator[Request | InvalidSpec]:
    plain = defaults.method is None and not defaults.headers and defaults.data is None
    lines = enumerate(byte_lines(stream), 1)
    number = 0
    while True:
        try:
            number, raw = next(lines)
        except StopIteration:
            return
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"{name}:{number + 1}: cannot read: {exc}") from None
        if isinstance(raw, TooLong):
            yield InvalidSpec(f"{prefix}{number}", raw.head, f"{name}:{number}: {raw.message()}")
            continue
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            yield InvalidSpec(f"{prefix}{number}", raw[:200].decode("utf-8", "replace").strip(),
                              f"{name}:{number}: line is not UTF-8")
            continue
        if not line or line[0] == "#":
            continue
        if line[0] == "{":
            item = _from_json(line, f"{prefix}{number}", f"{name}:{number}", defaults)
            if item.id != f"{prefix}{number}":  # a spec's own id: it must be unique in the run
                if item.id in own_ids:
                    item = InvalidSpec(f"{prefix}{number}", line[:2000],
                                       f"{name}:{number}: id {item.id!r} was already used by an earlier spec")
                else:
                    own_ids.add(str(item.id))
            yield item
        elif plain and line.isascii() and check_url(line) is None:
            yield Request(line, id=f"{prefix}{number}")  # the common case, kept cheap: a bare URL line
        else:
            yield _from_line(line, f"{prefix}{number}", f"{name}:{number}", defaults)


def _from_line(url: str, item_id: str, where: str, defaults: RequestDefaults) -> Request | InvalidSpec:
    if defaults.method is None and not defaults.headers and defaults.data is None:
        try:
            return Request(url=sendable_url(url), id=item_id)
        except InvalidInput as exc:
            return InvalidSpec(item_id, url[:2000], f"{where}: {exc}")
    try:
        return make_request(
            url,
            method=defaults.method or ("POST" if defaults.data is not None else "GET"),
            headers=defaults.headers,
            data=defaults.data,
            id=item_id,
        )
    except InvalidInput as exc:
        return InvalidSpec(item_id, url[:2000], f"{where}: {exc}")


def _from_json(line: str, item_id: str, where: str, defaults: RequestDefaults) -> Request | InvalidSpec:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return InvalidSpec(item_id, line[:2000], f"{where}: not valid JSON: {exc.msg} (column {exc.colno})")
    try:
        if isinstance(obj, dict) and defaults.method and "method" not in obj:
            obj["method"] = defaults.method
        request = request_from_json(obj)
    except InvalidInput as exc:
        own_id = obj.get("id") if isinstance(obj, dict) else None
        url = obj.get("url") if isinstance(obj, dict) else None
        return InvalidSpec(
            str(own_id) if isinstance(own_id, str | int) else item_id,
            url if isinstance(url, str) else line[:2000],
            f"{where}: {exc}",
            meta=obj.get("meta") if isinstance(obj, dict) else None,
        )
    if request.id is None:
        request = replace(request, id=item_id)
    if defaults.headers:
        request = with_default_headers(request, defaults.headers)
    return request


def _csv_items(
    stream: IO[bytes], name: str, prefix: str, template: str | None, defaults: RequestDefaults
) -> Iterator[Request | InvalidSpec]:
    text = io.TextIOWrapper(cast(Any, stream), encoding="utf-8", errors="replace", newline="")
    try:
        yield from _csv_rows(text, name, prefix, template, defaults)
    finally:
        text.detach()  # the caller's `with` closes the stream


def _csv_rows(
    text: io.TextIOWrapper, name: str, prefix: str, template: str | None, defaults: RequestDefaults
) -> Iterator[Request | InvalidSpec]:
    lines = TextLines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except (csv.Error, LineTooLong) as exc:
        raise InputError(f"{name}:1: cannot read the CSV header: {exc}") from None
    columns = [c.strip() for c in header]
    fields = _template_fields(template) if template is not None else None
    if fields is None and "url" not in columns:
        raise InputError(f"{name}:1: a CSV input needs a 'url' column or --template")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except LineTooLong as exc:
            number = lines.count
            yield InvalidSpec(f"{prefix}{number}", exc.line.head, f"{name}:{number}: {exc.line.message()}")
            continue
        except csv.Error as exc:
            number = lines.count
            yield InvalidSpec(f"{prefix}{number}", "", f"{name}:{number}: bad CSV row: {exc}")
            continue
        number = lines.count
        if not any(cell.strip() for cell in row):
            continue
        item_id = f"{prefix}{number}"
        where = f"{name}:{number}"
        values = dict(zip(columns, row, strict=False))
        if len(row) != len(columns):
            yield InvalidSpec(item_id, ",".join(row)[:2000],
                              f"{where}: row has {len(row)} cells, the header {len(columns)}")
            continue
        if template is None:
            yield _from_line(values["url"].strip(), item_id, where, defaults)
            continue
        missing = [f for f in fields or () if f not in values]
        if missing:
            yield InvalidSpec(item_id, ",".join(row)[:2000],
                              f"{where}: no column {', '.join(missing)} for the template")
            continue
        url = template.format_map({k: quote(v, safe="") for k, v in values.items()})
        yield _from_line(url, item_id, where, defaults)


def _template_fields(template: str) -> list[str]:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise UsageError(f"bad --template {template!r}: {exc}") from None
    if not names or any(not n or not n.replace("_", "a").replace("-", "a").isalnum() for n in names):
        raise UsageError(f"--template needs named placeholders like {{id}}, got {template!r}")
    return names
