"""The worker side of a cluster run: one batch, or one chunk into its part, through the normal engine."""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass

from ..engine._result import Result
from ..inputs._spec import Request
from ..outputs._bodies import BodyStore
from ..outputs._parts import INPUTS, PartFolder
from ..report._summary import SummaryBuilder
from ._cluster_records import part_records
from ._local import LocalRun, open_transport, start_local
from ._record_maker import RecordMaker
from ._settings import Settings


def _start(batch: list[Request], settings: Settings, not_before: float | None) -> LocalRun:
    """The engine over ``batch``, once the rate allows (see ``fetch_batch``)."""
    rates = [r for r in (settings.limits.rate, settings.limits.per_host_rate) if r is not None]
    if rates and not_before is not None:
        wait = not_before + 1.0 / min(rates) - time.time()
        if wait > 0:
            time.sleep(wait)
    settings, _ = settings.fitted()  # this machine's open-file limit
    transport = open_transport(settings, BodyStore(settings.bodies, settings.limits.concurrency))
    return start_local(iter(batch), transport, settings, on_close=transport.close, read_ahead=False)


def fetch_batch(
    batch: list[Request], settings: Settings, not_before: float | None
) -> tuple[list[Result], float]:
    """Fetch ``batch`` on this worker; return its results and when its last request started.

    ``not_before`` is when the shard's previous batch last started a request: with a rate limit,
    the first request of this batch waits one interval after it, so no window sees more than the
    rate across the batch boundary.
    """
    results = list(_start(batch, settings, not_before).results())
    last = max((r.started_at or 0.0 for r in results), default=time.time())
    return results, last


@dataclass(slots=True)
class PartDone:
    """What the driver hears of a part: its summary, not its records."""

    part: str
    records: int
    summary: SummaryBuilder
    last_start: float | None
    cpu_seconds: float = 0.0  # this worker's CPU for the part


def fetch_part(folder_path: str, chunk: str, part: str, settings: Settings, not_before: float | None,
               maker: RecordMaker) -> PartDone:
    """Fetch the requests of ``chunk`` (under ``_inputs/``) and commit their records as ``part``.

    Done twice (a task run again after its worker was lost), the second commit replaces the first
    with records of the same ids; a part already committed is not fetched again. The part's
    extension says its format (``.jsonl``, ``.parquet``).
    """
    cpu = time.process_time()
    folder = PartFolder(folder_path)
    if folder.has(part):
        return _already(folder, part)
    try:
        batch: list[Request] = pickle.loads(folder.read_bytes(f"{INPUTS}/{chunk}"))
    except FileNotFoundError:  # another attempt committed the part and removed the chunk since
        return _already(folder, part)
    records = part_records(maker, "parquet" if part.endswith(".parquet") else "jsonl")
    last = None
    for job in _start(batch, settings, not_before).outcomes():
        records.add(job)
        if job.started_at and (last is None or job.started_at > last):
            last = job.started_at
    folder.commit(part, records.data())
    folder.remove(f"{INPUTS}/{chunk}")
    return PartDone(part, records.count, records.summary, last, time.process_time() - cpu)


def _already(folder: PartFolder, part: str) -> PartDone:
    from ..outputs._parts import PART_READERS

    summary = SummaryBuilder()
    count = 0
    for record in PART_READERS[os.path.splitext(part)[1]](folder, part):
        count += 1
        summary.add({"attempts": 1, "error": None, "status": None, "size": 0, "elapsed": 0.0, "url": "",
                     **record})
    return PartDone(part, count, summary, None)
