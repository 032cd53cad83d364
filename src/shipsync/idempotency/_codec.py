"""Results as JSON bytes, and payload fingerprints.

Stores keep a result as opaque bytes and give them back byte for byte; these helpers turn values
(pydantic models, dataclasses, plain JSON data) into those bytes and back. A stored value that
does not decode is a :class:`~shipsync.errors.CorruptRecordError`, never a bare exception.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, TypeVar, overload

import pydantic
import pydantic_core

from shipsync.errors import ConfigurationError, CorruptRecordError

__all__ = ["decode_result", "encode_result", "fingerprint"]

T = TypeVar("T")


def encode_result(value: object) -> bytes:
    """Serialize ``value`` (a pydantic model or anything pydantic can dump) to JSON bytes."""
    try:
        if isinstance(value, pydantic.BaseModel):
            return value.model_dump_json().encode("utf-8")
        return pydantic_core.to_json(value)
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"a result of type {type(value).__name__} cannot be stored as JSON", path="result"
        ) from exc


@overload
def decode_result(data: bytes, type_: type[T]) -> T: ...
@overload
def decode_result(data: bytes, type_: None = None) -> Any: ...
def decode_result(data: bytes, type_: type[T] | None = None) -> T | Any:
    """Decode stored JSON ``data``, validated as ``type_`` when given.

    Raises ``CorruptRecordError`` when the bytes are not JSON or do not fit ``type_``, and
    ``ConfigurationError`` when ``type_`` is not a type pydantic can validate.
    """
    try:
        if type_ is None:
            return pydantic_core.from_json(data)
        return _adapter(type_).validate_json(data)
    except (pydantic.ValidationError, ValueError) as exc:
        kind = getattr(type_, "__name__", "JSON")
        raise CorruptRecordError(f"stored result does not decode as {kind}") from exc


def _adapter(type_: Any) -> pydantic.TypeAdapter[Any]:
    """A (cached) validator for ``type_``; ``ConfigurationError`` if pydantic has none."""
    try:
        try:
            return _cached_adapter(type_)
        except TypeError:  # an unhashable type (say, with a list in Annotated): no cache
            return pydantic.TypeAdapter(type_)
    except (pydantic.PydanticUserError, TypeError) as exc:
        name = getattr(type_, "__name__", repr(type_))
        raise ConfigurationError(
            f"results cannot be decoded as {name}: pydantic cannot validate it", path="type"
        ) from exc


@functools.lru_cache(maxsize=256)
def _cached_adapter(type_: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(type_)


def _ordered(value: object) -> object:
    """``value`` with every set made a list in a fixed order (a set's iteration order changes
    from one process to the next), looking into plain dicts, lists and tuples."""
    if isinstance(value, set | frozenset):
        items = [_ordered(v) for v in value]
        return sorted(items, key=pydantic_core.to_json)
    if isinstance(value, dict):
        return {k: _ordered(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_ordered(v) for v in value]
    return value


def fingerprint(*args: object, **kwargs: object) -> str:
    """A stable fingerprint (SHA-256 hex) of JSON-serializable arguments.

    Equal arguments give the same fingerprint in every process: mapping keys are sorted and
    sets put in a fixed order before hashing. Raises ``ConfigurationError`` when an argument
    cannot be serialized; pass an explicit fingerprint function for such payloads.
    """
    try:
        plain = pydantic_core.to_jsonable_python([_ordered(list(args)), _ordered(kwargs)])
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            "arguments cannot be fingerprinted as JSON; pass fingerprint=", path="fingerprint"
        ) from exc
    return hashlib.sha256(text.encode("ascii")).hexdigest()
