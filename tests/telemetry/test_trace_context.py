"""Trace context on event bodies: cut from fingerprints, whatever the event; guard headers."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Event, default_catalogue
from shipsync.monitor.web import TowerAuth
from shipsync.telemetry import without_trace_context
from shipsync.testing import strategies as sst

_HEX = "0123456789abcdef"
traceparents = st.builds(
    lambda t, s, f: f"00-{t}-{s}-{f}",
    st.text(_HEX, min_size=32, max_size=32),
    st.text(_HEX, min_size=16, max_size=16),
    st.sampled_from(["00", "01"]),
)


@given(event=sst.any_events(), traceparent=traceparents, state=st.none() | st.just("k=v,x=y"))
def test_a_stamped_body_fingerprints_as_the_plain_one(
    event: Event, traceparent: str, state: str | None
) -> None:
    """Stamping an event with trace context never changes the bytes its fingerprint reads."""
    update = {"traceparent": traceparent} | ({"tracestate": state} if state else {})
    plain = event.to_json()
    stamped = event.model_copy(update=update).to_json()
    assert stamped != plain
    assert without_trace_context(stamped) == plain
    assert without_trace_context(plain) is plain
    parsed = default_catalogue.parse(stamped)
    assert (
        hashlib.sha256(without_trace_context(parsed.to_json())).digest()
        == hashlib.sha256(plain).digest()
    )


@given(body=st.binary(max_size=300))
def test_any_bytes_come_back_without_an_error(body: bytes) -> None:
    """Hostile or broken bodies pass through the cut unchanged or cut, never raising."""
    out = without_trace_context(body)
    assert isinstance(out, bytes)
    if b"traceparent" not in body and b"tracestate" not in body:
        assert out == body


@given(header=st.none() | st.text(max_size=120))
def test_the_guard_reads_any_authorization_header_without_raising(header: str | None) -> None:
    """Any Authorization header is refused unless it carries the credentials, never a crash."""
    auth = TowerAuth(token="t" * 20, username="ops", password="p" * 12)
    assert auth.allows(header) is (header in {"Bearer " + "t" * 20})
