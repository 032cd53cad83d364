"""The SQLite event log passes the shared conformance suite and keeps its own promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import ConfigurationError, EventLogUnavailableError
from shipsync.flows import AsyncEventLog, AsyncSQLiteEventLog, SQLiteEventLog
from shipsync.testing.flows import EventLogConformance, OpenLog, make_tracking_event


class TestSQLiteConformance(EventLogConformance):
    redelivery_timeout = 5.0

    @pytest.fixture
    def open_log(self, tmp_path: Path) -> OpenLog:
        async def open_() -> AsyncEventLog:
            return AsyncSQLiteEventLog(tmp_path / "log.db", lease=2.5, synchronous="NORMAL")

        return open_


def test_sync_log_round_trip_and_pending_count(tmp_path: Path) -> None:
    """The synchronous log publishes, delivers in order and counts what is not acknowledged."""
    with SQLiteEventLog(tmp_path / "log.db") as log:
        events = [make_tracking_event("S1", n) for n in range(1, 4)]
        log.publish(events)
        assert log.pending() == 3
        got = log.receive(2)
        assert [d.event for d in got] == events[:2]
        log.ack(got)
        assert log.pending() == 1
        rest = log.receive(10)
        assert [d.event for d in rest] == events[2:]
        log.ack(rest)
        assert log.pending() == 0
        assert log.receive(10) == []


def test_compact_deletes_only_acknowledged_events(tmp_path: Path) -> None:
    """compact() drops acknowledged events; pending ones stay and positions go on."""
    with SQLiteEventLog(tmp_path / "log.db") as log:
        log.publish([make_tracking_event("S1", n) for n in range(1, 4)])
        log.ack(log.receive(2))
        assert log.compact() == 2
        assert log.compact() == 0
        log.publish([make_tracking_event("S1", 4)])
        got = log.receive(10)
        assert [d.position for d in got] == [3, 4]


def test_ack_never_moves_a_cursor_back(tmp_path: Path) -> None:
    """Acknowledging an older delivery after a newer one keeps the newer cursor."""
    with SQLiteEventLog(tmp_path / "log.db") as log:
        log.publish([make_tracking_event("S1", n) for n in range(1, 4)])
        got = log.receive(10)
        log.ack(got[2:])
        log.ack(got[:1])
        assert log.pending() == 0


def test_a_body_the_catalogue_cannot_read_is_delivered_with_its_error(tmp_path: Path) -> None:
    """An unknown stored type is delivered with event None and an error, not dropped or raised."""
    path = tmp_path / "log.db"
    with SQLiteEventLog(path) as log:
        log.publish([make_tracking_event("S1", 1)])
        log._conn.execute("UPDATE shipsync_events SET body = ?", (b'{"type": "nope"}',))
        (got,) = log.receive(10)
        assert got.event is None
        assert got.error is not None
        assert "UnknownEventTypeError" in got.error


@pytest.mark.parametrize("table", ["bad-name", "x; drop", "", "é"])
def test_table_names_are_checked(tmp_path: Path, table: str) -> None:
    """A table name that is not a plain identifier is a configuration error."""
    with pytest.raises(ConfigurationError):
        SQLiteEventLog(tmp_path / "log.db", table=table)


def test_an_unopenable_file_is_unavailable(tmp_path: Path) -> None:
    """A path that cannot be opened is an EventLogUnavailableError, not a raw sqlite3 error."""
    with pytest.raises(EventLogUnavailableError):
        SQLiteEventLog(tmp_path / "missing-dir" / "log.db")


def test_logs_are_webhook_sinks(tmp_path: Path) -> None:
    """The logs have the webhook receiver's sink shapes, so a receiver can hand off to them."""
    from shipsync.webhooks import AsyncEventSink, EventSink

    with SQLiteEventLog(tmp_path / "log.db") as log:
        assert isinstance(log, EventSink)
    assert isinstance(AsyncSQLiteEventLog(tmp_path / "log.db"), AsyncEventSink)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(0, 3), st.integers(1, 4)),
        st.tuples(st.just("take"), st.integers(1, 6), st.booleans()),
    ),
    max_size=25,
)


@given(OPS)
def test_any_interleaving_keeps_order_and_loses_nothing(ops: list[tuple[str, int, Any]]) -> None:
    """Whatever the mix of publishes, acks and releases, each receive hands out a partition's
    next events in order from its cursor, and draining at the end yields every event once."""
    log = SQLiteEventLog(":memory:", synchronous="NORMAL")
    published: dict[str, list[str]] = {}
    cursor: dict[str, int] = {}
    counter = 0
    try:
        for op, a, b in ops:
            if op == "publish":
                batch = []
                for _ in range(b):
                    counter += 1
                    batch.append(make_tracking_event(f"P{a}", counter))
                log.publish(batch)
                for e in batch:
                    published.setdefault(f"P{a}", []).append(e.id)
                continue
            got = log.receive(a)
            seen: dict[str, list[str]] = {}
            for d in got:
                assert d.event is not None
                seen.setdefault(d.partition, []).append(d.event.id)
            for partition, ids in seen.items():
                start = cursor.get(partition, 0)
                assert ids == published[partition][start : start + len(ids)]
            if b:
                log.ack(got)
                for partition, ids in seen.items():
                    cursor[partition] = cursor.get(partition, 0) + len(ids)
            else:
                log.release(got)
        rest: dict[str, list[str]] = {}
        while got := log.receive(50):
            for d in got:
                assert d.event is not None
                rest.setdefault(d.partition, []).append(d.event.id)
            log.ack(got)
        for partition, ids in published.items():
            assert rest.get(partition, []) == ids[cursor.get(partition, 0) :]
        assert log.pending() == 0
    finally:
        log.close()
