"""A cluster run whose driver never sees a record: ``multifetch fetch --cluster ADDR -o FOLDER/``.

The driver lists the input files and schedules two kinds of task. ``split_file`` (on a worker)
reads one file and writes its requests in chunks by lane (``_cluster_input``); ``fetch_part`` (on
a worker) fetches one chunk through the normal engine and commits its records as a part file of the
output folder (``outputs/_parts``). What comes back is small: a split's chunk list, a part's
summary. The driver keeps one chunk in flight per lane (``_cluster_plan``: that is what keeps the
per-host limits exact), splits files only as far ahead as the lanes need, tallies the summaries
and shows progress.

Exactly one record per input, whatever is lost: a part is committed whole or not at all under a
name that says which chunk it holds, so a chunk done again (its worker lost, the driver restarted
with ``--resume``) replaces its part with records of the same ids. ``--resume`` re-uses the
committed splits and skips the committed parts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from .._errors import MultifetchError
from ..engine._stats import Statistics
from ..inputs._sources import RequestDefaults
from ..outputs._parts import PartFolder
from ..report._summary import SummaryBuilder
from ._cluster_input import Chunk, InputFile, Split, committed_split, split_file
from ._cluster_plan import LanePlan
from ._cluster_records import PART_EXTENSIONS, part_name
from ._cluster_worker import PartDone, fetch_part
from ._record_maker import RecordMaker
from ._settings import Settings

CHUNK = 2000  # inputs a part holds at most
_AHEAD = 3  # chunks waiting per lane before the driver stops splitting more files
_POLL = 0.25  # seconds between looks at a stop request while tasks run


class PartsRun:
    """``run()`` to the end (or a ``stop()``); ``statistics()`` and ``stop()`` from any thread."""

    def __init__(self, dask: Any, files: Sequence[InputFile], folder: PartFolder, settings: Settings,
                 plan: LanePlan, maker: RecordMaker, *, defaults: RequestDefaults | None = None,
                 template: str | None = None, chunk: int = CHUNK, fmt: str = "jsonl") -> None:
        self._dask = dask
        self.workers = len(dask.scheduler_info()["workers"])
        if not self.workers:
            raise MultifetchError("the Dask cluster has no workers")
        self._files = deque(files)
        self._folder = folder
        self._given = settings
        self.plan = plan
        self._maker = maker
        self._defaults = defaults or RequestDefaults()
        self._template = template
        self._chunk = chunk
        if fmt not in PART_EXTENSIONS:
            raise MultifetchError(f"a part folder's parts are {' or '.join(PART_EXTENSIONS)}, not {fmt}")
        self.format = fmt
        self._queues: list[deque[Chunk]] = [deque() for _ in range(plan.lanes)]
        self._fetching: dict[int, tuple[Any, Chunk]] = {}  # lane -> (future, chunk)
        self._splitting: dict[Any, InputFile] = {}
        self._last_start: dict[int, float] = {}
        self.summary = SummaryBuilder()  # of this run's records
        self.parts: dict[str, int] = {}  # every complete part -> its records (earlier runs' too)
        self.inputs_read = 0
        self.done_before = 0  # records of parts committed by earlier runs
        self.worker_cpu = 0.0
        self._stopping = False
        self._abort_at: float | None = None
        self._started = time.monotonic()
        self.dashboard = getattr(dask, "dashboard_link", None)
        self._take_committed()

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> bool:
        """Run until every input has its record (True) or a stop leaves some for ``--resume``."""
        from distributed import wait

        while True:
            if not self._stopping:
                self._submit()
            futures = [f for f, _ in self._fetching.values()] + list(self._splitting)
            if not futures:
                return not self._stopping and not self._files
            if self._abort_at is not None and time.monotonic() >= self._abort_at:
                self._dask.cancel(futures)
                return False
            try:
                done = wait(futures, timeout=_POLL, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                continue
            for future in done:
                self._finish(future)

    def _take_committed(self) -> None:
        """``--resume``: the splits earlier runs committed, less the chunks whose part is complete."""
        committed = set(self._folder.parts())
        left: deque[InputFile] = deque()
        for source in self._files:
            split = committed_split(self._folder, source.index)
            if split is None:
                left.append(source)
                continue
            self._add_split(split, committed)
        self._files = left

    def _add_split(self, split: Split, committed: set[str] | None = None) -> None:
        self.inputs_read += split.inputs
        if split.invalid_part:
            self.parts[split.invalid_part] = split.invalid
            if split.summary is not None:
                self.summary.absorb(split.summary)
            else:
                self.done_before += split.invalid
        for chunk in split.chunks:
            part = part_name(chunk.name, self.format)
            if committed is not None and part in committed:
                self.parts[part] = chunk.count
                self.done_before += chunk.count
            else:
                self._queues[chunk.lane].append(chunk)

    def _busy_lanes(self) -> int:
        return sum(1 for lane, queue in enumerate(self._queues) if queue or lane in self._fetching)

    def _submit(self) -> None:
        waiting = sum(len(q) for q in self._queues)
        while (self._files and len(self._splitting) < self.workers
               and waiting + self._chunks_coming() < _AHEAD * self.plan.lanes):
            source = self._files.popleft()
            future = self._dask.submit(split_file, source, self._folder.path, self.plan, self._chunk,
                                       self._defaults, self._template, self._maker, self.format,
                                       pure=False, retries=2,
                                       key=f"multifetch-split-{source.index}-{time.time_ns()}")
            self._splitting[future] = source
        busy = self._busy_lanes()
        for lane, queue in enumerate(self._queues):
            if queue and lane not in self._fetching:
                chunk = queue.popleft()
                part = part_name(chunk.name, self.format)
                settings = self.plan.settings(lane, self._given, busy)
                future = self._dask.submit(fetch_part, self._folder.path, chunk.name, part, settings,
                                           self._last_start.get(lane), self._maker, pure=False, retries=2,
                                           priority=1, key=f"multifetch-{part}-{time.time_ns()}")
                self._fetching[lane] = (future, chunk)

    def _chunks_coming(self) -> int:
        """Chunks the splits in flight will add, counted as one a lane each (a guess that bounds)."""
        return len(self._splitting) * self.plan.lanes

    def _finish(self, future: Any) -> None:
        if future in self._splitting:
            del self._splitting[future]
            self._add_split(future.result())
            return
        lane = next(lane for lane, (f, _) in self._fetching.items() if f is future)
        del self._fetching[lane]
        done: PartDone = future.result()
        self.parts[done.part] = done.records
        self.summary.absorb(done.summary)
        self.worker_cpu += done.cpu_seconds
        if done.last_start is not None:
            self._last_start[lane] = done.last_start

    # -- the Run-like side ------------------------------------------------------------------------

    @property
    def complete_parts(self) -> list[tuple[str, int]]:
        return sorted(self.parts.items())

    def statistics(self) -> Statistics:
        summary = self.summary
        in_flight = sum(chunk.count for _, chunk in self._fetching.values())
        queued = sum(c.count for q in self._queues for c in q)
        return Statistics(elapsed=time.monotonic() - self._started, inputs_read=self.inputs_read,
                          done=summary.records, in_flight=in_flight, queued=queued, waiting_retry=0,
                          attempts=summary.records, retries=summary.retries, errors=dict(summary.errors),
                          statuses=dict(summary.statuses), bytes=summary.bytes,
                          input_exhausted=not self._files and not self._splitting)

    def stop(self, grace: float = 5.0) -> None:
        """Start no more tasks; the parts in flight get ``grace`` seconds to commit. Again: abort."""
        if self._stopping:
            grace = 0.0
        self._stopping = True
        self._abort_at = time.monotonic() + grace

    def announcement(self) -> str | None:
        lanes = f"{self.plan.lanes} lanes" if self.plan.lanes != self.workers else "a lane each"
        where = f"; dashboard: {self.dashboard}" if self.dashboard else ""
        return (f"running on {self.workers} Dask workers ({lanes}), "
                f"writing parts to {self._folder.path}{where}")

    @property
    def unfinished(self) -> int:
        return sum(chunk.count for _, chunk in self._fetching.values())
