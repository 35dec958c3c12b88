"""Runners: where one run's engine works, side by side behind one ``Run`` protocol.

``_local``: the engine on a thread of this process; ``_processes``: several engine processes, each
with a share of the settings; ``_cluster``: batches on the workers of a Dask cluster. Each builds its
engine from ``Settings``; none knows the ``Client``.
"""
