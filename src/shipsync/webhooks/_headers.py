"""Reading request headers the same way whatever framework delivered them.

Headers arrive as a plain ``dict``, a framework multi-dict (Starlette, Werkzeug), or a list of
``(name, value)`` pairs as ASGI and WSGI servers give them, with ``str`` or ``bytes`` items.
Names are matched ASCII-case-insensitively: header names are ASCII (RFC 9110), so a name holding
any other character never matches (``str.lower`` would turn the Kelvin sign into ``k``). A header
a scheme reads must appear exactly once: a repeated one is malformed, because two values for one
signed field cannot both be right. (A plain ``dict`` whose keys are already lower case is read by
exact lookup, then checked for the same name in another case, such as ``Webhook-Id`` beside
``webhook-id``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from shipsync.errors import InvalidInputError, MalformedHeaderError, MissingHeaderError

__all__ = ["HeadersInput", "ascii_lower", "check_case_twins", "read_headers"]

HeadersInput: TypeAlias = (
    Mapping[str, str]
    | Mapping[bytes, bytes]
    | Iterable[tuple[str, str]]
    | Iterable[tuple[bytes, bytes]]
)
"""Anything that yields ``(name, value)`` pairs: a mapping (its ``items()``) or an iterable."""


def ascii_lower(name: str) -> str | None:
    """``name`` in lower case when it is ASCII; ``None`` (matches nothing) when it is not."""
    return name.lower() if name.isascii() else None


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def check_case_twins(headers: dict[Any, Any], names: tuple[str, ...]) -> None:
    """Raise :class:`MalformedHeaderError` if a dict holding each of ``names`` (lower case) also
    holds one of them in another case or as bytes: the header was sent twice."""
    if len(headers) == len(names):
        return  # every key is one of the names, exactly
    try:
        folded = "\n".join(headers).lower()
    except TypeError:  # bytes keys: look at each one below
        pass
    else:
        if sum(map(folded.count, names)) == len(names):
            return  # each name occurs once, even as a substring: no twin (the hot path)
    for key in headers:
        if key in names:
            continue
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        folded_key = ascii_lower(key) if isinstance(key, str) else None
        if folded_key is not None and folded_key in names:
            raise MalformedHeaderError(folded_key, "header is repeated")


def read_headers(headers: HeadersInput, names: tuple[str, ...]) -> list[str]:
    """Return the single value of each header in ``names`` (lower-case), in that order.

    Raises :class:`MissingHeaderError` for an absent header and :class:`MalformedHeaderError`
    for a repeated one. Values are returned as given (``bytes`` decoded as Latin-1, as HTTP does).
    Anything with ``items()`` (a mapping, ``email.message.Message``) is read through it. Headers
    that are not name/value pairs are the host's mistake: ``InvalidInputError``.
    """
    if type(headers) is dict:
        # Fast path for a plain dict already keyed in lower case (HTTP/2 and most servers): a
        # dict cannot hold a header twice, so exact lookups are enough. Anything else (another
        # case, bytes, a missing header) takes the careful loop below.
        values = [headers.get(name) for name in names]
        for value in values:
            if type(value) is not str:
                break
        else:
            check_case_twins(headers, names)
            return values  # type: ignore[return-value]
    items: Any = headers.items() if hasattr(headers, "items") else headers
    found: list[str | None] = [None] * len(names)
    try:
        pairs = [(name, value) for name, value in items]
    except (TypeError, ValueError):
        raise InvalidInputError(
            "headers must be a mapping or (name, value) pairs", path="headers"
        ) from None
    for raw_name, raw_value in pairs:
        if not isinstance(raw_name, str | bytes) or not isinstance(raw_value, str | bytes):
            raise InvalidInputError("header names and values must be str or bytes", path="headers")
        name = ascii_lower(raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name)
        if name is not None and name in names:
            index = names.index(name)
            if found[index] is not None:
                raise MalformedHeaderError(names[index], "header is repeated")
            found[index] = _text(raw_value)
    result: list[str] = []
    for name, value in zip(names, found, strict=True):
        if value is None:
            raise MissingHeaderError(name)
        result.append(value)
    return result
