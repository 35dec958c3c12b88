"""A private resolver environment: commands see their own /etc/hosts, resolv.conf and nsswitch.conf.

``with PrivateResolver(hosts={"h1.names.test": "127.0.0.1"}, aaaa_delay=3.0) as env:`` writes the
three files into a temporary folder, starts a ``DnsServer`` on a 127.53.x.y address (port 53) that
knows every name given, and ``env.command("curl", url)`` is that command run in a private mount
namespace (``unshare -m``) where the files are bind-mounted over the machine's. Nothing outside the
namespace changes, and the system resolver inside it asks only the test's DNS server: the command
is never started unless all three mounts succeeded.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._background import Service
from ._dns import DnsServer

_FILES = ("hosts", "resolv.conf", "nsswitch.conf")


def host_names(count: int, domain: str = "names.test") -> list[str]:
    """``count`` distinct names under ``domain`` (``.test`` is reserved: never a real name)."""
    width = len(str(max(count - 1, 0)))
    return [f"h{i:0{width}d}.{domain}" for i in range(count)]


def _unshare() -> list[str]:
    user = [] if os.geteuid() == 0 else ["--map-root-user"]  # a user namespace lets others mount too
    return ["unshare", "--mount", "--propagation", "private", *user]


def namespace_problem() -> str | None:
    """Why commands cannot be run in a private mount namespace here, or ``None`` when they can."""
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="mf-ns-") as folder:
        probe = Path(folder) / "hosts"
        probe.write_text("127.0.0.1 probe.names.test\n")
        script = f"mount --bind {shlex.quote(str(probe))} /etc/hosts && cat /etc/hosts"
        try:
            done = subprocess.run([*_unshare(), "sh", "-c", script], capture_output=True, text=True,
                                  timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"`unshare --mount` failed: {e}"
    if done.returncode != 0 or "probe.names.test" not in done.stdout:
        return f"`unshare --mount` with a bind mount failed: {done.stderr.strip()[-200:]}"
    return None


class PrivateResolver(Service):
    """The resolver files and DNS server that commands run with ``command()`` or ``run()`` see.

    ``hosts`` maps names to the IPv4 addresses written in the namespace's /etc/hosts (IPv4 only: a
    lookup of the IPv6 family alone asks DNS their AAAA question, one for both families is answered
    from /etc/hosts); ``records`` holds names found only by
    DNS, with their addresses. The DNS server (``env.dns``) knows both; ``aaaa_delay`` and ``delays``
    are its (see ``DnsServer``). ``resolv_options`` is the ``options`` line of resolv.conf (glibc's
    defaults, written out). The namespace is checked on entry: its resolv.conf must name only the
    test's DNS server.
    """

    def __init__(
        self,
        hosts: Mapping[str, str] | None = None,
        *,
        records: Mapping[str, Sequence[str]] | None = None,
        aaaa_delay: float | None = 3.0,
        delays: Mapping[str, float | None] | None = None,
        ttl: int = 300,
        resolv_options: str = "timeout:5 attempts:2",
        dns_host: str | None = None,
    ) -> None:
        self.hosts = dict(hosts or {})
        table: dict[str, list[str]] = {name: [address] for name, address in self.hosts.items()}
        for name, addresses in (records or {}).items():
            table.setdefault(name, []).extend(addresses)
        self.dns = DnsServer(table, host=dns_host, aaaa_delay=aaaa_delay, delays=delays, ttl=ttl)
        self.resolv_options = resolv_options
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.folder = Path()

    def start(self) -> None:
        self.dns.start()
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="mf-names-")
            self.folder = Path(self._tmp.name)
            lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
            lines += [f"{address} {name}" for name, address in self.hosts.items()]
            (self.folder / "hosts").write_text("\n".join(lines) + "\n")
            options = f"options {self.resolv_options}\n" if self.resolv_options else ""
            (self.folder / "resolv.conf").write_text(f"nameserver {self.dns.host}\n{options}")
            (self.folder / "nsswitch.conf").write_text("hosts: files dns\n")
            self._check()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.dns.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def prefix(self) -> list[str]:
        """The words to put before a command to run it in the namespace."""
        mounts = " && ".join(
            f"mount --bind {shlex.quote(str(self.folder / f))} /etc/{f}" for f in _FILES
        )
        return [*_unshare(), "sh", "-c", f'{mounts} && exec "$@"', "sh"]

    def command(self, *args: str) -> list[str]:
        """``args`` run in the namespace."""
        return [*self.prefix, *args]

    def run(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run(self.command(*args), **kwargs)`` (``check`` defaults to False)."""
        kwargs.setdefault("check", False)
        return subprocess.run(self.command(*args), **kwargs)

    def _check(self) -> None:
        done = self.run(["cat", "/etc/resolv.conf"], capture_output=True, text=True, timeout=30)
        servers = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("nameserver")]
        if done.returncode != 0 or servers != [self.dns.host]:
            raise RuntimeError(f"the private resolver files are not in place: {done.stderr.strip()[-300:]}")
