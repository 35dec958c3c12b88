"""The run behind ``multifetch fetch``: inputs → client → sink, with resume, signals and summary."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .._client import Client
from .._errors import UsageError
from ..engine._job import Job
from ..engine._result import Result
from ..inputs._dedup import Dedup
from ..inputs._sources import InputError, RequestDefaults, check_sources, never_blocks, read_inputs
from ..inputs._spec import InvalidSpec, Request
from ..observe._metrics import TOP_HOSTS
from ..outputs._file import is_stream
from ..outputs._formats import format_for
from ..outputs._resume import (
    Resume,
    check_fingerprint,
    fingerprint,
    open_resume,
    sidecar_path,
    write_fingerprint,
)
from ..outputs._sinks import OPTIONAL_FIELDS, RECORD_FIELDS, Sink, holds_records, open_sink, remove_output
from ..report._earlier import EarlierRecords
from ..report._summary import SummaryBuilder
from ..runners._record_maker import RecordMaker
from ..runners._run import Run
from ..runners._settings import Settings
from ._exit import CLIError, Exit
from ._observe import Observers
from ._options import fingerprint_data
from ._signals import Signals
from ._terminal import echo_note


@dataclass
class FetchJob:
    inputs: tuple[str, ...]
    output: str | None
    fmt: str | None
    settings: Settings
    cluster: str | None = None
    method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    data: str | bytes | None = None
    template: str | None = None
    include_headers: bool = False
    fields: str | None = None
    resume: bool = False
    dedup: bool = False
    retry_failed: bool = False
    force: bool = False
    overwrite: bool = False
    part_seconds: float | None = None
    grace: float = 5.0
    quiet: bool = False
    progress: bool | None = None
    log_every: float | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_hosts: int = TOP_HOSTS
    summary_json: str | None = None
    verbose: bool = False
    insecure: bool = False
    secret_params: tuple[str, ...] = ()
    split_hosts: tuple[str, ...] = ()
    part_size: int = 2000


def chosen_fields(text: str) -> tuple[str, ...]:
    """The field names ``--fields`` lists."""
    return tuple(f.strip() for f in text.split(",") if f.strip())


def _fields(job: FetchJob) -> tuple[str, ...]:
    extra = []
    if job.include_headers:
        extra.append("headers")
    if job.settings.record_retries:
        extra.append("retries")
    if job.settings.since is not None:
        extra.append("unchanged")
    if job.settings.transport.proxies:
        extra.append("proxy")
    if job.fields is None:
        return RECORD_FIELDS + tuple(extra)
    chosen = chosen_fields(job.fields)
    known = RECORD_FIELDS + OPTIONAL_FIELDS
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        raise UsageError(f"unknown field(s) {', '.join(unknown)}: choose from {', '.join(known)}")
    if "id" not in chosen:
        raise UsageError("--fields must include id (the record's key)")
    return chosen


def run_fetch(job: FetchJob) -> Exit:
    if job.verbose:
        logging.basicConfig(level=logging.INFO, format="multifetch: %(message)s", stream=sys.stderr)
    check_sources(job.inputs)
    _check_since(job)
    fmt = format_for(job.output, job.fmt)
    fields = _fields(job)
    to_file = job.output not in (None, "-")
    if to_file and is_stream(str(job.output)):
        _check_stream_output(job, fmt)
        to_file = False  # written as stdout is: no resume, nothing beside it
    settings = job.settings
    if job.cluster is None:
        settings, note = settings.fitted()
        if note:
            echo_note(note)
    # before the output is opened: a metrics port in use is said before anything is written (on an
    # error from here on the process ends, and the server's thread with it)
    observers = Observers(job.metrics_port, job.metrics_host, job.metrics_hosts)
    earlier = EarlierRecords()
    sink, resume = _open_output(job, fmt, fields, to_file, earlier.add)
    client = Client.from_settings(settings, cluster=job.cluster)
    defaults = RequestDefaults(method=job.method, headers=job.headers, data=job.data)
    items: Iterator[Request | InvalidSpec] = read_inputs(job.inputs, defaults=defaults, template=job.template)
    dedup = None
    if job.dedup:
        dedup = Dedup(folder=os.path.dirname(os.path.abspath(str(job.output))) if to_file else None)
        items = dedup.filter(items)
    folder = os.path.dirname(os.path.abspath(str(job.output))) if to_file else None
    run = client.start(items, skip=None if resume is None else resume.skip, spill_folder=folder,
                       read_ahead=not never_blocks(job.inputs))
    archive = getattr(run, "archive", None)
    if archive is not None and hasattr(sink, "before_durable"):
        sink.before_durable(archive.flush)  # a record is never durable before its WARC records
    for announcement in (run.announcement(), observers.announcement()):
        if announcement and not job.quiet:
            echo_note(announcement)
    try:
        return _drive(job, run, client, sink, resume, fields, dedup, observers, earlier)
    finally:
        observers.close()
        if dedup is not None:
            dedup.close()


def _check_since(job: FetchJob) -> None:
    """The previous output is read as the run starts: it cannot be the output this run writes."""
    since = job.settings.since
    if since is None or job.output in (None, "-"):
        return
    output = str(job.output)
    if os.path.abspath(since) == os.path.abspath(output) or (
            os.path.exists(output) and os.path.samefile(since, output)):
        raise UsageError(f"--since {since}: is the output of this run too; write to another file "
                         "(the previous output is read, never changed)")


def _open_output(
    job: FetchJob, fmt: str, fields: tuple[str, ...], to_file: bool,
    earlier: Callable[[dict[str, Any]], None],
) -> tuple[Sink, Resume | None]:
    """The output's sink, and the resume of what it holds (with ``--resume``; ``earlier`` gets
    each record that stays); its fingerprint (the inputs and options that make its records)
    written beside it."""
    key_options = {"method": job.method, "headers": [list(h) for h in job.headers],
                   "data": fingerprint_data(job.data),
                   "template": job.template, "fields": list(fields), "format": fmt}
    print_ = fingerprint(job.inputs, key_options)
    resume: Resume | None = None
    write_path = job.output
    append = False
    if job.resume:
        if not to_file:
            raise UsageError("--resume needs an output (-o results.jsonl, results.db or results.parquet)")
        assert job.output is not None
        if os.path.exists(job.output):
            check_fingerprint(job.output, print_, job.force)
        try:
            resume = open_resume(job.output, fmt, retry_failed=job.retry_failed, on_record=earlier)
        except OSError as exc:
            raise CLIError(f"cannot resume {job.output}: {_reason(exc)}", Exit.OUTPUT) from None
        write_path = resume.write_path
        append = True
    elif to_file and holds_records(str(job.output)):
        if not job.overwrite:
            raise UsageError(f"{job.output} exists: add --resume to continue it, or --overwrite")
        remove_output(str(job.output))
    try:
        sink = open_sink(write_path, fmt, fields, append=append, part_seconds=job.part_seconds)
    except OSError as exc:
        raise CLIError(f"cannot open {job.output}: {_reason(exc)}", Exit.OUTPUT) from None
    if to_file:
        assert job.output is not None
        try:
            write_fingerprint(job.output, print_)
        except OSError as exc:
            _close_quietly(sink)
            raise CLIError(f"cannot write {sidecar_path(job.output)}: {_reason(exc)}", Exit.OUTPUT) from None
    return sink, resume


def _check_stream_output(job: FetchJob, fmt: str) -> None:
    """An output that is not a regular file (a device, pipe or FIFO) takes records as stdout does."""
    if job.resume:
        raise UsageError(f"--resume needs a regular file as output; {job.output} is not one")
    if fmt in ("sqlite", "parquet"):
        raise UsageError(f"a {'SQLite' if fmt == 'sqlite' else 'Parquet'} output needs a regular "
                         f"file or folder; {job.output} is not one")
    if not job.quiet:
        echo_note(f"{job.output} is not a regular file: records are written to it, without --resume")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _close_quietly(sink: Sink) -> None:
    try:
        sink.close()
    except OSError:
        pass  # the error being reported is the first one


@dataclass
class _Ending:
    """How the run ends: its exit status, the error to report, and how many records were made
    (``sink.durable`` of them are kept by the output)."""

    status: Exit = Exit.OK
    failure: str | None = None
    fetched: int = 0


def _drive(
    job: FetchJob,
    run: Run,
    client: Client,
    sink: Sink,
    resume: Resume | None,
    fields: tuple[str, ...],
    dedup: Dedup | None,
    observers: Observers,
    earlier: EarlierRecords,
) -> Exit:
    from ._display import print_summary

    # Records are counted in ``pending`` until the output says they are durable; then they move to
    # ``summary``. When the output fails, the summary holds exactly the records the output kept.
    # A resumed output's earlier records count too: the summary is the whole job's.
    summary = SummaryBuilder()
    summary.absorb(earlier.summary)
    pending = SummaryBuilder()
    sink.when_durable(lambda: summary.absorb(pending))
    started = time.monotonic()
    ending = _Ending()
    output_name = job.output or "stdout"
    observers.start(run, job.inputs, earlier=earlier.count, quiet=job.quiet, forced=job.progress,
                    log_every=job.log_every)
    with Signals(run, job.grace) as signals:
        outcomes = run.outcomes()
        try:
            _write_records(job, outcomes, sink, fields, observers.counting(pending.add), ending)
        except InputError as exc:
            ending.failure, ending.status = str(exc), Exit.INPUT
        finally:
            outcomes.close()
            observers.stop(run)
            _close_output(sink, resume, output_name, ending)
            client.close()
    interrupted = signals.received
    if interrupted is not None:
        ending.status = Exit.SIGINT if interrupted == signal.SIGINT else Exit.SIGTERM
    not_written = ending.fetched - sink.durable
    extra = {"exit_status": int(ending.status), "insecure": job.insecure,
             "interrupted": interrupted is not None, "unfinished_in_flight": run.unfinished,
             "duplicates_dropped": 0 if dedup is None else dedup.dropped, "not_written": not_written}
    figures = earlier.whole_job(summary.summary(time.monotonic() - started, extra), sink.durable)
    if job.summary_json:
        _write_summary_json(job.summary_json, figures, ending)
    if not job.quiet:
        print_summary(figures)
    if ending.failure:
        echo_note(f"error: {ending.failure}")
    if not_written:
        echo_note(f"{not_written} records were fetched but could not be written to {output_name}")
    if interrupted is not None or ending.status in (Exit.OUTPUT, Exit.INPUT):
        _say_how_to_resume(job, sink.durable)
    return ending.status


def _write_records(
    job: FetchJob,
    outcomes: Iterator[Job | Result],
    sink: Sink,
    fields: tuple[str, ...],
    add: Callable[[dict[str, Any]], None],
    ending: _Ending,
) -> None:
    """A record for each outcome: counted by ``add``, then written; the first write error ends it."""
    make = RecordMaker(fields, job.secret_params).record
    status = ending.status
    fetched = 0
    try:
        for outcome in outcomes:
            record = make(outcome)
            error = record["error"]
            # counted first: a write that makes the output durable moves this record too
            add(record)
            if error is not None and status == Exit.OK:
                status = Exit.SOME_FAILED
            fetched += 1
            try:
                sink.write(record)
            except OSError as exc:
                ending.failure = f"cannot write {job.output or 'stdout'}: {_reason(exc)}"
                status = Exit.OUTPUT
                break
    finally:
        ending.status = status
        ending.fetched = fetched


def _close_output(sink: Sink, resume: Resume | None, output_name: str,
                  ending: _Ending) -> None:
    """Close the output (and finish the resume) after the last record; a failure ends the run."""
    try:
        sink.close()
    except OSError as exc:
        ending.failure = f"cannot write {output_name}: {_reason(exc)}"
        ending.status = Exit.OUTPUT
    if resume is not None and ending.status != Exit.OUTPUT:
        try:
            resume.finish()
        except OSError as exc:
            ending.failure = f"cannot write {output_name}: {_reason(exc)}"
            ending.status = Exit.OUTPUT


def _write_summary_json(path: str, figures: dict[str, Any], ending: _Ending) -> None:
    import json

    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
    except OSError as exc:
        ending.failure = ending.failure or f"cannot write {path}: {_reason(exc)}"
        if ending.status in (Exit.OK, Exit.SOME_FAILED):
            ending.status = Exit.OUTPUT


def _say_how_to_resume(job: FetchJob, written: int) -> None:
    if job.output in (None, "-"):
        echo_note(f"stopped after {written} records; write to a file (-o) to be able to --resume")
        return
    args = sys.argv[1:]
    if "--resume" not in args:
        args = [*args, "--resume"]
    echo_note(f"stopped after {written} records; the rest is not done. Finish with:\n"
          f"  multifetch {shlex.join(args)}")
