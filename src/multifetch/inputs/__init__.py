"""Inputs: what to fetch, read lazily.

``Request`` and its parsing (``_spec``), the sources it is read from — URL lines, JSONL specs, CSV rows
through a template, files, gzip, stdin (``_sources``, ``_lines``) — and dropping repeats (``_dedup``
over ``_idset``).
"""
