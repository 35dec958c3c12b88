"""Transports carry attempts to servers: libcurl's multi interface (default) or requests."""
