"""Transport options: proxies, auth, cookie jars, resolve overrides, user agent."""

from __future__ import annotations

from pathlib import Path

import multifetch
from multifetch.testing import TargetServer

from helpers import jsonl, mf


def test_proxy_option(fresh_target: TargetServer) -> None:
    # the origin name does not resolve anywhere: only the proxy can answer it
    (result,) = multifetch.fetch(["http://origin.invalid/item/p"], proxy=fresh_target.url, retries=0)
    assert result.status_code == 200 and result.content.startswith(b"item p")
    assert fresh_target.stats.counters["proxied"] == 1


def test_proxy_from_the_environment(fresh_target: TargetServer) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "http_proxy": fresh_target.url, "no_proxy": ""}
    proc = subprocess.run([sys.executable, "-m", "multifetch", "fetch", "http://origin.invalid/item/e", "-q"],
                          env=env, capture_output=True, timeout=60, check=False)
    (record,) = jsonl(proc.stdout)
    assert record["status"] == 200
    assert fresh_target.stats.counters["proxied"] == 1


def test_basic_auth(target: TargetServer) -> None:
    url = f"{target.url}/basic-auth?user=ann&pw=secret"
    proc = mf("fetch", url, "-u", "ann:secret", "-q")
    assert jsonl(proc.stdout)[0]["status"] == 200
    assert jsonl(mf("fetch", url, "-u", "ann:wrong", "-q").stdout)[0]["status"] == 401
    assert mf("fetch", url, "-u", "nocolon").returncode == 2


def test_cookie_jar_is_read_shared_and_saved(target: TargetServer, tmp_path: Path) -> None:
    jar = tmp_path / "cookies.txt"
    host = "127.0.0.1"
    jar.write_text(f"{host}\tFALSE\t/\tFALSE\t0\tpreset\tyes\n")
    src = tmp_path / "in.txt"
    src.write_text(f"{target.url}/set-cookie?name=fresh&value=v1\n")
    assert mf("fetch", str(src), "--cookies", str(jar), "-q").returncode == 0
    saved = jar.read_text()
    assert "fresh\tv1" in saved and "preset\tyes" in saved
    (record,) = jsonl(mf("fetch", f"{target.url}/headers", "--cookies", str(jar), "-q").stdout)
    assert record["status"] == 200


def test_cookies_reach_the_server(target: TargetServer, tmp_path: Path) -> None:
    jar = tmp_path / "jar.txt"
    jar.write_text("127.0.0.1\tFALSE\t/\tFALSE\t0\tflavour\toat\n")
    with multifetch.Client(cookies=str(jar)) as client:
        seen = client.get(target.url + "/headers").json()["headers"]
    assert "flavour=oat" in seen.get("cookie", "")


def test_resolve_override_and_user_agent(target: TargetServer) -> None:
    proc = mf("fetch", f"http://made-up.example:{target.port}/headers", "--resolve",
              f"made-up.example:{target.port}:127.0.0.1", "--user-agent", "probe/1", "-q")
    (record,) = jsonl(proc.stdout)
    assert record["status"] == 200


def test_curl_only_options_refused_with_requests_engine(target: TargetServer) -> None:
    proc = mf("fetch", target.url, "--engine", "requests", "--proxy", "http://127.0.0.1:1")
    assert proc.returncode == 2 and b"--proxy" in proc.stderr


def test_socks5_proxy(target: TargetServer) -> None:
    from multifetch.testing import Socks5Proxy

    with Socks5Proxy() as proxy:
        (result,) = multifetch.fetch([f"http://origin.test:{target.port}/item/s"], proxy=proxy.url, retries=0)
    assert result.status_code == 200 and result.content.startswith(b"item s")
    assert proxy.connects == 1


def test_digest_auth(target: TargetServer) -> None:
    url = f"{target.url}/digest-auth?user=dan&pw=pass"
    ok = jsonl(mf("fetch", url, "-u", "dan:pass", "--auth-type", "digest", "-q").stdout)[0]
    bad = jsonl(mf("fetch", url, "-u", "dan:nope", "--auth-type", "digest", "-q").stdout)[0]
    assert ok["status"] == 200 and bad["status"] == 401
