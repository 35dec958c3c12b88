"""Running the real CLI as a subprocess, and reading what it (and the test nginx) wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

import multifetch
from multifetch.testing._nginx import Nginx


def mf(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "multifetch", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def jsonl(path: Path | str | bytes) -> list[dict[str, Any]]:
    text = path.decode() if isinstance(path, bytes) else Path(path).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class AccessLog:
    """The lines nginx's ``access_log=True`` writes: ``connection protocol reused status``.

    ``mark()`` before a run, ``since(mark, count)`` after it: nginx logs a request once its
    answer is sent, so the last lines can arrive a moment after the client has its results.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        """The end of the log, once the lines of earlier requests have stopped coming."""
        size = -1
        while True:
            now = self.path.stat().st_size if self.path.exists() else 0
            if now == size:
                return size
            size = now
            time.sleep(0.05)

    def since(self, mark: int, count: int, wait: float = 5.0) -> list[tuple[str, str, str, int]]:
        deadline = time.monotonic() + wait
        while True:
            with open(self.path, "rb") as f:
                f.seek(mark)
                lines = f.read().decode().splitlines()
            if len(lines) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        entries = []
        for line in lines:
            connection, protocol, reused, status = line.split()
            entries.append((connection, protocol, reused, int(status)))
        return entries


@dataclass(frozen=True)
class LoggedServer:
    """A test nginx: its base URL and its access log."""

    url: str
    log: AccessLog


def tls_nginx(ca: trustme.CA, root: Path, **options: Any) -> Nginx:
    """An nginx for 127.0.0.1 over TLS (HTTP/2 and HTTP/1.1 by ALPN), its certificate from ``ca``."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is needed for the TLS and HTTP/2 tests: run `make test` (it installs it)")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    return Nginx(root, tls=(str(root / "cert.pem"), str(root / "key.pem")), **options)


def fetch_one(url: str, **options: object) -> multifetch.Result:
    """One URL through the API, no retries unless asked (a test of what one answer gives)."""
    options.setdefault("retries", 0)
    options.setdefault("timeout", 10)
    (result,) = list(multifetch.fetch([url], **options))
    return result
