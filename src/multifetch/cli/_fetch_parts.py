"""``multifetch fetch --cluster ADDR -o FOLDER/``: the workers read the inputs and write the parts.

The command's side of ``runners/_cluster_parts``: the part folder made or continued (``--resume``),
its manifest, progress and the summary from the parts' summaries, signals, exit statuses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from .._errors import UsageError
from ..inputs._sources import RequestDefaults
from ..observe._figures import JobProgress
from ..outputs._parts import PartFolder
from ..outputs._resume import ResumeMismatch, _identity
from ..runners._cluster_input import InputFile, list_inputs
from ..runners._cluster_plan import LanePlan, parse_split_host
from ..runners._record_maker import RecordMaker
from ._exit import CLIError, Exit
from ._options import fingerprint_data

if TYPE_CHECKING:
    from ..runners._cluster_parts import PartsRun
    from ..runners._run import Run
    from ._run import FetchJob


def part_format(output: str, fmt: str | None) -> str:
    """The format of a new part folder's parts: ``--format``, else Parquet for a ``NAME.parquet/``."""
    if fmt is not None:
        return fmt
    return "parquet" if output.rstrip("/").lower().endswith(".parquet") else "jsonl"


def run_parts(job: FetchJob, fields: tuple[str, ...]) -> Exit:
    """The whole run; see the module's docstring."""
    assert job.output is not None
    assert job.cluster is not None
    _refuse_what_parts_cannot_do(job)
    files = list_inputs(job.inputs)
    folder = PartFolder(job.output)
    print_ = _fingerprint(job, files, fields)
    manifest = _prepare(job, folder, print_)
    fmt = _format_of(job, manifest)
    if manifest is not None and manifest.get("complete"):
        if not job.quiet:
            from ._terminal import echo_note

            echo_note(f"{job.output}: every input already has its record ({manifest.get('records', 0):,}); "
                  "nothing to do")
        return Exit.OK
    from ..runners._cluster import open_cluster
    from ..runners._cluster_parts import PartsRun

    dask = open_cluster(job.cluster)
    try:
        workers = len(dask.scheduler_info()["workers"])
        plan = LanePlan.from_json(manifest["plan"]) if manifest else LanePlan(
            workers, tuple(parse_split_host(s, workers) for s in job.split_hosts))
        plan.check(job.settings)
        if manifest is None:
            folder.write_manifest({"complete": False, "format": fmt, "fields": list(fields),
                                   "plan": plan.to_json(), "fingerprint": print_})
        run = PartsRun(dask, files, folder, job.settings, plan, RecordMaker(fields, job.secret_params),
                       defaults=RequestDefaults(method=job.method, headers=job.headers, data=job.data),
                       template=job.template, chunk=job.part_size, fmt=fmt)
        return _drive(job, run, folder, fields, print_)
    finally:
        cluster = getattr(dask, "cluster", None) if job.cluster.startswith("local:") else None
        dask.close()
        if cluster is not None:
            cluster.close()


def _format_of(job: FetchJob, manifest: dict[str, Any] | None) -> str:
    """The parts' format: a resumed run keeps its own; a new one's is ``part_format``."""
    assert job.output is not None
    if manifest is None:
        return part_format(job.output, job.fmt)
    kept = str(manifest.get("format", "jsonl"))
    if job.fmt is not None and job.fmt != kept:
        raise UsageError(f"{job.output} holds {kept} parts: resume it without --format {job.fmt}, "
                         "or write a new folder")
    return kept


def _refuse_what_parts_cannot_do(job: FetchJob) -> None:
    if job.fmt not in (None, "jsonl", "parquet"):
        raise UsageError(f"a part folder holds JSONL or Parquet parts; --format {job.fmt} is not "
                         "available there")
    if job.dedup:
        raise UsageError("--dedup reads every input in one place: not with a part-folder output")
    if job.retry_failed:
        raise UsageError("--retry-failed: a part folder resumes whole parts; not with a part-folder output")
    if job.settings.since is not None:
        raise UsageError("--since settles each 304 where the records are written, here: not with a "
                         "part-folder output, whose records the workers write")
    if job.metrics_port is not None:
        raise UsageError("--metrics-port counts records where they are written, here: not with a "
                         "part-folder output, whose records the workers write (its progress and "
                         "summary count them)")


def _fingerprint(job: FetchJob, files: list[InputFile], fields: tuple[str, ...]) -> dict[str, Any]:
    return {"inputs": [{"name": f.name, "size": f.size} for f in files],
            "options": {"method": job.method, "headers": [list(h) for h in job.headers],
                        "data": fingerprint_data(job.data),
                        "template": job.template, "fields": list(fields)}}


def _prepare(job: FetchJob, folder: PartFolder, print_: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of the run being resumed (None: a new run); refuse what must not be written over."""
    manifest = folder.manifest() if folder.exists() else None
    if job.resume:
        if manifest is None:
            if folder.exists() and folder.names():
                raise UsageError(f"{job.output}: not a part folder (no manifest): nothing to resume")
            folder.make()
            return None
        if _identity(manifest.get("fingerprint")) != _identity(print_) and not job.force:
            raise ResumeMismatch(f"{job.output} was written from other inputs or options than these; "
                                 "resume with the same command, or add --force to resume anyway")
        if not manifest.get("complete"):
            folder.make()
        return manifest
    if manifest is not None and not job.overwrite:
        raise UsageError(f"{job.output} holds a run: add --resume to continue it, or --overwrite")
    if manifest is None and folder.exists() and folder.names():
        raise UsageError(f"{job.output}: the folder holds other files; give an empty or new folder")
    try:
        if manifest is not None:
            folder.clear()
        folder.make()
    except OSError as exc:
        raise CLIError(f"cannot make {job.output}: {exc.strerror or exc}", Exit.OUTPUT) from None
    return None


def _drive(job: FetchJob, run: PartsRun, folder: PartFolder, fields: tuple[str, ...],
           print_: dict[str, Any]) -> Exit:
    from ._display import make_progress, print_summary
    from ._run import _say_how_to_resume
    from ._signals import Signals
    from ._terminal import echo_note

    announcement = run.announcement()
    if announcement and not job.quiet:
        echo_note(announcement)
    started, cpu = time.monotonic(), time.process_time()
    deadline = None if job.settings.deadline is None else started + job.settings.deadline
    as_run = cast("Run", run)  # the display and the signals read statistics() and call stop() only
    # the driver counts no input lines: no total; the records of earlier runs' parts count as done
    progress = make_progress(as_run, JobProgress(earlier=run.done_before), quiet=job.quiet,
                             forced=job.progress, log_every=job.log_every)
    status, failure, complete = Exit.OK, None, False
    with Signals(as_run, job.grace) as signals:
        try:
            if deadline is not None:
                _stop_at(run, deadline, job.grace)
            complete = run.run()
        except UsageError:
            raise
        except OSError as exc:
            failure, status = f"cannot write {job.output}: {exc.strerror or exc}", Exit.OUTPUT
        finally:
            if progress is not None:
                progress.stop()
    if complete:
        _finish_folder(folder, run, fields, print_)
    elif signals.received is None and status == Exit.OK:
        status = Exit.SOME_FAILED  # stopped at --deadline: some inputs have no record yet
    if run.summary.errors and status == Exit.OK:
        status = Exit.SOME_FAILED
    if signals.received is not None:
        import signal

        status = Exit.SIGINT if signals.received == signal.SIGINT else Exit.SIGTERM
    extra = {"exit_status": int(status), "insecure": job.insecure,
             "interrupted": signals.received is not None,
             "parts": len(run.parts), "records_before": run.done_before, "complete": complete,
             "driver_cpu_seconds": round(time.process_time() - cpu, 3),
             "worker_cpu_seconds": round(run.worker_cpu, 3), "workers": run.workers, "lanes": run.plan.lanes}
    figures = run.summary.summary(time.monotonic() - started, extra)
    if job.summary_json:
        import json

        with open(job.summary_json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
    if not job.quiet:
        print_summary(figures)
    if failure:
        echo_note(f"error: {failure}")
    if not complete:
        _say_how_to_resume(job, run.done_before + run.summary.records)
    return status


def _finish_folder(folder: PartFolder, run: PartsRun, fields: tuple[str, ...],
                   print_: dict[str, Any]) -> None:
    """Every input has its record: the manifest lists the parts, and the work files go."""
    try:
        folder.write_manifest({"complete": True, "format": run.format, "fields": list(fields),
                               "plan": run.plan.to_json(), "fingerprint": print_,
                               "records": sum(n for _, n in run.complete_parts),
                               "parts": [{"name": n, "records": c} for n, c in run.complete_parts]})
        folder.remove_work()
    except OSError as exc:
        raise CLIError(f"cannot write {folder.path}: {exc.strerror or exc}", Exit.OUTPUT) from None


def _stop_at(run: PartsRun, deadline: float, grace: float) -> None:
    """``--deadline`` on a part folder: at the deadline, stop as Ctrl-C does (``--resume`` goes on)."""
    import threading

    def watch() -> None:
        time.sleep(max(0.0, deadline - time.monotonic()))
        run.stop(grace)

    threading.Thread(target=watch, daemon=True, name="multifetch-deadline").start()
