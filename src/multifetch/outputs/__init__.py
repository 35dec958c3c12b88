"""Outputs: where records and bodies go, and how they are read back.

Sinks write records as JSONL (default), CSV or SQLite, chosen by the output's extension or
``--format`` (``_sinks``, ``_formats``; ``_jsonl``, ``_csv``, ``_sqlite`` over ``_file``);
``_records`` reads any of them back; ``_resume`` uses the output as the run's journal;
``_bodies`` stores response bodies as they arrive; ``_redact`` keeps secrets out of records.
"""
