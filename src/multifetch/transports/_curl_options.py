"""The libcurl options every transfer of a run starts from."""

from __future__ import annotations

from typing import Any

import certifi
import pycurl

from ..engine._policy import Timeouts
from ._decoding import ACCEPTED

_HTTP_ONLY = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS


def new_share() -> pycurl.CurlShare:
    """One DNS cache and TLS session cache for every transfer of the run, across multi handles."""
    share = pycurl.CurlShare()
    share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_DNS)
    share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
    return share


def base_options(
    share: Any, timeouts: Timeouts, *, saving_files: bool, **o: Any
) -> list[tuple[int, Any]]:
    """The options every easy handle of a run gets, from the transport's settings ``o``."""
    opts: list[tuple[int, Any]] = [
        (pycurl.SHARE, share),
        (pycurl.NOSIGNAL, 1),
        (pycurl.PROTOCOLS, _HTTP_ONLY),
        (pycurl.REDIR_PROTOCOLS, _HTTP_ONLY),
        (pycurl.FOLLOWLOCATION, 1 if o["follow_redirects"] else 0),
        (pycurl.MAXREDIRS, o["max_redirects"]),
        (pycurl.ACCEPT_ENCODING, ACCEPTED),
        (pycurl.HTTP_CONTENT_DECODING, 0),  # raw bodies, decoded in Python: see _decoding (zstd)
        (pycurl.USERAGENT, o["user_agent"]),
        (pycurl.CONNECTTIMEOUT_MS, int(timeouts.connect * 1000)),
        (pycurl.CAINFO, o["cafile"] or certifi.where()),
        (pycurl.SSL_VERIFYPEER, 1 if o["verify"] else 0),
        (pycurl.SSL_VERIFYHOST, 2 if o["verify"] else 0),
        (pycurl.TCP_NODELAY, 1),
    ]
    if o["resolve"]:
        opts.append((pycurl.RESOLVE, list(o["resolve"])))
    if o["doh_url"]:
        opts.append((pycurl.DOH_URL, o["doh_url"]))
    if o["proxy"] is not None:
        opts.append((pycurl.PROXY, o["proxy"]))
    if o["auth"] is not None:
        user, password, kind = o["auth"]
        opts.append((pycurl.USERPWD, f"{user}:{password}"))
        opts.append((pycurl.HTTPAUTH, {"basic": pycurl.HTTPAUTH_BASIC,
                                       "digest": pycurl.HTTPAUTH_DIGEST,
                                       "any": pycurl.HTTPAUTH_ANY}[kind]))
    if o["cookies"] is not None:
        # one cookie engine for every transfer (a share handle), loaded from and saved to the file
        share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_COOKIE)
        opts += [(pycurl.COOKIEFILE, o["cookies"]),
                 (pycurl.COOKIEJAR, o["cookies"])]
    if o["client_cert"] is not None:
        cert, key = o["client_cert"]
        opts.append((pycurl.SSLCERT, cert))
        if key:
            opts.append((pycurl.SSLKEY, key))
    opts += _body_options(o["limit_rate"], o["max_body_size"], saving_files)
    version = {
        None: pycurl.CURL_HTTP_VERSION_2TLS,
        "1.1": pycurl.CURL_HTTP_VERSION_1_1,
        "2": pycurl.CURL_HTTP_VERSION_2TLS,
        "3": getattr(pycurl, "CURL_HTTP_VERSION_3", pycurl.CURL_HTTP_VERSION_2TLS),
    }[o["http_version"]]
    opts.append((pycurl.HTTP_VERSION, version))
    if o["http_version"] != "1.1":
        # A transfer to a host whose first connection is still being set up waits to learn
        # whether it speaks HTTP/2 instead of opening a connection of its own: 64 streams
        # then share one connection, as the server intends, rather than 64 handshakes.
        opts.append((pycurl.PIPEWAIT, 1))
    return opts


def _body_options(
    limit_rate: int | None, max_body_size: int | None, saving_files: bool
) -> list[tuple[int, Any]]:
    """How fast and how large each transfer's body may be, and the chunks it comes in."""
    opts: list[tuple[int, Any]] = []
    if limit_rate is not None:  # curl's --limit-rate: each transfer, both ways
        opts += [(pycurl.MAX_RECV_SPEED_LARGE, limit_rate), (pycurl.MAX_SEND_SPEED_LARGE, limit_rate)]
    if max_body_size is not None:
        opts.append((pycurl.MAXFILESIZE_LARGE, int(max_body_size)))
    if saving_files:
        # Saving to disk is for large bodies: fewer, larger chunks mean fewer Python callbacks.
        opts.append((pycurl.BUFFERSIZE, 512 * 1024))
    return opts
