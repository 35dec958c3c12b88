"""The engine: one run's scheduler and the values it works with.

Admission, per-host queues and limits, rate limits, retries and deadlines (``_scheduler``, ``_hosts``,
``_policy``, ``_ratelimit``, ``_spill``), one input's journey (``_job``), the thread that drives it
(``_driver``, ``_readahead``), and what comes out of it (``_result``, ``_headers``, ``_stats``).
The engine knows nothing of files, processes or clusters.
"""
