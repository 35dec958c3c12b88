"""curl's habits: the short flags curl users type, and the options they expect to find.

``-k -L/--no-location -s -A -x -m``, ``--deadline`` (the whole run, which ``--max-time`` used
to be: ``-m/--max-time`` now means what curl means, one transfer), ``-d @file`` and
``--data-binary @file``, ``--limit-rate`` and ``--max-redirs``; each through the real CLI
against the target server, and the API arguments beside them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import multifetch
from multifetch.testing import TargetServer

from helpers import jsonl, mf


def fetch(*args: str, tmp_path: Path) -> tuple[list[dict], str]:
    out = tmp_path / "out.jsonl"
    out.unlink(missing_ok=True)
    proc = mf("fetch", *args, "-o", str(out), "--overwrite")
    assert proc.returncode in (0, 1), proc.stderr
    return jsonl(out), proc.stderr.decode()


def saved(tmp_path: Path) -> dict:
    (path,) = [p for p in (tmp_path / "bodies").iterdir()]
    return json.loads(path.read_bytes())


def test_k_skips_certificate_checks(tls_target: TargetServer, tmp_path: Path) -> None:
    (strict,), _ = fetch(f"{tls_target.url}/bytes/10", "-q", "--retries", "0", tmp_path=tmp_path)
    assert strict["error"]["kind"] == "tls"
    (loose,), _ = fetch(f"{tls_target.url}/bytes/10", "-q", "-k", tmp_path=tmp_path)
    assert loose["status"] == 200


def test_redirects_are_followed_unless_no_location_and_max_redirs_bounds_them(
        target: TargetServer, tmp_path: Path) -> None:
    url = f"{target.url}/redirect/3"
    (followed,), _ = fetch(url, "-q", "-L", tmp_path=tmp_path)
    assert followed["status"] == 200 and followed["final_url"].endswith("/redirect/0")
    (kept,), _ = fetch(url, "-q", "--no-location", tmp_path=tmp_path)
    assert kept["status"] == 302 and kept["final_url"] == url
    (bounded,), _ = fetch(url, "-q", "--max-redirs", "2", "--retries", "0", tmp_path=tmp_path)
    assert bounded["error"]["kind"] == "too_many_redirects"
    (enough,), _ = fetch(url, "-q", "--max-redirs", "3", tmp_path=tmp_path)
    assert enough["status"] == 200
    for options in ({"follow_redirects": False}, {"follow_redirects": False, "transport": "requests"}):
        (result,) = multifetch.fetch([url], **options)
        assert result.status == 302, options
    (result,) = multifetch.fetch([url], max_redirects=1, retries=0)
    assert result.error is not None and result.error.kind == "too_many_redirects"


def test_s_is_silent_and_A_sets_the_user_agent(target: TargetServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", f"{target.url}/headers", "-s", "-A", "crawler/2.0 (+https://example.org/bot)",
              "--save-bodies", str(tmp_path / "bodies"), "-o", str(out))
    assert proc.returncode == 0 and proc.stderr == b""
    assert saved(tmp_path)["headers"]["user-agent"] == "crawler/2.0 (+https://example.org/bot)"


def test_x_sends_through_a_proxy(fresh_target: TargetServer, target2: TargetServer, tmp_path: Path) -> None:
    (record,), _ = fetch(f"{target2.url}/bytes/5", "-q", "-x", fresh_target.url, tmp_path=tmp_path)
    assert record["status"] == 200
    assert fresh_target.stats.counters["proxied"] == 1


def test_m_bounds_each_transfer_and_deadline_the_whole_run(target: TargetServer, tmp_path: Path) -> None:
    started = time.monotonic()
    (slow,), _ = fetch(f"{target.url}/delay/3", "-q", "-m", "0.5", "--retries", "0", tmp_path=tmp_path)
    assert slow["error"]["kind"] == "timeout" and time.monotonic() - started < 2.9
    urls = [f"{target.url}/delay/0.4?n={i}" for i in range(12)]
    records, _ = fetch(*urls, "-q", "-c", "1", "--deadline", "1", tmp_path=tmp_path)
    kinds = [r["error"]["kind"] for r in records if r["error"]]
    assert len(records) == 12 and kinds and set(kinds) == {"cancelled"}
    assert "--deadline passed" in next(r["error"]["message"] for r in records if r["error"])


def test_timeout_and_max_time_are_one_setting(target: TargetServer) -> None:
    proc = mf("fetch", f"{target.url}/bytes/1", "--timeout", "5", "-m", "6", "-q")
    assert proc.returncode == 2 and b"--timeout and -m/--max-time are one setting" in proc.stderr
    assert mf("fetch", f"{target.url}/bytes/1", "--timeout", "5", "-m", "5", "-q").returncode == 0
    with pytest.raises(multifetch.UsageError, match="is now deadline"):
        multifetch.Client(max_time=5)


@pytest.mark.parametrize(("flag", "expected"), [
    ("-d", "a=1&b=2binary\x00tail"),  # curl's -d @file: line breaks dropped
    ("--data-binary", "a=1&b=2\r\nbinary\x00\ntail"),  # byte for byte
])
def test_a_body_from_a_file(target: TargetServer, tmp_path: Path, flag: str, expected: str) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"a=1&b=2\r\nbinary\x00\ntail")
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", f"{target.url}/echo", flag, f"@{body}", "--save-bodies", str(tmp_path / "bodies"),
              "-o", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    echoed = saved(tmp_path)
    assert echoed["method"] == "POST" and echoed["body"] == expected
    literal = mf("fetch", f"{target.url}/echo", "--data-binary", "x=1", "-o", str(tmp_path / "b.jsonl"), "-q")
    assert literal.returncode == 0


def test_body_file_mistakes_are_one_line_errors(target: TargetServer, tmp_path: Path) -> None:
    missing = mf("fetch", f"{target.url}/echo", "-d", f"@{tmp_path / 'nope'}", "-q")
    assert missing.returncode == 2 and missing.stderr.startswith(b"multifetch: error: -d @")
    both = mf("fetch", f"{target.url}/echo", "-d", "a", "--data-binary", "b", "-q")
    assert both.returncode == 2 and b"not both" in both.stderr
    stdin_twice = mf("fetch", "-", "-d", "@-", "-q", stdin=f"{target.url}/echo\n".encode())
    assert stdin_twice.returncode == 2 and b"stdin is read as an input already" in stdin_twice.stderr


def test_limit_rate_caps_each_transfer(target: TargetServer, tmp_path: Path) -> None:
    url = f"{target.url}/large/{96 * 1024}"
    started = time.monotonic()
    (record,), _ = fetch(url, "-q", "--limit-rate", "32K", tmp_path=tmp_path)
    took = time.monotonic() - started
    assert record["status"] == 200 and record["size"] == 96 * 1024
    assert record["elapsed"] >= 2.0 and took >= 2.0  # 96 KiB at 32 KiB a second: about 3 s
    (fast,) = multifetch.fetch([url], bodies="hash")
    assert fast.elapsed < 1.0
    bad = mf("fetch", url, "--limit-rate", "fast", "-q")
    assert bad.returncode == 2 and b"bad transfer rate" in bad.stderr
    refused = mf("fetch", url, "--limit-rate", "1M", "--engine", "requests", "-q")
    assert refused.returncode == 2 and b"--limit-rate" in refused.stderr


def test_final_url_is_where_libcurl_says_the_transfer_ended(target: TargetServer) -> None:
    """A URL libcurl writes out otherwise (an upper-case scheme, credentials, no path, dot
    segments, an IPv4 address as one number) has that form as its final URL, as curl's
    ``%{url_effective}`` does; any other is its final URL as written, query and fragment too."""
    import pycurl

    port = target.url.rsplit(":", 1)[1]
    urls = [f"{target.url}/bytes/10", f"{target.url}/bytes/10?q=/./a%2e#/../x", f"{target.url}//bytes/10;p",
            f"{target.url}/./bytes/10", f"{target.url}/a/%2E%2e/bytes/10", f"{target.url}/bytes/10/.",
            f"HTTP://127.0.0.1:{port}/bytes/10", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}?a=1",
            f"http://user:secret@127.0.0.1:{port}/bytes/10", f"http://2130706433:{port}/bytes/10"]

    def libcurls(url: str) -> str:
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.WRITEFUNCTION, lambda chunk: None)
        handle.perform()
        said = handle.getinfo_raw(pycurl.EFFECTIVE_URL).decode()
        handle.close()
        return said

    got = {r.url: r for r in multifetch.fetch(urls, retries=0)}
    for url in urls:
        assert got[url].error is None, (url, got[url].error)
        assert got[url].final_url == libcurls(url), url
