"""TLS refusals that come after the handshake, and timeouts inside it, are named as TLS failures."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pycurl
import pytest
import trustme

import multifetch
from multifetch.transports._curl_errors import timeout_phase


def _serve(listener: socket.socket, context: ssl.SSLContext | None) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        if context is None:  # accepts, then never says a word
            threading.Timer(5, conn.close).start()
            continue
        tls = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
            tls.recv(1000)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (ssl.SSLError, OSError):
            time.sleep(0.2)  # the client reads the alert, not a reset
        tls.close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    context: ssl.SSLContext | None = request.param
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve, args=(listener, context), daemon=True).start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def demanding(ca: trustme.CA, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A server that aborts the connection of a client without a certificate (nginx answers 400)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    context.maximum_version = version
    return context


CA = trustme.CA()


@pytest.mark.parametrize("server", [demanding(CA, ssl.TLSVersion.TLSv1_3), demanding(CA, ssl.TLSVersion.TLSv1_2)],
                         indirect=True, ids=["tls1.3", "tls1.2"])
def test_a_server_demanding_a_client_certificate_is_tls_and_not_retried(server: str, tmp_path: object) -> None:
    ca_file = f"{tmp_path}/ca.pem"
    CA.cert_pem.write_to_path(ca_file)
    (result,) = multifetch.fetch([f"https://{server}/"], cafile=ca_file, retries=3)
    assert result.error is not None and result.error.kind == "tls", result.error
    assert result.attempts == 1  # a missing certificate does not appear by retrying


@pytest.mark.parametrize("server", [None], indirect=True)
@pytest.mark.parametrize(("scheme", "phase"), [("https", "during the TLS handshake"), ("http", "while transferring")])
def test_a_timeout_says_where_it_happened(server: str, scheme: str, phase: str) -> None:
    handle = pycurl.Curl()
    handle.setopt(pycurl.URL, f"{scheme}://{server}/")
    handle.setopt(pycurl.TIMEOUT_MS, 300)
    handle.setopt(pycurl.WRITEFUNCTION, lambda _: None)
    with pytest.raises(pycurl.error) as caught:
        handle.perform()
    assert caught.value.args[0] == pycurl.E_OPERATION_TIMEDOUT
    assert timeout_phase(handle) == phase
    handle.close()
