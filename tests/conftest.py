"""Real servers on 127.0.0.1 for the whole session: the target server, a second host, faults, TLS."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from multifetch.testing import FaultServer, TargetServer


@pytest.fixture(scope="session")
def target() -> Iterator[TargetServer]:
    with TargetServer() as server:
        yield server


@pytest.fixture(scope="session")
def target2() -> Iterator[TargetServer]:
    """A second origin (another port), for per-host behaviour."""
    with TargetServer() as server:
        yield server


@pytest.fixture
def fresh_target() -> Iterator[TargetServer]:
    """A target server whose counters start at zero."""
    with TargetServer() as server:
        yield server


@pytest.fixture(scope="session")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def tls_target(ca: trustme.CA) -> Iterator[TargetServer]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    with TargetServer(ssl_context=context) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def nginx_h2(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx serving HTTP/2 over TLS (certificates from trustme) on 127.0.0.1."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is needed for the HTTP/2 tests: run `make test` (it installs it)")
    root = tmp_path_factory.mktemp("nginx")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    (root / "www").mkdir()
    (root / "www" / "hello.txt").write_text("hello over h2\n")
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the 0700 tmp dir
    (root / "nginx.conf").write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        root {root}/www;
    }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx did not start: {(root / 'error.log').read_text()[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
