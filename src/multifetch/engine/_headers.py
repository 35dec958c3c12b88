"""Case-insensitive response headers, parsed lazily from the raw lines libcurl hands over."""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class Headers(Mapping[str, str]):
    """Response headers: ``headers["content-type"]`` and ``headers["Content-Type"]`` are one.

    Repeated fields are joined with ``", "`` as requests does; ``get_list`` keeps them apart.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self._fields = fields or []

    @classmethod
    def from_raw(cls, lines: list[bytes]) -> Headers:
        """Headers of the last response among ``lines`` (redirects and 1xx come first)."""
        fields: list[tuple[str, str]] = []
        for raw in lines:
            line = raw.decode("latin-1").rstrip("\r\n")
            if line.startswith("HTTP/"):
                fields = []
            elif ":" in line:
                name, _, value = line.partition(":")
                fields.append((name.strip(), value.strip()))
            elif line[:1] in (" ", "\t") and fields:  # obsolete line folding
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}")
        return cls(fields)

    def get_list(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self._fields if k.lower() == lname]

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for k, _ in self._fields:
            if k.lower() not in seen:
                seen.add(k.lower())
                yield k

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._fields})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._fields)

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"



def validators(lines: list[bytes] | None) -> tuple[str | None, str | None]:
    """``(ETag, Last-Modified)`` of the last response among ``lines``, each None when absent.

    Made for every record: a look at each line's first byte, and a closer one at the few that may
    be one of the two (compiled, a third of the time a join, a lower-casing and searches take; a
    whole ``Headers`` would take more still).
    """
    etag: str | None = None
    last_modified: str | None = None
    seen_etag = seen_last_modified = False  # the first of each counts, even when empty
    for line in lines or ():
        if not line:
            continue
        first = line[0] | 0x20  # an ASCII letter in lower case
        if first == 0x65:  # e
            if not seen_etag and line[:5].lower() == b"etag:":
                seen_etag = True
                etag = line[5:].strip().decode("latin-1") or None
        elif first == 0x6C:  # l
            if not seen_last_modified and line[:14].lower() == b"last-modified:":
                seen_last_modified = True
                last_modified = line[14:].strip().decode("latin-1") or None
        elif first == 0x68 and line[:5].lower() == b"http/":  # h: a status line, so what came before
            etag = last_modified = None  # was an earlier answer's (a redirect's, a 1xx)
            seen_etag = seen_last_modified = False
    return etag, last_modified


def validators_since(lines: list[bytes] | None,
                     previous: tuple[str | None, str | None]) -> tuple[str | None, str | None]:
    """A 304's validators: its own win; those it did not repeat are the previous run's."""
    own = validators(lines)
    return own[0] or previous[0], own[1] or previous[1]
