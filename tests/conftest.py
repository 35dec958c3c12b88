"""Real servers on 127.0.0.1 for the whole session: the target server, a second host, faults, TLS."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from multifetch.testing import FaultServer, TargetServer
from multifetch.testing._nginx import Nginx


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


@pytest.fixture(scope="session")
def nginx_h2(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx serving HTTP/2 over TLS (certificates from trustme) on 127.0.0.1."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is needed for the HTTP/2 tests: run `make test` (it installs it)")
    root = tmp_path_factory.mktemp("nginx")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    (root / "www").mkdir()
    (root / "www" / "hello.txt").write_text("hello over h2\n")
    with Nginx(root, tls=(str(root / "cert.pem"), str(root / "key.pem"))) as url:
        yield url
