"""The W3C traceparent shipsync writes on events and reads back for links: the form, any input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import ShipmentCreated
from shipsync.testing.fake_carrier import sample_shipment

pytest.importorskip("opentelemetry.trace")

from shipsync.telemetry._hooks import (
    _creation_link,
    format_traceparent,
    parse_traceparent,
)

_HEX = "0123456789abcdef"
traceparents = st.builds(
    lambda t, s, f: f"00-{t}-{s}-{f}",
    st.text(_HEX, min_size=32, max_size=32),
    st.text(_HEX, min_size=16, max_size=16),
    st.text(_HEX, min_size=2, max_size=2),
)


def _reference_parse(header: str) -> tuple[int, int, int] | None:
    """W3C Trace Context, version 00, read the long way: (trace id, span id, flags) or None."""
    parts = header.split("-")
    if len(parts) != 4 or [len(p) for p in parts] != [2, 32, 16, 2]:
        return None
    if parts[0] != "00" or any(c not in _HEX for c in "".join(parts)):
        return None
    trace_id, span_id, flags = (int(p, 16) for p in parts[1:])
    if trace_id == 0 or span_id == 0:
        return None
    return trace_id, span_id, flags


def _read(header: str, state: str | None = None) -> tuple[int, int, int] | None:
    context = parse_traceparent(header, state)
    if context is None:
        return None
    assert context.is_remote
    assert context.is_valid
    return context.trace_id, context.span_id, int(context.trace_flags)


_SEGMENTS = [(0, 2), (3, 35), (36, 52), (53, 55)]  # version, trace id, span id, flags


def _upper(good: str, segment: int) -> str:
    start, end = _SEGMENTS[segment]
    return good[:start] + good[start:end].upper() + good[end:]


near_traceparents = traceparents.flatmap(
    lambda good: st.one_of(
        st.just(good),
        st.builds(_upper, st.just(good), st.integers(0, 3)),
        st.just(good + "-"),
        st.just(good[:-1]),
        st.builds(
            lambda i, c: good[:i] + c + good[i + 1 :],
            st.integers(0, 54),
            st.sampled_from("0fFA-g x") | st.characters(),
        ),
    )
)


@given(header=st.text(max_size=80) | near_traceparents)
def test_any_traceparent_reads_as_the_w3c_rules_say_and_never_raises(header: str) -> None:
    """Any string reads as W3C version 00 does (lowercase hex, non-zero ids) or as no context."""
    assert _read(header) == _reference_parse(header)
    assert _read(header) == _reference_parse(header)  # and again, from the parsed cache


@given(
    trace_id=st.integers(1, 2**128 - 1),
    span_id=st.integers(1, 2**64 - 1),
    flags=st.integers(0, 255),
)
def test_a_written_traceparent_reads_back_the_same_ids_and_flags(
    trace_id: int, span_id: int, flags: int
) -> None:
    """The header shipsync writes is the W3C form, and reads back to the context it came from."""
    header = format_traceparent(trace_id, span_id, flags)
    assert _reference_parse(header) == (trace_id, span_id, flags)
    assert _read(header) == (trace_id, span_id, flags)


def test_parsed_contexts_never_answer_for_another_header_or_state() -> None:
    """Recently parsed contexts are kept per header and state, and stay right past the cache's
    size: two traces, or one trace under two states, never get each other's context."""
    one, two = format_traceparent(1, 2, 1), format_traceparent(3, 4, 0)
    for round_ in range(3):
        assert _read(one) == (1, 2, 1)
        assert _read(two) == (3, 4, 0)
        plain = parse_traceparent(one)
        stated = parse_traceparent(one, "k=v")
        broken = parse_traceparent(one, "=,=")
        assert plain is not None
        assert stated is not None
        assert broken is not None
        assert plain.trace_state.to_header() == ""
        assert stated.trace_state.to_header() == "k=v"
        assert broken.trace_state.to_header() == ""
        if round_ == 1:  # overflow the cache with other headers in between
            for n in range(1, 3000):
                assert _read(format_traceparent(n + 10, n, 0)) == (n + 10, n, 0)


def test_each_event_links_to_its_own_creation_context() -> None:
    """Events of different traces get links to their own contexts, fresh link objects each time."""
    base = sample_shipment(shipment_id="S-1")
    first = ShipmentCreated.of(base, source="test", time=datetime(2026, 1, 1, tzinfo=UTC))
    a = first.model_copy(update={"traceparent": format_traceparent(7, 8, 1)})
    b = first.model_copy(update={"traceparent": format_traceparent(9, 10, 0), "tracestate": "x=y"})
    links = [_creation_link(e) for e in (a, b, a, b, first)]
    assert [(lk.context.trace_id, lk.context.span_id) for lk in links[:4]] == [
        (7, 8),
        (9, 10),
        (7, 8),
        (9, 10),
    ]
    assert links[1].context.trace_state.to_header() == "x=y"
    assert links[0] is not links[2]
    assert links[4] is None
