"""``multifetch fetch``: options, and the run from inputs to the output."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import click

from .._errors import UsageError
from ..engine._policy import Limits, RetryPolicy, Timeouts
from ..engine._ratelimit import parse_bytes_rate
from ..observe._metrics import TOP_HOSTS
from ..outputs._bodies import check_folder
from ..outputs._parts import is_part_output
from ..outputs._warc import check_archive
from ..runners._settings import Settings, TransportOptions
from ..transports._proxies import read_proxy_file
from ._exit import Exit
from ._options import parse_duration, parse_header, parse_host_limit, parse_size, request_body
from ._run import FetchJob, _fields, chosen_fields, run_fetch

EXAMPLES = """
\b
Examples:
  multifetch fetch urls.txt -o results.jsonl
  multifetch fetch urls.txt.gz -c 500 --per-host 32 -o results.db --save-bodies pages/
  cat specs.jsonl | multifetch fetch - --rate 50/s --retries 5 > results.jsonl
  multifetch fetch users.csv --template 'https://api.example.com/users/{id}' -H 'Authorization: Bearer T'
  multifetch fetch urls.txt -o results.jsonl --resume      # after Ctrl-C or a crash

\b
INPUT is a file (one URL or one JSON spec per line; .gz read as gzip; .csv with --template),
'-' for stdin, or a literal http(s) URL. See the README for the record fields and exit statuses.
"""


@click.command(epilog=EXAMPLES)
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("-o", "--output", default=None, metavar="PATH",
              help="Where records go: .jsonl (default: stdout), .csv, .db/.sqlite, .parquet (a folder).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "sqlite", "parquet"]), default=None,
              help="Output format, when the extension does not say.")
@click.option("--part-seconds", default=10.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Parquet output: close a part file (making its records durable) this often.")
@click.option("-c", "--concurrency", default=64, show_default=True, type=click.IntRange(1),
              help="Transfers in flight at once, over all hosts.")
@click.option("--per-host", default=8, show_default=True, type=click.IntRange(1),
              help="Transfers in flight to one host (scheme, name, port).")
@click.option("--host-limit", "host_limits", multiple=True, metavar="HOST=N",
              help="Per-host concurrency for one host (repeatable), e.g. api.example.com=32.")
@click.option("--rate", default=None, metavar="R", help="Requests a second over all hosts: 50/s, 3000/m.")
@click.option("--per-host-rate", default=None, metavar="R", help="Requests a second to each host.")
@click.option("--burst", default=1, show_default=True, type=click.IntRange(1),
              help="Requests that may go back to back before a rate applies.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(0),
              help="Attempts after the first, for 429/5xx answers and transient errors.")
@click.option("--retry-post", is_flag=True, help="Retry POST and PATCH too (not idempotent).")
@click.option("--retry-after-max", default=300.0, show_default=True, type=click.FloatRange(0),
              help="Longest Retry-After (seconds) honoured; longer ones are capped.")
@click.option("--record-retries", is_flag=True, help="Add a 'retries' list to each record.")
@click.option("--timeout", default=None, type=click.FloatRange(0, min_open=True),
              help="Seconds for one whole attempt, redirects included (default 60).")
@click.option("-m", "--max-time", default=None, type=click.FloatRange(0, min_open=True),
              help="The same as --timeout, as curl spells it: seconds each transfer may take.")
@click.option("--connect-timeout", default=10.0, show_default=True,
              type=click.FloatRange(0, min_open=True), help="Seconds to connect (DNS, TCP, TLS).")
@click.option("--deadline", default=None, type=click.FloatRange(0, min_open=True),
              help="Seconds for the whole run; what is left then gets a 'cancelled' record.")
@click.option("-X", "--method", default=None, help="Method for URL lines (default GET; POST with -d).")
@click.option("-H", "--header", "headers", multiple=True, metavar="'Name: value'",
              help="Header for every request (repeatable).")
@click.option("-d", "--data", default=None, metavar="DATA|@FILE",
              help="Body for URL-line requests; @FILE: FILE's content without line breaks (as curl's -d).")
@click.option("--data-binary", default=None, metavar="DATA|@FILE",
              help="Body for URL-line requests; @FILE reads it from FILE byte for byte.")
@click.option("--template", default=None, metavar="T",
              help="URL template filled from CSV columns: 'https://x/users/{id}?q={q}'.")
@click.option("--save-bodies", default=None, metavar="DIR", help="Stream each body to DIR/<id>.")
@click.option("--max-body-size", default=None, metavar="BYTES",
              help="Abort bodies larger than this (e.g. 10M): error kind body_too_large.")
@click.option("--warc", default=None, metavar="FILE.warc.gz",
              help="Also archive every request and answer (raw body) as WARC/1.1 records (needs "
                   "multifetch[warc]).")
@click.option("--warc-max-size", default=None, metavar="BYTES",
              help="Start a new WARC file (FILE-00001.warc.gz, ...) past this size, e.g. 1G.")
@click.option("--include-headers", is_flag=True, help="Add the response headers to each record.")
@click.option("--fields", default=None, metavar="A,B,...", help="Record fields to write, in order.")
@click.option("--dedup", is_flag=True, help="Drop repeated (method, URL, body) specs; they get no record.")
@click.option("--resume", is_flag=True, help="Continue the output: skip ids it already holds.")
@click.option("--retry-failed", is_flag=True, help="With --resume, fetch again ids whose record is an error.")
@click.option("--force", is_flag=True, help="With --resume, accept other inputs or options.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output instead of refusing.")
@click.option("--grace", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Seconds in-flight transfers get to finish after Ctrl-C or SIGTERM.")
@click.option("--http1.1", "http_version", flag_value="1.1", help="Use HTTP/1.1 only.")
@click.option("--http2", "http_version", flag_value="2", help="Prefer HTTP/2 (the default over TLS).")
@click.option("--http3", "http_version", flag_value="3", help="Try HTTP/3 (QUIC), as libcurl does.")
@click.option("-L", "--location/--no-location", "follow_redirects", default=True, show_default=True,
              help="Follow redirects (curl's -L; on unless --no-location).")
@click.option("--max-redirs", "max_redirects", default=10, show_default=True, type=click.IntRange(0),
              help="Redirects followed at most; one more is an error (too_many_redirects).")
@click.option("--limit-rate", default=None, metavar="SPEED",
              help="Bytes a second each transfer may move, as curl's --limit-rate (100K, 1M).")
@click.option("-x", "--proxy", default=None, metavar="URL",
              help="Proxy for every request: http://, https://, socks5://, socks5h:// (default: the "
                   "http_proxy / https_proxy / no_proxy environment).")
@click.option("--proxy-file", default=None, metavar="FILE",
              help="A pool of proxies, one URL a line (http://, https://, socks5://, socks5h://): each "
                   "attempt goes through one; a failing proxy is rested and its requests moved to another.")
@click.option("--proxy-rotation", type=click.Choice(["request", "host"]), default="request",
              show_default=True,
              help="With --proxy-file: the next proxy for each request, or one proxy per host.")
@click.option("-u", "--user", default=None, metavar="USER:PASSWORD", help="Credentials for HTTP auth.")
@click.option("--auth-type", type=click.Choice(["basic", "digest", "any"]), default="basic",
              show_default=True, help="HTTP auth scheme for --user.")
@click.option("--cookies", default=None, metavar="FILE",
              help="Cookie jar (Netscape format): read at start, shared by all transfers, saved at the end.")
@click.option("--cert", default=None, metavar="FILE", help="Client certificate (PEM) for TLS.")
@click.option("--key", default=None, metavar="FILE", help="Private key of --cert, when not in the same file.")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:PORT:ADDR",
              help="Use ADDR for HOST:PORT instead of DNS (repeatable), as curl's --resolve.")
@click.option("--doh-url", default=None, metavar="URL", help="Resolve names with this DNS-over-HTTPS server.")
@click.option("--deny-private", is_flag=True,
              help="Refuse to connect to loopback, private, link-local, multicast and reserved addresses "
                   "(every hop, after DNS): for untrusted input.")
@click.option("--secret-param", "secret_params", multiple=True, metavar="NAME",
              help="Query parameter whose value is masked in records and messages (repeatable).")
@click.option("--secret-header", "secret_headers", multiple=True, metavar="NAME",
              help="A header (like X-Api-Key) that, as Authorization and Cookie, never follows a redirect "
                   "to another origin (repeatable).")
@click.option("-k", "--insecure", is_flag=True,
              help="Do not verify TLS certificates (reported in the summary).")
@click.option("--cacert", default=None, metavar="FILE", help="CA bundle to verify servers with.")
@click.option("-A", "--user-agent", default=None, help="User-Agent header (default multifetch/VERSION).")
@click.option("--robots", is_flag=True,
              help="Obey each host's robots.txt (fetched first, once a day at most): disallowed URLs get "
                   "a 'robots_disallowed' record and no request; Crawl-delay paces the host.")
@click.option("--since", default=None, metavar="PREVIOUS",
              help="A previous run's output (.jsonl, .csv, .db, .parquet): requests with the same id and "
                   "URL are sent with If-None-Match / If-Modified-Since; a 304 keeps the previous sha256, "
                   "size and body_path and says unchanged: true.")
@click.option("--engine", type=click.Choice(["curl", "requests"]), default="curl", show_default=True,
              help="The transport: libcurl (fast) or a thread pool of requests sessions.")
@click.option("-P", "--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Engine processes: each drives its own libcurl with a share of the limits "
                   "(use up to one per core; see the README's scaling notes).")
@click.option("--cluster", default=None, metavar="ADDR",
              help="Run on Dask: local:N (N worker processes here) or a scheduler address (tcp://host:8786). "
                   "With -o FOLDER/ the workers read the inputs and write the records as parts.")
@click.option("--part-size", default=2000, show_default=True, type=click.IntRange(1), metavar="N",
              help="With --cluster and a part folder: inputs a part holds at most.")
@click.option("--split-host", "split_hosts", multiple=True, metavar="HOST[=K]",
              help="With --cluster and a part folder: serve HOST from K lanes (default: one a worker), "
                   "its per-host limits divided among them (repeatable).")
@click.option("-q", "-s", "--quiet", "--silent", "quiet", is_flag=True, help="No progress and no summary.")
@click.option("--progress/--no-progress", default=None,
              help="Show progress or not (default: a live display on a terminal; otherwise a plain "
                   "status line every 30s).")
@click.option("--log-every", default=None, metavar="DURATION",
              help="A plain status line this often (30s, 5m), on a terminal too (instead of the live "
                   "display).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve Prometheus metrics on PORT while the run goes (0: any free port, said on "
                   "stderr); needs multifetch[metrics].")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, metavar="ADDR",
              help="The address the metrics server listens on (0.0.0.0: every interface).")
@click.option("--metrics-hosts", default=TOP_HOSTS, show_default=True, type=click.IntRange(0), metavar="N",
              help="Per-host metrics for the N hosts with most requests.")
@click.option("--summary-json", default=None, metavar="PATH", help="Write the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log each retry decision and slow-down.")
def fetch(inputs: tuple[str, ...], **options: Any) -> None:
    """Fetch every INPUT concurrently and write one record per input."""
    # The run makes no reference cycles worth collecting often, and thousands of transfers in
    # flight make each collection long: collect less often (measured: 3 % at 5,000 connections).
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    if not inputs:
        raise UsageError("no INPUT: give a file, '-' for stdin, or a URL (see --help)")
    if options["retry_failed"] and not options["resume"]:
        raise UsageError("--retry-failed goes with --resume")
    headers = tuple(parse_header(h) for h in options["headers"])
    # before anything is written:
    settings = _settings(options)
    _check_output(options["output"], options["fmt"], options["cluster"])
    if options["split_hosts"] and not _writes_parts(options):
        raise UsageError("--split-host goes with --cluster and a part folder (-o FOLDER/)")
    if options["summary_json"]:
        _check_summary_json(options["summary_json"])
    if options["save_bodies"]:
        check_folder(options["save_bodies"])
    if options["warc"]:
        check_archive(options["warc"], resume=options["resume"], overwrite=options["overwrite"])
    job = FetchJob(
        inputs=inputs,
        output=options["output"],
        fmt=options["fmt"],
        settings=settings,
        cluster=options["cluster"],
        method=options["method"].upper() if options["method"] else None,
        headers=headers,
        data=request_body(options["data"], options["data_binary"], inputs),
        template=options["template"],
        include_headers=options["include_headers"],
        fields=options["fields"],
        resume=options["resume"],
        dedup=options["dedup"],
        retry_failed=options["retry_failed"],
        force=options["force"],
        overwrite=options["overwrite"],
        part_seconds=options["part_seconds"],
        grace=options["grace"],
        quiet=options["quiet"],
        progress=options["progress"],
        log_every=parse_duration(options["log_every"], "--log-every"),
        metrics_port=options["metrics_port"],
        metrics_host=options["metrics_host"],
        metrics_hosts=options["metrics_hosts"],
        summary_json=options["summary_json"],
        verbose=options["verbose"],
        insecure=options["insecure"],
    )
    job.secret_params = options["secret_params"]
    job.split_hosts = options["split_hosts"]
    job.part_size = options["part_size"]
    if job.cluster is not None and is_part_output(job.output, job.fmt):
        status = _run_parts(job)  # the workers read the inputs and write the records
    else:
        status = run_fetch(job)
    if status != Exit.OK:
        raise SystemExit(int(status))


def _run_parts(job: FetchJob) -> Exit:
    from ._fetch_parts import run_parts  # a cluster's inputs and plans: imported by its runs only

    return run_parts(job, _fields(job))


def _writes_parts(options: dict[str, Any]) -> bool:
    """Whether the workers write the records: a cluster run into a part folder."""
    return bool(options["cluster"]) and is_part_output(options["output"], options["fmt"])


#: Output extensions whose format is known; others need --format.
_EXTENSIONS = (".jsonl", ".ndjson", ".json", ".csv", ".db", ".sqlite", ".sqlite3", ".parquet")


def _check_output(output: str | None, fmt: str | None, cluster: str | None) -> None:
    if output is None or output == "-":
        return
    if cluster is not None and is_part_output(output, fmt):
        return  # a part folder: its format is checked by run_parts
    suffix = Path(output).suffix.lower()
    parquet = fmt == "parquet" or (fmt is None and suffix == ".parquet")
    if not parquet and is_part_output(output, fmt):
        raise UsageError(f"-o {output}: is a folder; give a file (a folder of parts is written by a "
                         "cluster run: --cluster)")
    if os.path.isdir(output) and not parquet:
        raise UsageError(f"-o {output}: is a folder; give a file (or a .parquet folder)")
    if fmt is None and suffix and suffix not in _EXTENSIONS:
        raise UsageError(f"-o {output}: unknown extension {suffix!r}: use .jsonl, .csv, .db or .parquet, "
                         "or say which format with --format jsonl|csv|sqlite|parquet")


def _check_summary_json(path: str) -> None:
    """Written at the end of the run: a path that cannot be is said before the run, not after it."""
    if os.path.isdir(path):
        raise UsageError(f"--summary-json {path}: is a folder; give a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"--summary-json {path}: no folder {folder}")


def _settings(options: dict[str, Any]) -> Settings:
    """The run's settings from the flags (a refused one is reported by its flag: ``_group``)."""
    return Settings(
        limits=Limits(
            concurrency=options["concurrency"],
            per_host=options["per_host"],
            host_limits=dict(parse_host_limit(h) for h in options["host_limits"]),
            rate=options["rate"],
            per_host_rate=options["per_host_rate"],
            burst=options["burst"],
        ),
        timeouts=Timeouts(connect=options["connect_timeout"], total=_attempt_timeout(options)),
        retry=RetryPolicy(
            retries=options["retries"],
            retry_non_idempotent=options["retry_post"],
            retry_after_max=options["retry_after_max"],
        ),
        transport=_transport_options(options),
        bodies=options["save_bodies"] or "hash",
        deadline=options["deadline"],
        robots=options["robots"],
        since=options["since"],
        record_retries=options["record_retries"],
        processes=options["processes"],
        warc=options["warc"],
        warc_max_size=parse_size(options["warc_max_size"]),
    )


def _transport_options(options: dict[str, Any]) -> TransportOptions:
    if options["key"] and not options["cert"]:
        raise UsageError("--key goes with --cert")
    auth = None
    if options["user"] is not None:
        user, sep, password = options["user"].partition(":")
        if not sep:
            raise UsageError("--user takes USER:PASSWORD")
        auth = (user, password, options["auth_type"])
    return TransportOptions(
        engine=options["engine"],
        max_body_size=parse_size(options["max_body_size"]),
        verify=not options["insecure"],
        cafile=options["cacert"],
        http_version=options["http_version"],
        user_agent=options["user_agent"],
        resolve=tuple(options["resolve"]),
        doh_url=options["doh_url"],
        proxy=options["proxy"],
        proxies=read_proxy_file(options["proxy_file"]) if options["proxy_file"] else (),
        proxy_rotation=options["proxy_rotation"],
        auth=auth,
        cookies=options["cookies"],
        client_cert=(options["cert"], options["key"]) if options["cert"] else None,
        deny_private=options["deny_private"],
        secret_headers=tuple(options["secret_headers"]),
        follow_redirects=options["follow_redirects"],
        max_redirects=options["max_redirects"],
        limit_rate=parse_bytes_rate(options["limit_rate"]),
        answer_details="timings" in chosen_fields(options["fields"] or ""),
    )


def _attempt_timeout(options: dict[str, Any]) -> float:
    """``--timeout`` or curl's ``-m/--max-time``: one setting under two names, given once."""
    timeout, max_time = options["timeout"], options["max_time"]
    if timeout is not None and max_time is not None and timeout != max_time:
        raise UsageError("--timeout and -m/--max-time are one setting (seconds for one attempt): give one")
    return timeout or max_time or 60.0
