"""Pure helpers that keep round trips bounded: chunking, grouping, domains, message ids."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "CREATE_CHUNK",
    "IN_CHUNK",
    "chunked",
    "group_by_value",
    "message_id_for",
    "or_domain",
    "split_refs",
]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

CREATE_CHUNK = 1000
"""Records created per ``create`` call."""

IN_CHUNK = 5000
"""Values per ``in`` domain leaf."""


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def group_by_value(values: Mapping[int, K]) -> dict[K, list[int]]:
    """Invert ``{record id: value}`` into ``{value: [ids]}``, ids sorted, so equal writes merge."""
    groups: dict[K, list[int]] = {}
    for record_id, value in sorted(values.items()):
        groups.setdefault(value, []).append(record_id)
    return groups


def or_domain(leaves: Sequence[list[Any]]) -> list[Any]:
    """Join domain leaves with Odoo's prefix ``|`` operator."""
    if not leaves:
        return [["id", "=", 0]]
    return ["|"] * (len(leaves) - 1) + [list(leaf) for leaf in leaves]


def split_refs(value: object, separator: str = ",") -> list[str]:
    """Split a stored tracking value (``"A, B"``) into its references."""
    if not isinstance(value, str):
        return []
    return [part.strip() for part in value.split(separator) if part.strip()]


def message_id_for(kind: str, *parts: str) -> str:
    """A stable RFC 5322 Message-Id for a fact, so posting it twice is detectable.

    The parts are hashed, so any event id, however long or odd, gives a short valid id.
    """
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode("utf-8")).hexdigest()[:40]
    return f"<shipsync.{kind}.{digest}@shipsync>"
