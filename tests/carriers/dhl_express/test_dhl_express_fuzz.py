"""The DHL Express parsers under hypothesis: odd answers give results or typed errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from shipsync.carriers import CarrierClient, RetryPolicy, SleepRecorder
from shipsync.carriers.dhl_express import DhlExpressDriver
from shipsync.errors import CarrierError

TRACK = json.loads((Path(__file__).parent / "cassettes" / "extra.json").read_text())["track"]
EVENT = TRACK["shipments"][0]["events"][0]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _with_event(field: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(TRACK))
    data["shipments"][0]["events"][0][field] = value
    return data


@given(
    body=st.one_of(
        _json,
        st.builds(_with_event, st.sampled_from([*EVENT, "GMTOffset"]), _json),
        st.builds(
            _with_event,
            st.just("GMTOffset"),
            st.from_regex(r"[+-][0-9]{2}:[0-9]{2}", fullmatch=True),
        ),
        st.builds(_with_event, st.just("time"), st.text(max_size=10)),
    )
)
def test_any_tracking_answer_gives_utc_events_or_a_typed_error(body: Any) -> None:
    """Through the client boundary, a tracking answer of any shape is events in UTC or a
    CarrierError, never another exception."""
    _ANSWER[:] = [body]
    try:
        events = _CLIENT.track("1234567890")
    except CarrierError:
        return
    assert all(e.occurred_at.utcoffset() is not None for e in events)


_ANSWER: list[Any] = []
_CLIENT = CarrierClient(
    DhlExpressDriver({"api_key": "k", "api_secret": "s", "account_number": "1"}),
    transport=httpx.MockTransport(lambda request: httpx.Response(200, json=_ANSWER[0])),
    retry=RetryPolicy(attempts=1),
    sleeper=SleepRecorder(),
    clock=datetime(2026, 1, 5, tzinfo=UTC).timestamp,
)
"""One client for every example (building one per example would dominate the run time)."""
