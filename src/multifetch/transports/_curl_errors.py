"""libcurl error codes → multifetch error kinds: the only place this translation happens."""

from __future__ import annotations

from typing import Any, Final

import pycurl

_KINDS: Final[dict[int, str]] = {
    1: "blocked",  # UNSUPPORTED_PROTOCOL: a scheme we do not allow (file://, ftp:// ...)
    #              or an answer that is not HTTP/1.x (see error_kind)
    3: "invalid_input",  # URL_MALFORMAT
    5: "proxy",  # COULDNT_RESOLVE_PROXY
    6: "dns",  # COULDNT_RESOLVE_HOST
    7: "connect",  # COULDNT_CONNECT
    8: "protocol",  # WEIRD_SERVER_REPLY
    16: "protocol",  # HTTP2 framing layer
    18: "protocol",  # PARTIAL_FILE: body shorter than announced
    23: "write",  # WRITE_ERROR: our write callback refused (disk full, ...)
    26: "other",  # READ_ERROR
    27: "other",  # OUT_OF_MEMORY
    28: "timeout",  # OPERATION_TIMEDOUT
    35: "tls",  # SSL_CONNECT_ERROR
    42: "cancelled",  # ABORTED_BY_CALLBACK
    47: "too_many_redirects",
    52: "reset",  # GOT_NOTHING: connection closed before any answer
    53: "tls",  # SSL_ENGINE_NOTFOUND
    55: "reset",  # SEND_ERROR
    56: "reset",  # RECV_ERROR (connection reset mid-answer)
    58: "tls",  # SSL_CERTPROBLEM
    59: "tls",  # SSL_CIPHER
    60: "tls",  # PEER_FAILED_VERIFICATION
    61: "protocol",  # BAD_CONTENT_ENCODING
    63: "body_too_large",  # FILESIZE_EXCEEDED
    77: "tls",  # SSL_CACERT_BADFILE
    80: "tls",  # SSL_SHUTDOWN_FAILED
    82: "tls",  # SSL_CRL_BADFILE
    83: "tls",  # SSL_ISSUER_ERROR
    90: "tls",  # SSL_PINNEDPUBKEYNOTMATCH
    91: "tls",  # SSL_INVALIDCERTSTATUS
    92: "protocol",  # HTTP2_STREAM
    95: "protocol",  # HTTP3
    97: "proxy",  # PROXY: the proxy's handshake failed (SOCKS, HTTPS proxy)
    98: "tls",  # SSL_CLIENTCERT
    100: "protocol",  # TOO_LARGE: a header or chunk past libcurl's limits
}


def error_kind(code: int, message: str = "", proxied: bool = False) -> str:
    """The error kind for libcurl error ``code`` (and its message, where one code means two things).

    ``proxied``: the transfer went through a proxy, so failing to connect means the proxy failed.
    """
    if "CONNECT tunnel failed" in message or "proxy" in message.lower() or (proxied and code == 7):
        return "proxy"
    if code == 1 and "HTTP/" in message:
        return "protocol"  # "Received HTTP/0.9 when not allowed", "Unsupported HTTP version"
    if code in (55, 56) and "SSL" in message and "alert" in message:
        return "tls"  # a TLS alert after the handshake: "tlsv13 alert certificate required"
    if code == 56 and "Recv failure" not in message and "reset" not in message.lower():
        return "protocol"  # RECV_ERROR also reports bad framing ("chunk hex-length char ...")
    return _KINDS.get(code, "other")


def timeout_phase(handle: Any) -> str:
    """What a transfer that timed out was doing, for its message: "while connecting",
    "during the TLS handshake" or "while transferring" (libcurl's times of ``handle`` say)."""
    connected = handle.getinfo(pycurl.CONNECT_TIME) > 0
    if connected and handle.getinfo(pycurl.APPCONNECT_TIME) == 0 \
            and str(handle.getinfo(pycurl.EFFECTIVE_URL)).lower().startswith("https:"):
        return "during the TLS handshake"
    return "while transferring" if connected else "while connecting"
