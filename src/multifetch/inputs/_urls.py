"""URLs as input gives them: whether one can be fetched, its ASCII form, and its origin.

Every input passes ``check_url`` and most of them ``origin_of`` (the key of per-host limits), so
both remember the authorities they have seen: the last one (input runs are mostly long stretches of
one host), then up to ``KNOWN_AUTHORITIES`` of them (a crawl cycles over many hosts; a regex pass
costs ten times a lookup).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from .._errors import InvalidInput

KNOWN_AUTHORITIES = 4096  # authorities each cache holds; when full, it starts again

_ORIGIN = re.compile(r"[^:/?#]+://[^/?#]*")
_BAD_CHAR = re.compile(r"[\x00-\x20\x7f]")
# Characters libcurl refuses in a host name ("URL rejected: Bad hostname"): a URL with one is
# invalid input here, not a transfer that fails late (and through a proxy, differently per engine).
_BAD_HOST_CHAR = re.compile(r"[!$&'()*+,;=<>^`{}\"\\]")
# scheme://[userinfo@](host|[v6])[:port] then the path, query or fragment (or the end)
_AUTHORITY = re.compile(
    r"(?i)https?://(?:[^/?#@]*@)?(\[[0-9a-f:.]+\]|[^/?#:@\[\]]+)(?::(\d{0,5}))?(?=[/?#]|$)"
)

# A URL this matches whole passes every check of check_url (ports up to 65535): one regex pass for
# the common case, a check a request; anything else gets the checks one by one, for their messages.
# Group 1 is the scheme and authority, remembered for the next URLs (see check_url).
_PLAIN_URL = re.compile(
    r"(?i)(https?://(?:[^/?#@\x00-\x20\x7f]*@)?(?:\[[0-9a-f:.]+\]|[^/?#:@\[\]\x00-\x20\x7f!$&'()*+,;=<>^`{}\"\\]+)"
    r"(?::(?:\d{0,4}|[0-5]\d{4}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5]))?)(?:[/?#][^\x00-\x20\x7f]*)?"
)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased, without userinfo."""
    global _last
    prefix, origin = _last  # runs are mostly long stretches of one host: remember the last one
    end = len(prefix)
    if url.startswith(prefix) and (len(url) == end or url[end] in "/?#"):  # the authority ends there
        return origin
    raw = url[:_authority_end(url)]
    known = _origins.get(raw)
    if known is not None:
        _last = (raw, known)
        return known
    match = _ORIGIN.match(url)
    if match is None:
        return url.lower()
    origin = raw = match.group()
    if "@" in origin:
        scheme, _, authority = origin.partition("://")
        origin = scheme + "://" + authority.rpartition("@")[2]
    origin = origin.lower()
    _last = (raw, origin)  # one tuple: another thread never sees a prefix with a wrong origin
    _remember(_origins, raw, origin)
    return origin


def _authority_end(url: str) -> int:
    """Where ``scheme://authority`` ends in ``url``: at the first ``/``, ``?`` or ``#`` after ``://``.
    Only a cache key: a URL without ``://`` gives one no known authority equals."""
    end = len(url)
    start = url.find("://") + 3
    for delimiter in "/?#":
        found = url.find(delimiter, start, end)
        if found >= 0:
            end = found
    return end


def _remember(cache: dict[str, str], key: str, value: str) -> None:
    if len(cache) >= KNOWN_AUTHORITIES:
        cache.clear()
    cache[key] = value


_last = ("\0", "")  # (the URL text of the last origin, that origin); the prefix matches no URL
_origins: dict[str, str] = {}  # the URL text of an authority (up to /?# or the end): its origin


_URL_SAFE = "/?#[]@!$&'()*+,;=:%-._~"


def ascii_url(url: str) -> str:
    """``url`` with an internationalized host in IDNA form (UTS #46) and other non-ASCII
    characters percent-encoded as UTF-8; libcurl here has no IDN support of its own.

        >>> ascii_url("http://Bücher.example/straße?q=ü")
        'http://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC'
    """
    if url.isascii():
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidInput(f"not an http(s) URL: {url[:200]!r}")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = authority.rpartition("@")
    host, colon, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    if not host.isascii():
        import idna  # IDNA 2008 with UTS #46 mapping: the same host in any form gets one key

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidInput(f"bad international host name {host[:100]!r}: {exc}") from None
    try:
        authority = (quote(userinfo, safe=_URL_SAFE) + at if at else "") + host + colon + port
        return f"{scheme}://{authority}{quote(tail, safe=_URL_SAFE)}"
    except UnicodeEncodeError:  # a lone surrogate (JSON text may hold one): no UTF-8 form
        raise InvalidInput(f"URL is not valid text (a lone surrogate): {url[:200]!r}") from None


def check_url(url: object) -> str | None:
    """Why ``url`` cannot be fetched, or None when it can."""
    global _last_authority
    if type(url) is str:
        # Runs are mostly long stretches of one host: after the authority of the last URL that
        # passed, only the rest needs looking at (no space or control character anywhere).
        authority = _last_authority
        end = len(authority)
        if url.startswith(authority) and (len(url) == end or url[end] in "/?#") and (
                url.isprintable() and " " not in url):
            return None
        if url[:_authority_end(url)] in _passed and url.isprintable() and " " not in url:
            return None
        match = _PLAIN_URL.fullmatch(url)
        if match is not None:
            _last_authority = match.group(1)
            _remember(_passed, _last_authority, "")
            return None
    return _url_problem(url)


_last_authority = "\0"  # scheme and authority of the last URL _PLAIN_URL passed; no URL starts so
_passed: dict[str, str] = {}  # the scheme and authority of URLs _PLAIN_URL passed (values unused)


def sendable_url(url: object) -> str:
    """``url`` as it is sent (a non-ASCII host or path encoded); ``InvalidInput`` if it cannot be.
    Anything may come (a JSON spec's ``"url": null``): only text is a URL."""
    if not isinstance(url, str):
        raise InvalidInput(_NOT_TEXT)
    if not url.isascii():
        url = ascii_url(url)
    problem = check_url(url)
    if problem:
        raise InvalidInput(problem)
    return url


_NOT_TEXT = "url must be a non-empty string"


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return _NOT_TEXT
    head = url[:8].lower()
    if not (head.startswith("http://") or head.startswith("https://")):
        return f"not an http(s) URL: {url[:200]!r}"
    if _BAD_CHAR.search(url):
        return f"URL contains whitespace or control characters: {url[:200]!r}"
    match = _AUTHORITY.match(url)
    if match is None:
        return f"malformed URL (no host, or a bad host or port): {url[:200]!r}"
    if _BAD_HOST_CHAR.search(match.group(1)):
        return f"malformed URL (a character not allowed in a host name): {url[:200]!r}"
    port = match.group(2)
    if port and int(port) > 65535:
        return f"malformed URL (port out of range): {url[:200]!r}"
    return None
