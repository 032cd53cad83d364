"""Request and response values that drivers build and parse; clients do the I/O.

A driver never touches a socket: it returns a :class:`CarrierRequest` and later receives a
:class:`CarrierResponse`. Both are frozen values, so a retried request is the very same value and
a recorded response can be replayed into a parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs

from shipsync.errors import CarrierResponseError

__all__ = ["CarrierRequest", "CarrierResponse", "Headers"]

Headers = tuple[tuple[str, str], ...]


def _headers(value: Mapping[str, str] | Headers | None) -> Headers:
    if value is None:
        return ()
    if type(value) is tuple:
        return value
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


def _ascii_lower(name: str) -> str | None:
    """Header names are ASCII: fold ASCII case only; a non-ASCII name matches nothing."""
    return name.lower() if name.isascii() else None


def _header(headers: Headers, name: str) -> str | None:
    lowered = _ascii_lower(name)
    if lowered is None:
        return None
    for key, value in headers:
        if _ascii_lower(key) == lowered:
            return value
    return None


@attrs.frozen
class CarrierRequest:
    """One HTTP request a driver wants sent.

    ``path`` is joined to the client's base URL unless it is absolute. ``authenticated`` asks the
    client to add the bearer token it caches; ``accept`` lists non-2xx statuses the flow wants to
    see itself instead of having them mapped to errors.
    """

    method: str
    path: str
    headers: Headers = attrs.field(default=(), converter=_headers)
    content: bytes = b""
    params: tuple[tuple[str, str], ...] = ()
    authenticated: bool = True
    accept: frozenset[int] = frozenset()
    timeout: float | None = None

    @classmethod
    def json(
        cls,
        method: str,
        path: str,
        payload: Any,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> CarrierRequest:
        """A request whose body is ``payload`` as compact UTF-8 JSON."""
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        merged = {"content-type": "application/json", **(headers or {})}
        return cls(method, path, headers=merged, content=body, **kwargs)

    @classmethod
    def form(
        cls,
        method: str,
        path: str,
        fields: Mapping[str, str],
        **kwargs: Any,
    ) -> CarrierRequest:
        """A request with an ``application/x-www-form-urlencoded`` body."""
        body = urlencode(sorted(fields.items())).encode()
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return cls(method, path, headers=headers, content=body, **kwargs)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        return _header(self.headers, name)

    def with_header(self, name: str, value: str) -> CarrierRequest:
        """A copy with header ``name`` set to ``value`` (replacing any earlier value)."""
        lowered = _ascii_lower(name)
        kept = tuple(
            (k, v) for k, v in self.headers if lowered is None or _ascii_lower(k) != lowered
        )
        return CarrierRequest(
            self.method,
            self.path,
            (*kept, (name, value)),
            self.content,
            self.params,
            self.authenticated,
            self.accept,
            self.timeout,
        )


@attrs.frozen
class CarrierResponse:
    """Status, headers and body of one HTTP response, as a driver's parser receives them."""

    status: int
    headers: Headers = attrs.field(default=(), converter=_headers)
    content: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        return _header(self.headers, name)

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body decoded as JSON; a body that is not JSON is a :class:`CarrierResponseError`."""
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise CarrierResponseError("response body is not valid JSON") from exc
