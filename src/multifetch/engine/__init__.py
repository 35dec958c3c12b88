"""The engine: one run's scheduler and the values it works with.

The scheduler (``_scheduler``) coordinates one run's parts: the input read into per-host queues
(``_frontier``, ``_spill``, ``_input``), the hand-out of ready requests to a ``Transport``
(``_admission``, ``_transport``), what an attempt's end means (``_outcomes``, ``_retries``), timers
for parked retries and waiting hosts (``_timers``), the run's counts and hand-off of final jobs
(``_ledger``) and an early end (``_cancel``). The values they work with: per-host state and limits
(``_hosts``, ``_policy``, ``_ratelimit``) and one input's journey (``_job``). The thread that drives
it (``_driver``, ``_readahead``), and what comes out of it (``_result``, ``_headers``, ``_stats``).
The engine knows nothing of files, processes or clusters.
"""
