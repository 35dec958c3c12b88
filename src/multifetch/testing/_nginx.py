"""nginx (Debian's) on 127.0.0.1 with a private config: the HTTP/2 tests' server and the bench's."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """``with Nginx(root, server="...") as url:`` runs nginx serving ``root/www``.

    ``server`` holds extra directives for the server block; ``tls`` is ``(cert, key)`` paths for
    HTTPS with HTTP/2; ``modules`` are ``load_module`` paths. ``access_log`` writes one line a
    request to ``root/access.log``: the connection's serial number, the protocol and whether the
    TLS session was resumed (``r`` or ``.``), for tests that count connections and handshakes.
    """

    def __init__(
        self,
        root: Path,
        *,
        server: str = "",
        tls: tuple[str, str] | None = None,
        modules: tuple[str, ...] = (),
        worker_connections: int = 1024,
        access_log: bool = False,
    ) -> None:
        self.root = root
        self.port = free_port()
        self._server = server
        self._tls = tls
        self._modules = modules
        self._worker_connections = worker_connections
        self._access_log = access_log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def _config(self) -> str:
        root = self.root
        user = "user root;" if os.geteuid() == 0 else ""  # workers must read 0700 temp folders
        modules = "".join(f"load_module {m};\n" for m in self._modules)
        listen = f"listen 127.0.0.1:{self.port} backlog=8192"
        tls = ""
        if self._tls:
            listen += " ssl http2"
            tls = f"ssl_certificate {self._tls[0]}; ssl_certificate_key {self._tls[1]};"
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "".join(f"{k}_temp_path {root}/tmp; " for k in kinds)
        log = "access_log off;"
        if self._access_log:
            log = ("log_format counted '$connection $server_protocol $ssl_session_reused $status';\n"
                   f"    access_log {root}/access.log counted;")
        return f"""{user}
{modules}daemon off;
worker_processes 1;
worker_rlimit_nofile {self._worker_connections * 2};
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections {self._worker_connections}; }}
http {{
    {log}
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    {temp}
    server {{
        {listen};
        {tls}
        root {root}/www;
        {self._server}
    }}
}}
"""

    def __enter__(self) -> str:
        (self.root / "www").mkdir(parents=True, exist_ok=True)
        (self.root / "nginx.conf").write_text(self._config())
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        log = str(self.root / "error.log")
        self._proc = subprocess.Popen([binary, "-c", str(self.root / "nginx.conf"), "-e", log])
        deadline = time.monotonic() + 10
        while True:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {Path(log).read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self.url
            except OSError:
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
