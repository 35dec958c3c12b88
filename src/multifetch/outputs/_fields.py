"""The record's fields: those of the output contract, in order, and those added on request."""

RECORD_FIELDS = (
    "id",
    "url",
    "final_url",
    "method",
    "status",
    "error",
    "attempts",
    "elapsed",
    "size",
    "sha256",
    "body_path",
    "started_at",
    "meta",
    "etag",
    "last_modified",
)
#: added by --include-headers, --record-retries, --since, --proxy-file, or --fields
OPTIONAL_FIELDS = ("headers", "retries", "timings", "unchanged", "proxy")
