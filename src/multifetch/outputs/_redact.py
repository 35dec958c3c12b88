"""Keeping secrets out of records, logs and messages: URL passwords, secret query parameters,
cookies in recorded response headers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#@\s:]*):[^/?#@\s]*@")
_SECRET_HEADERS = frozenset({"set-cookie", "authorization", "proxy-authorization", "cookie"})


def mask(url: str) -> str:
    """``url`` with its password, if any, masked: how a proxy is named in records and messages."""
    return _USERINFO.sub(rf"\1:{MASK}@", url) if "@" in url else url


class Redactor:
    """Masks URL passwords always, and the values of the named query parameters."""

    def __init__(self, secret_params: Iterable[str] = ()) -> None:
        self._params = frozenset(p.lower() for p in secret_params)
        self._param_re = (
            re.compile(r"(?i)([?&;](?:" + "|".join(re.escape(p) for p in self._params) + r")=)[^&#;\s]*")
            if self._params
            else None
        )

    def text(self, value: str) -> str:
        """``value`` with URL passwords (and secret parameters) masked, wherever they appear."""
        if "@" in value:  # the regex only where it can match: this runs for every record
            value = _USERINFO.sub(rf"\1:{MASK}@", value)
        if self._param_re is not None:
            value = self._param_re.sub(rf"\1{MASK}", value)
        return value

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        # once a record: URLs are looked at only where a mask can apply
        params = self._param_re is not None
        for key in ("url", "final_url"):
            value = record.get(key)
            if isinstance(value, str) and (params or "@" in value):
                record[key] = self.text(value)
        error = record.get("error")
        if error:
            error["message"] = self.text(error["message"])
        headers = record.get("headers")
        if isinstance(headers, dict):
            for name in headers:
                if name.lower() in _SECRET_HEADERS:
                    headers[name] = MASK
        return record
