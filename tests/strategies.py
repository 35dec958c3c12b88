"""Hypothesis strategies for hostile inputs: request specs as a user could write them, and worse.

Every URL these make is safe to send from a test: in a *direct* world its host is a loopback
literal (the target server's port, a closed port, IPv6 ``::1``, numeric IPv4 forms) or it is never
sent (a wrong scheme, no host, a port out of range); in a *proxied* world any host name at all may
appear, because every request then goes to the target server as a forward proxy (``http_proxy``)
and nothing is resolved here. Redirects only ever lead back to the target server or to a URL that
is refused. Nothing here names a route that may take long (``/delay``, ``/large``, ``/retry-after``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

#: Characters that break things: NUL and other controls, line breaks of every kind, URL delimiters,
#: quotes, a BOM, non-ASCII letters, right-to-left override.
SPECIALS = ["\x00", "\r", "\n", "\r\n", "\t", " ", "\x0b", "\x7f", "\x85", "\u2028", ":", "%", "%00", "%zz",
            "#", "?", "/", "\\", "@", "[", "]", '"', "'", "{", "}", ";", "!", "é", "ß", "\ufb01", "\ufeff",
            "\U0001f600", "\u202e", "xn--", "..", "=", "&", "+"]
#: A lone surrogate: valid in JSON text ("\ud800"), with no UTF-8 form. Put in one string in sixteen.
SURROGATES = ["\ud800", "\udfff", "\udbff\udbff"]


def _texts(characters: st.SearchStrategy[str], specials: list[str]) -> st.SearchStrategy[str]:
    plain = st.lists(characters | st.sampled_from(specials), max_size=24).map("".join)
    spoilt = st.builds(lambda text, at, bad: text[:at] + bad + text[at:], plain, st.integers(0, 24),
                       st.sampled_from(SURROGATES))
    return st.one_of(*[plain] * 15, spoilt)


#: Any code point, and the specials.
any_text = _texts(st.characters(exclude_categories=("Cs",)), SPECIALS)
#: The same without line feeds: what fits on one input line.
line_text = _texts(st.characters(exclude_categories=("Cs",), exclude_characters="\n"),
                   [s for s in SPECIALS if "\n" not in s])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "Post",
           "QUERY", "PROPFIND", "É", "ß", "\ufb01", "GET ", "G\x00T", "", "X" * 300]
HEADER_NAMES = ["Content-Type", "Content-Length", "Transfer-Encoding", "Host", "Expect", "Connection",
                "Cookie", "Authorization", "Proxy-Authorization", "Idempotency-Key", "Accept-Encoding",
                "Range", "If-Range", "TE", "Upgrade", "User-Agent", "X-Ünïcode", "X:Y", "", " ", "X Y"]
HEADER_VALUES = ["", " ", "0", "-1", "99999999999", "chunked", "close", "100-continue", "gzip", "bytes=0-",
                 "h2c", "a\r\nX-Injected: 1", "\x00", "ü", "\ud800"]
SCHEMES = ["http://", "https://", "HTTP://", "hTtPs://", "ftp://", "file://", "gopher://", "data:", "", "//",
           "http:/", "http:///", "http:\\\\", " http://", "javascript:"]
STATUSES = [200, 201, 204, 301, 302, 304, 400, 404, 418, 429, 500, 503, 599]
_LINE_NUMBER_LIKE = re.compile(r"[\d:]*")


@dataclass(frozen=True)
class World:
    """Where generated URLs may point. ``proxied``: every request goes through the target server
    as an HTTP proxy, so any host name may be generated (none is ever resolved)."""

    port: int  # the target server, on 127.0.0.1
    closed_port: int  # a loopback port nobody listens on
    proxied: bool

    @property
    def target(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _loopback_hosts(world: World) -> tuple[list[str], list[str]]:
    """Hosts sent to (all loopback) and hosts that are never sent (no host, a bad port)."""
    port, closed = world.port, world.closed_port
    sent = [f"127.0.0.1:{port}", f"127.0.0.1:{closed}", f"[::1]:{closed}", f"[::ffff:127.0.0.1]:{port}",
            f"2130706433:{port}", f"0x7f.1:{port}", f"127.1:{port}", f"127.0.0.1:{port}",
            f"127.0.0.1:0{port}", f"LOCALHOST.:{closed}" if world.proxied else f"127.0.0.2:{closed}"]
    never_sent = ["", ":80", f"127.0.0.1:{port}0000", "127.0.0.1:65536", "127.0.0.1:99999999999999999999",
                  "127.0.0.1:-1", "127.0.0.1:8x", "[::1", "[zz]:80", "[::1]]", "127.0.0.1 :80", "[]", ":"]
    return sent, never_sent


def _hosts(world: World) -> st.SearchStrategy[str]:
    port = world.port
    sent, never_sent = _loopback_hosts(world)
    hosts = st.sampled_from(sent) | st.sampled_from(never_sent)
    if world.proxied:  # any name: the proxy (the target server) answers for every host
        names = st.builds(lambda name, port: name + port, line_text.filter(lambda s: not set(s) & set("/?#@")),
                          st.sampled_from(["", f":{port}", ":443", ":0", ":65535"]))
        hosts = hosts | names | st.sampled_from(["bücher.test", "xn--bcher-kva.test", "ex ample.test",
                                                  "a" * 300 + ".test", "_.test", "例え.テスト"])
    return hosts


#: Userinfo that cannot move where the host starts (no '/', '?', '#', '@' or backslash in it).
_userinfo = st.sampled_from(["", "", "", "u:p@", "user@", ":@", "%40:%2F@", "ü:ß@", "a b@"])


def _redirect_targets(world: World) -> st.SearchStrategy[str]:
    return st.sampled_from([
        "ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1/", "/echo", "//127.0.0.1:1/",
        f"{world.target}/echo?from=redirect", f"http://[::1]:{world.closed_port}/", "http:///x",
        "http://127.0.0.1:65536/", "/%00", "/é", "/a b", f"{world.target}/redirect/2", "",
    ])


def _path(world: World) -> st.SearchStrategy[str]:
    fixed = st.sampled_from(["/echo", "/headers", "/gzip", "/deflate", "/br", "/redirect-loop", "/", "/set-cookie",
                             "/download?name=../../evil", "/basic-auth?user=u&pw=p", "/nope", "/dns-query"])
    return st.one_of(
        fixed,
        st.builds("/status/{}".format, st.sampled_from(STATUSES)),
        st.builds("/bytes/{}".format, st.integers(0, 5000)),
        st.builds("/redirect/{}".format, st.integers(0, 3)),
        st.builds(lambda t: "/redirect-to?url=" + quote(t, safe=""), _redirect_targets(world)),
        st.builds("/item/{}".format, line_text),
        st.builds("/echo/{}".format, line_text),
        st.builds(lambda n: "/echo/" + "x" * n, st.integers(60_000, 100_000)),  # past the server's head limit
    )


def stays_here(world: World, url: str) -> bool:
    """Whether ``url`` can only reach the target server: through it as the proxy, or because its
    host is one of the loopback ones (or it is no http(s) URL at all, and never sent)."""
    text = url.strip()
    if world.proxied or not text[:8].lower().startswith(("http://", "https://")):
        return True
    rest = text.partition("://")[2]
    authority = rest[:min((i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest))]
    sent, never_sent = _loopback_hosts(world)
    return authority.rpartition("@")[2] in (*sent, *never_sent)


def sendable_urls(world: World, tail: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """A URL of the target server with any path, query and fragment."""
    if tail is None:
        tail = st.builds(lambda path, query: path + query, _path(world),
                         st.sampled_from(["", ""]) | st.builds("?{}".format, line_text))
    return st.builds(lambda s, u, t: s + u + f"127.0.0.1:{world.port}" + t,
                     st.sampled_from(["http://", "http://", "HTTP://"]), _userinfo, tail)


def urls(world: World) -> st.SearchStrategy[str]:
    """One URL as a user might give it: mostly sendable, often not. Never one that could leave
    this machine or ask its DNS server (see ``stays_here``)."""
    tail = st.builds(lambda path, query, fragment: path + query + fragment, _path(world),
                     st.sampled_from(["", ""]) | st.builds("?{}".format, line_text),
                     st.sampled_from(["", ""]) | st.builds("#{}".format, line_text))
    good = sendable_urls(world, tail)
    odd = st.builds(lambda s, u, h, t: s + u + h + t, st.sampled_from(["http://", "https://", *SCHEMES]), _userinfo,
                    _hosts(world), tail | st.just(""))
    wrong = st.builds(lambda s, rest: s + rest, st.sampled_from(SCHEMES), line_text) | line_text
    return st.one_of(good, good, good, good, odd, odd, wrong).filter(lambda url: stays_here(world, url))


def _own_ids() -> st.SearchStrategy[Any]:
    """A spec's own id. Never one that looks like a line-number id (``12``, ``2:12``): those are
    the ids of other lines, and a spec claiming one is a collision these tests keep apart."""
    text = any_text.filter(lambda s: not _LINE_NUMBER_LIKE.fullmatch(s))
    return text | st.integers(10**9, 10**30) | st.sampled_from([None, True, 1.5, [], {}, "dup-a", "dup-b"])


def _timeouts() -> st.SearchStrategy[Any]:
    return st.floats(0.001, 3) | st.sampled_from([0, -1, "1", True, None, 1e308, float("nan"), float("inf"),
                                                  -float("inf"), 2**70, [1]])


def _bodies() -> st.SearchStrategy[dict[str, Any]]:
    raw = st.binary(max_size=300) | st.sampled_from([b"\x00", b"a\x00b", b"\x00" * 5000, b"\xff\xfe"])
    return st.one_of(
        st.builds(lambda b: {"body_b64": base64.b64encode(b).decode()}, raw),
        st.builds(lambda t: {"body_b64": t}, line_text),  # mostly not base64
        st.builds(lambda t: {"data": t}, any_text | st.sampled_from(["a\x00b", "\x00", "\ud800"])),
        st.builds(lambda v: {"data": v}, json_values),  # not a string: refused
        st.builds(lambda v: {"json": v}, json_values),
        st.builds(lambda v, t: {"json": v, "data": t}, json_values, any_text),  # two bodies: refused
        st.just({}),
    )


#: Header names: tokens mostly, sometimes anything at all.
_header_names = (st.text(st.characters(categories=("L", "N")) | st.sampled_from("-_.!~*'"), min_size=1, max_size=12)
                 | st.sampled_from(HEADER_NAMES) | any_text)


def spec_dicts(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON spec object with any of the spec keys: mostly one that can be sent, with odd but
    acceptable values; sometimes a wrong value, a missing url or an unknown key."""
    headers = st.dictionaries(_header_names, any_text | st.sampled_from(HEADER_VALUES) | st.integers(), max_size=4)
    optional = {
        "method": st.sampled_from(METHODS) | st.sampled_from(METHODS) | any_text | json_values,
        "headers": headers | headers | headers | json_values,
        "params": st.dictionaries(any_text, json_values, max_size=3) | json_values,
        "id": _own_ids(),
        "timeout": _timeouts(),
        "meta": json_values,
    }
    url = urls(world) | urls(world) | urls(world) | json_values.filter(
        lambda v: not isinstance(v, str) or stays_here(world, v))
    base = st.fixed_dictionaries({"url": url}, optional=optional)  # type: ignore[arg-type]
    mistakes = st.sampled_from([{}] * 12 + [{"url": None}, {"other": 1}, {"URL": "x"}])
    return st.builds(lambda spec, body, mistake: {k: v for k, v in {**spec, **body, **mistake}.items()
                                                   if v is not None or k != "url"},
                     base, _bodies(), mistakes)


def sendable_specs(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON spec that can mostly be sent: odd header names and values, any body, any meta."""
    methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "QUERY"])
    names = st.text(st.characters(codec="ascii", categories=("L", "N")) | st.sampled_from("-_.!~*'"),
                    min_size=1, max_size=12) | st.sampled_from(HEADER_NAMES[:17])
    values = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30) | st.sampled_from(HEADER_VALUES[:11])
    optional = {"method": methods, "headers": st.dictionaries(names, values, max_size=4), "id": _own_ids(),
                "meta": json_values, "timeout": st.floats(0.01, 3), "params": st.dictionaries(
                    st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=3)}
    base = st.fixed_dictionaries({"url": sendable_urls(world)}, optional=optional)  # type: ignore[arg-type]
    return st.builds(lambda spec, body: {**spec, **body}, base, _bodies())


@dataclass(frozen=True)
class Line:
    """One input line: its bytes, and the spec object when it is one."""

    raw: bytes
    spec: dict[str, Any] | None = None


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate makes a line that is not UTF-8


def lines(world: World) -> st.SearchStrategy[Line]:
    """An input line: a URL, a JSON spec (perhaps indented), a broken one, junk, a comment, a blank."""
    spec_line = st.builds(lambda spec, pad: Line(_encoded(pad + json.dumps(spec)), spec),
                          spec_dicts(world), st.sampled_from(["", "", " ", "\t", "\ufeff"]))
    # any bytes; not gzip's magic, which makes a whole file unreadable (exit 3, tested elsewhere)
    junk = st.binary(max_size=40).filter(lambda b: b"\n" not in b and not b.startswith(b"\x1f\x8b")
                                         and stays_here(world, b.decode("utf-8", "replace")))
    url_line = st.builds(lambda u: Line(_encoded(u)), urls(world))
    return st.one_of(
        url_line, url_line, url_line, spec_line, spec_line, spec_line, spec_line, spec_line,
        st.builds(lambda t: Line(_encoded("{" + t)), line_text),  # not JSON
        st.builds(lambda v: Line(_encoded(json.dumps(v))), json_values),  # JSON, but not an object
        junk.map(Line),  # any bytes, not UTF-8 often
        st.sampled_from([Line(b""), Line(b"   "), Line(b"# a comment"), Line(b"\t#x"), Line(b"\r"),
                         Line(b"\xef\xbb\xbf"), Line(b"\x00")]),
    )


def _text_of(raw: bytes, first: bool) -> str | None:
    """The line as the reader sees it (a file's BOM is not part of it); None when not UTF-8."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


def sendable_lines(world: World) -> st.SearchStrategy[Line]:
    """Lines most of which are sent: URLs of the target server and specs with odd but valid values."""
    return st.one_of(st.builds(lambda u: Line(_encoded(u)), sendable_urls(world)),
                     st.builds(lambda spec: Line(_encoded(json.dumps(spec)), spec), sendable_specs(world)))


def counts_as_input(raw: bytes, first: bool) -> bool:
    """Whether a line gets a record (the README's rule: blank lines and '#' comments are skipped)."""
    text = _text_of(raw, first)
    return text is None or (bool(text) and not text.startswith("#"))


def expected_ids(sources: list[list[Line]]) -> list[str]:
    """The id of every input that gets a record, as the README defines them: a spec's own id, else
    the line number, prefixed by the input's position when there are several; an own id already
    used by an earlier spec gives way to the line number."""
    ids: list[str] = []
    claimed: set[str] = set()
    for number, source in enumerate(sources, 1):
        prefix = f"{number}:" if len(sources) > 1 else ""
        for line_number, line in enumerate(source, 1):
            if not counts_as_input(line.raw, line_number == 1):
                continue
            is_spec = line.spec is not None and (_text_of(line.raw, line_number == 1) or "").startswith("{")
            own = line.spec.get("id") if is_spec and line.spec is not None else None
            if isinstance(own, str | int) and str(own) not in claimed:
                claimed.add(str(own))
                ids.append(str(own))
            else:
                ids.append(f"{prefix}{line_number}")
    return ids
