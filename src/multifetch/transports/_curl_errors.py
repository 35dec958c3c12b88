"""libcurl error codes → multifetch error kinds: the only place this translation happens."""

from __future__ import annotations

from typing import Any, Final

import pycurl

from .._errors import ErrorKind

_KINDS: Final[dict[int, str]] = {
    1: ErrorKind.BLOCKED,  # UNSUPPORTED_PROTOCOL: a scheme we do not allow (file://, ftp:// ...)
    #              or an answer that is not HTTP/1.x (see error_kind)
    3: ErrorKind.INVALID_INPUT,  # URL_MALFORMAT
    5: ErrorKind.PROXY,  # COULDNT_RESOLVE_PROXY
    6: ErrorKind.DNS,  # COULDNT_RESOLVE_HOST
    7: ErrorKind.CONNECT,  # COULDNT_CONNECT
    8: ErrorKind.PROTOCOL,  # WEIRD_SERVER_REPLY
    16: ErrorKind.PROTOCOL,  # HTTP2 framing layer
    18: ErrorKind.PROTOCOL,  # PARTIAL_FILE: body shorter than announced
    23: ErrorKind.WRITE,  # WRITE_ERROR: our write callback refused (disk full, ...)
    26: ErrorKind.OTHER,  # READ_ERROR
    27: ErrorKind.OTHER,  # OUT_OF_MEMORY
    28: ErrorKind.TIMEOUT,  # OPERATION_TIMEDOUT
    35: ErrorKind.TLS,  # SSL_CONNECT_ERROR
    42: ErrorKind.CANCELLED,  # ABORTED_BY_CALLBACK
    47: ErrorKind.TOO_MANY_REDIRECTS,
    52: ErrorKind.RESET,  # GOT_NOTHING: connection closed before any answer
    53: ErrorKind.TLS,  # SSL_ENGINE_NOTFOUND
    55: ErrorKind.RESET,  # SEND_ERROR
    56: ErrorKind.RESET,  # RECV_ERROR (connection reset mid-answer)
    58: ErrorKind.TLS,  # SSL_CERTPROBLEM
    59: ErrorKind.TLS,  # SSL_CIPHER
    60: ErrorKind.TLS,  # PEER_FAILED_VERIFICATION
    61: ErrorKind.PROTOCOL,  # BAD_CONTENT_ENCODING
    63: ErrorKind.BODY_TOO_LARGE,  # FILESIZE_EXCEEDED
    77: ErrorKind.TLS,  # SSL_CACERT_BADFILE
    80: ErrorKind.TLS,  # SSL_SHUTDOWN_FAILED
    82: ErrorKind.TLS,  # SSL_CRL_BADFILE
    83: ErrorKind.TLS,  # SSL_ISSUER_ERROR
    90: ErrorKind.TLS,  # SSL_PINNEDPUBKEYNOTMATCH
    91: ErrorKind.TLS,  # SSL_INVALIDCERTSTATUS
    92: ErrorKind.PROTOCOL,  # HTTP2_STREAM
    95: ErrorKind.PROTOCOL,  # HTTP3
    97: ErrorKind.PROXY,  # PROXY: the proxy's handshake failed (SOCKS, HTTPS proxy)
    98: ErrorKind.TLS,  # SSL_CLIENTCERT
    100: ErrorKind.PROTOCOL,  # TOO_LARGE: a header or chunk past libcurl's limits
}


def error_kind(code: int, message: str = "", proxied: bool = False) -> str:
    """The error kind for libcurl error ``code`` (and its message, where one code means two things).

    ``proxied``: the transfer went through a proxy, so failing to connect means the proxy failed.
    """
    if "CONNECT tunnel failed" in message or "proxy" in message.lower() or (proxied and code == 7):
        return ErrorKind.PROXY
    if code == 1 and "HTTP/" in message:
        return ErrorKind.PROTOCOL  # "Received HTTP/0.9 when not allowed", "Unsupported HTTP version"
    if code in (55, 56) and "SSL" in message and "alert" in message:
        return ErrorKind.TLS  # a TLS alert after the handshake: "tlsv13 alert certificate required"
    if code == 56 and "Recv failure" not in message and "reset" not in message.lower():
        return ErrorKind.PROTOCOL  # RECV_ERROR also reports bad framing ("chunk hex-length char ...")
    return _KINDS.get(code, ErrorKind.OTHER)


def timeout_phase(handle: Any) -> str:
    """What a transfer that timed out was doing, for its message: "while connecting",
    "during the TLS handshake" or "while transferring" (libcurl's times of ``handle`` say)."""
    connected = handle.getinfo(pycurl.CONNECT_TIME) > 0
    if connected and handle.getinfo(pycurl.APPCONNECT_TIME) == 0 \
            and str(handle.getinfo(pycurl.EFFECTIVE_URL)).lower().startswith("https:"):
        return "during the TLS handshake"
    return "while transferring" if connected else "while connecting"
