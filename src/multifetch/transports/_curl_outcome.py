"""A finished libcurl transfer read into its job: the answer (status, body, timings) or the error."""

from __future__ import annotations

import re
from typing import Final

import pycurl

from ..engine._job import Job
from ..engine._result import Timings
from ._curl_errors import error_kind, timeout_phase
from ._decoding import Decoding, DecodingFailed

# Read once: libcurl's numbers, which compiled code would otherwise look up in pycurl on every use.
_REDIRECT_COUNT: Final = pycurl.REDIRECT_COUNT
_EFFECTIVE_URL: Final = pycurl.EFFECTIVE_URL
_NAMELOOKUP_TIME: Final = pycurl.NAMELOOKUP_TIME
_CONNECT_TIME: Final = pycurl.CONNECT_TIME
_APPCONNECT_TIME: Final = pycurl.APPCONNECT_TIME
_STARTTRANSFER_TIME: Final = pycurl.STARTTRANSFER_TIME
_TOTAL_TIME: Final = pycurl.TOTAL_TIME
_RESPONSE_CODE: Final = pycurl.RESPONSE_CODE
_INFO_HTTP_VERSION: Final = pycurl.INFO_HTTP_VERSION

HTTP_VERSIONS: Final = {
    pycurl.CURL_HTTP_VERSION_1_0: "1.0",
    pycurl.CURL_HTTP_VERSION_1_1: "1.1",
    pycurl.CURL_HTTP_VERSION_2_0: "2",
    getattr(pycurl, "CURL_HTTP_VERSION_3", 30): "3",
}
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def url_info(handle: pycurl.Curl, info: int) -> str | None:
    """A URL libcurl reports. It holds what a Location header said, byte for byte, which need not
    be UTF-8 (pycurl's text form would raise): bytes past ASCII are percent-encoded."""
    raw: bytes | None = handle.getinfo_raw(info)
    if raw is None:
        return None
    if raw.isascii():  # nearly always: no scan and no copy past the decode
        return raw.decode("ascii")
    return _NON_ASCII.sub(lambda byte: b"%%%02X" % byte[0][0], raw).decode("ascii")


def effective_url(handle: pycurl.Curl) -> str | None:
    """Where the transfer ended; None for a URL libcurl rejected (asking about it raises)."""
    try:
        return url_info(handle, _EFFECTIVE_URL)
    except pycurl.error:
        return None


def reported_as_sent(url: str) -> bool:
    """Whether libcurl names ``url`` itself as where a transfer ended that was sent there and not
    redirected. It names the URL as its parser writes it out, which changes an upper-case scheme,
    credentials, a port with leading zeros or none, a missing path, dot segments (``%2e`` too),
    IPv4 addresses written otherwise than as four decimal numbers, and may change an IPv6 one;
    the rest (host names, query, fragment, percent-encodings) stays as written. Answering here
    for URLs it leaves alone is cheaper than asking: libcurl writes the URL out anew each time
    (its URL parser and printf, a microsecond a request).
    """
    global _last_origin
    origin = _last_origin  # runs are mostly long stretches of one origin: its verdict is kept
    if not (url.startswith(origin) and url[len(origin):len(origin) + 1] == "/"):
        plain = _plain_origin(url)
        if plain is None:
            return False
        _last_origin = plain
    return "/." not in url and "%2e" not in url and "%2E" not in url  # in the query too: then asked


def _plain_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` when libcurl writes it out as it is, with a path after it."""
    if not url.startswith(("http://", "https://")):
        return None
    start = url.index("//") + 2
    slash = url.find("/", start)
    if slash < 0:
        return None
    host, colon, port = url[start:slash].partition(":")
    if colon and not (port.isdigit() and port[0] != "0"):
        return None
    if "@" in host or "?" in host or "#" in host or host[:1] == "[":
        return None
    if host[:1].isdigit() and not _DOTTED_QUAD.fullmatch(host):
        return None
    return url[:slash]


_last_origin = "\0"  # the origin of the last URL _plain_origin passed; no URL starts so
_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def read_outcome(job: Job, handle: pycurl.Curl, url: str, writer: Decoding, raw_headers: list[bytes],
                 code: int, message: str, *, proxied: bool, denied: dict[int, str],
                 details: bool = True) -> None:
    """Fill in ``job``'s outcome from its ended transfer to ``url`` (libcurl's ``code``: 0 for an
    answer).

    ``proxied``: the run goes through a proxy (an error may be the proxy's); ``denied``: the
    addresses refused under --deny-private, by ``id(job)``; ``details``: read the phase timings
    and the HTTP version too (``TransportOptions.answer_details``).
    """
    getinfo = handle.getinfo
    if code == 0 and not getinfo(_REDIRECT_COUNT) and reported_as_sent(url):
        job.final_url = url
    else:
        try:
            job.final_url = url_info(handle, _EFFECTIVE_URL)
        except pycurl.error:  # a URL libcurl rejected
            job.final_url = None
    if details:
        job.timings = Timings(
            getinfo(_NAMELOOKUP_TIME),
            getinfo(_CONNECT_TIME),
            getinfo(_APPCONNECT_TIME),
            getinfo(_STARTTRANSFER_TIME),
            getinfo(_TOTAL_TIME),
        )
    if code == 0:
        try:
            job.content, job.sha256, job.body_path = writer.finish()
        except (OSError, DecodingFailed) as exc:
            writer.abort()
            job.fail(*(writer.failure or ("write", f"cannot save body: {exc}")))
        else:
            job.status = getinfo(_RESPONSE_CODE)
            if details:
                job.http_version = HTTP_VERSIONS.get(getinfo(_INFO_HTTP_VERSION), "")
            job.size = writer.size
            job.raw_headers = raw_headers
    else:
        writer.abort()
        _read_failure(job, handle, writer, code, message, proxied, denied.pop(id(job), None))


def _read_failure(job: Job, handle: pycurl.Curl, writer: Decoding, code: int, msg: str,
                  proxied: bool, denied: str | None) -> None:
    kind = error_kind(code, msg, proxied=bool(handle.getinfo(pycurl.PROXY_ERROR)) or proxied)
    if denied is not None:
        kind, msg = "blocked", f"refused to connect: {denied} (--deny-private)"
    if kind == "write" and writer.failure is not None:
        kind, msg = writer.failure  # the body could not be decoded, or decoded too large
    elif kind == "write" and writer.error is not None:
        msg = f"cannot save body: {writer.error}"
    elif kind == "timeout":
        msg = f"{msg} ({timeout_phase(handle)})"
    job.raw_headers = None
    job.fail(kind, msg or f"libcurl error {code}")
