"""Keys, namespaces, fingerprints and the result codec: pure functions, checked broadly."""

from __future__ import annotations

import contextlib

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import ConfigurationError, CorruptRecordError
from shipsync.idempotency import (
    decode_result,
    encode_result,
    fingerprint,
    key_from_parts,
    namespace,
    outbound_key,
    storage_key,
)
from shipsync.idempotency._keys import MAX_PLAIN_KEY_BYTES

any_text = st.text(st.characters(codec=None, min_codepoint=0), max_size=400)


@given(any_text, any_text)
def test_distinct_keys_never_share_a_storage_key(a: str, b: str) -> None:
    """storage_key is injective in practice: plain keys map 1:1, long or odd ones by SHA-256."""
    if a != b:
        assert storage_key(a) != storage_key(b)


@given(any_text)
def test_storage_keys_are_short_printable_and_encodable(key: str) -> None:
    """Whatever the key, the stored form fits every backend: printable UTF-8, bounded length."""
    stored = storage_key(key)
    assert stored.isprintable()
    assert len(stored.encode("utf-8")) <= MAX_PLAIN_KEY_BYTES + 2
    assert stored.startswith(("k:", "h:"))


def test_short_plain_keys_are_kept_readable() -> None:
    """A short printable key is stored as itself (after the prefix), so operators can read it."""
    assert storage_key("order-17/ünï") == "k:order-17/ünï"
    assert storage_key("x" * 201).startswith("h:")


@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_namespace_accepts_any_parts(parts: list[str]) -> None:
    """namespace() turns any parts into a valid namespace, with plain parts kept as they are."""
    ns = namespace(*parts)
    assert 0 < len(ns) <= 120
    assert ns.count("/") == len(parts) - 1


def test_namespace_needs_a_part() -> None:
    """An empty namespace is a configuration error."""
    with pytest.raises(ConfigurationError):
        namespace()


@given(st.lists(st.text(max_size=10), max_size=4), st.lists(st.text(max_size=10), max_size=4))
def test_key_from_parts_is_unambiguous(a: list[str], b: list[str]) -> None:
    """Different part lists never build the same key (separators inside parts are escaped)."""
    if a != b and len(a) == len(b):
        assert key_from_parts(*a) != key_from_parts(*b)


def test_outbound_key_depends_on_namespace_and_key_only() -> None:
    """The outbound key is stable for one (namespace, key) and differs across either."""
    assert outbound_key("a", "k") == outbound_key("a", "k")
    assert outbound_key("a", "k") != outbound_key("b", "k")
    assert outbound_key("a", "k") != outbound_key("a", "k2")
    assert outbound_key("a", "k").startswith("ss-")


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=5), st.integers())
def test_fingerprint_is_stable_and_order_insensitive_for_keywords(
    data: dict[str, int], n: int
) -> None:
    """The same arguments fingerprint the same, keyword order aside."""
    assert fingerprint(n, **data) == fingerprint(n, **dict(reversed(list(data.items()))))


def test_fingerprint_tells_payloads_apart_and_refuses_opaque_objects() -> None:
    """Different payloads differ; an object with no JSON form is a configuration error."""
    assert fingerprint(1) != fingerprint(2)
    with pytest.raises(ConfigurationError):
        fingerprint(object())


class Receipt(pydantic.BaseModel):
    id: str
    lines: list[int]


@given(st.text(max_size=20), st.lists(st.integers(), max_size=5))
def test_pydantic_results_round_trip(rid: str, lines: list[int]) -> None:
    """encode_result then decode_result gives an equal model back."""
    receipt = Receipt(id=rid, lines=lines)
    assert decode_result(encode_result(receipt), Receipt) == receipt


@given(st.binary(max_size=50))
def test_arbitrary_stored_bytes_decode_or_raise_corrupt_record(data: bytes) -> None:
    """Any bytes from a store either decode or raise CorruptRecordError, nothing else."""
    with contextlib.suppress(CorruptRecordError):
        decode_result(data, Receipt)
    with contextlib.suppress(CorruptRecordError):
        decode_result(data)


def test_unserializable_result_is_a_configuration_error() -> None:
    """A result with no JSON form is refused before anything is stored."""
    with pytest.raises(ConfigurationError):
        encode_result(object())
