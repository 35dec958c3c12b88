"""Real servers on 127.0.0.1 for the whole session: the target server, a second host, faults, TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from hypothesis import settings

from multifetch.testing import FaultServer, TargetServer

from helpers import AccessLog, LoggedServer, tls_nginx

# Property tests keep no example database (it would land in the checkout) and draw the same
# examples on every run, so a CI failure is the one a developer sees.
settings.register_profile("multifetch", database=None, derandomize=True)
settings.load_profile("multifetch")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The tests run the compiled modules where they were built (``make compiled``): a source edited
    since would not be what runs, so the session stops and says so."""
    package = Path(__file__).resolve().parent.parent / "src" / "multifetch"
    stale = [str(source.relative_to(package.parent)) for built in package.rglob("*.so")
             if (source := built.with_name(built.name.split(".", 1)[0] + ".py")).exists()
             and source.stat().st_mtime > built.stat().st_mtime]
    if stale:
        pytest.exit(f"{', '.join(stale)} changed since compiled: run `make compiled` (or `make pure`)", returncode=4)


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
    root = tmp_path_factory.mktemp("nginx")
    (root / "www").mkdir()
    (root / "www" / "hello.txt").write_text("hello over h2\n")
    with tls_nginx(ca, root) as url:
        yield url


@pytest.fixture(scope="session")
def nginx_tls(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    """nginx over TLS 1.3 serving a 1 KB file at /1k, with an access log of connections and resumptions.

    TLS 1.3 sessions are resumed from tickets (on by default), so no session cache is set: the
    server keeps no state, as many do. (Debian's nginx 1.22 offers TLS 1.2 unless told.)
    """
    root = tmp_path_factory.mktemp("nginx-tls")
    (root / "www").mkdir()
    (root / "www" / "1k").write_bytes(bytes(range(256)) * 4)
    with tls_nginx(ca, root, server="ssl_protocols TLSv1.3;", access_log=True) as url:
        yield LoggedServer(url, AccessLog(root / "access.log"))
