"""Watching a run while it goes: progress in a notebook or as plain log lines, Prometheus metrics.

Everything here reads ``Run.statistics()`` snapshots, or counts records as the caller consumes
them; none of it runs on the engine's thread.
"""
