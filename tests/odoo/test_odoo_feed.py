"""The RPC change feed: keyset order, look-back for late commits, dedupe, durable cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.errors import ConfigurationError, CorruptRecordError, OdooResponseError
from shipsync.odoo import (
    PICKINGS_READY,
    ChangeFeed,
    FeedCursor,
    MemoryCursorStore,
    PostgresCursorStore,
    SQLiteCursorStore,
)
from shipsync.testing.odoo import MemoryOdoo

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock the memory Odoo stamps write_date with."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _ready(odoo: MemoryOdoo, name: str, company: int = 1, *, in_transaction: bool = False) -> int:
    """A ready picking: committed at once, or through the open transaction when asked."""
    values = {
        "name": name,
        "picking_type_code": "outgoing",
        "state": "assigned",
        "carrier_id": 7,
        "carrier_tracking_ref": False,
        "company_id": company,
    }
    if in_transaction:
        created: int = odoo.call("stock.picking", "create", [values])
        return created
    return odoo.insert("stock.picking", values)


def _drain(feed: ChangeFeed) -> list[tuple[int, str]]:
    """Poll and commit until the feed has nothing more; the keys handed out, in order."""
    out: list[tuple[int, str]] = []
    while True:
        batch = feed.poll()
        out += [(c.record_id, c.write_date) for c in batch.changes]
        feed.commit(batch)
        if not batch.changes and not batch.more:
            return out


def test_records_sharing_one_write_date_are_each_handed_out_once_across_small_pages() -> None:
    """Thirty pickings stamped in the same second, read three a page, two a batch: all, once."""
    clock = Clock()
    odoo = MemoryOdoo(now=clock)
    ids = [_ready(odoo, f"WH/OUT/{n:05d}") for n in range(30)]
    feed = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore(), batch=2, page=3)
    got = _drain(feed)
    assert [i for i, _ in got] == ids


def test_a_late_commit_stamped_before_the_cursor_is_caught_by_the_look_back() -> None:
    """A transaction that started before the feed's last change but committed after it is seen."""
    clock = Clock()
    odoo = MemoryOdoo(now=clock)
    feed = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore(), lookback=timedelta(seconds=30))
    with odoo.transaction():  # starts at T0, commits after the feed passed T0 + 5 s
        late = _ready(odoo, "WH/OUT/LATE", in_transaction=True)
        clock.tick(5)
        early = _ready(odoo, "WH/OUT/EARLY")  # another session, committed at once
        assert [i for i, _ in _drain(feed)] == [early]
    assert [i for i, _ in _drain(feed)] == [late]


def test_a_late_commit_outside_the_look_back_is_missed_so_the_window_is_a_setting() -> None:
    """The window is the guarantee: a commit later than ``lookback`` behind the cursor is lost."""
    clock = Clock()
    odoo = MemoryOdoo(now=clock)
    feed = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore(), lookback=timedelta(seconds=10))
    with odoo.transaction():
        _ready(odoo, "WH/OUT/SLOW", in_transaction=True)
        clock.tick(60)
        fast = _ready(odoo, "WH/OUT/FAST")
        assert [i for i, _ in _drain(feed)] == [fast]
    assert _drain(feed) == []


def test_a_record_changed_again_comes_out_again_and_an_unchanged_one_never_does() -> None:
    """The feed hands out changes: a new write_date is a new change, a repeat poll is nothing."""
    clock = Clock()
    odoo = MemoryOdoo(now=clock)
    feed = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore())
    pid = _ready(odoo, "WH/OUT/1")
    assert [i for i, _ in _drain(feed)] == [pid]
    assert _drain(feed) == []
    clock.tick(1)
    odoo.call("stock.picking", "write", [[pid], {"origin": "S00001"}])
    assert [i for i, _ in _drain(feed)] == [pid]


def test_only_matching_records_come_out() -> None:
    """Incoming, unassigned, carrier-less or already tracked pickings are not ready to book."""
    odoo = MemoryOdoo(now=Clock())
    base = {"picking_type_code": "outgoing", "state": "assigned", "carrier_id": 7}
    odoo.insert("stock.picking", {**base, "name": "in", "picking_type_code": "incoming"})
    odoo.insert("stock.picking", {**base, "name": "waiting", "state": "confirmed"})
    odoo.insert("stock.picking", {**base, "name": "no carrier", "carrier_id": False})
    odoo.insert("stock.picking", {**base, "name": "booked", "carrier_tracking_ref": "1Z"})
    ok = odoo.insert("stock.picking", {**base, "name": "ok"})
    feed = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore())
    assert [i for i, _ in _drain(feed)] == [ok]


def test_a_feed_reads_only_its_companies_and_keeps_its_own_cursor() -> None:
    """Company 2's feed sees company 2's pickings and is named apart from company 1's."""
    odoo = MemoryOdoo(now=Clock())
    one = _ready(odoo, "A", company=1)
    two = _ready(odoo, "B", company=2)
    store = MemoryCursorStore()
    feed_one = ChangeFeed(odoo, PICKINGS_READY, store, companies=[1])
    feed_two = ChangeFeed(odoo, PICKINGS_READY, store, companies=[2])
    assert feed_one.name != feed_two.name
    assert [i for i, _ in _drain(feed_one)] == [one]
    assert [i for i, _ in _drain(feed_two)] == [two]
    assert odoo.calls  # every read went through the gateway


def test_an_uncommitted_batch_is_handed_out_again_after_a_restart(tmp_path: Path) -> None:
    """A worker that dies before commit leaves the cursor where it was: a new one gets the same."""
    odoo = MemoryOdoo(now=Clock())
    pid = _ready(odoo, "WH/OUT/1")
    path = tmp_path / "cursors.sqlite"
    with SQLiteCursorStore(path) as store:
        first = ChangeFeed(odoo, PICKINGS_READY, store).poll()
    with SQLiteCursorStore(path) as store:
        feed = ChangeFeed(odoo, PICKINGS_READY, store)
        again = feed.poll()
        assert [c.record_id for c in again.changes] == [c.record_id for c in first.changes] == [pid]
        feed.commit(again)
    with SQLiteCursorStore(path) as store:
        assert ChangeFeed(odoo, PICKINGS_READY, store).poll().changes == ()


def test_a_poll_costs_one_request_per_page_not_per_record() -> None:
    """Ninety changes in pages of 50 take two requests."""
    odoo = MemoryOdoo(now=Clock())
    for n in range(90):
        _ready(odoo, f"P{n}")
    batch = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore(), page=50).poll()
    assert len(batch.changes) == 90
    assert batch.round_trips == 2


def test_bad_settings_and_bad_answers_are_typed_errors() -> None:
    """A zero batch is a ConfigurationError; a write_date Odoo never writes an OdooResponseError."""
    odoo = MemoryOdoo(now=Clock())
    with pytest.raises(ConfigurationError):
        ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore(), batch=0)
    pid = _ready(odoo, "X")
    odoo.tables["stock.picking"][pid]["write_date"] = "yesterday"
    with pytest.raises(OdooResponseError, match="write_date"):
        ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore()).poll()
    with pytest.raises(CorruptRecordError):
        FeedCursor.from_json("{", "x")


# Each step: stamp gap (s), whether the write happens inside a slow transaction that commits
# after the next steps, and the feed's poll size.
_steps = st.lists(
    st.tuples(st.sampled_from([0, 0, 0, 1, 2]), st.booleans(), st.integers(1, 4)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40)
@given(steps=_steps, page=st.integers(1, 5))
def test_every_change_is_handed_out_exactly_once_whatever_the_stamps_and_commit_order(
    steps: list[tuple[int, bool, int]], page: int
) -> None:
    """Random writes, shared seconds and late commits inside the window: each change once."""
    clock = Clock()
    odoo = MemoryOdoo(now=clock)
    feed = ChangeFeed(odoo, PICKINGS_READY, MemoryCursorStore(), page=page, batch=3)
    handed: list[tuple[int, str]] = []
    for gap, late, _ in steps:
        clock.tick(gap)
        if late:
            with odoo.transaction():
                _ready(odoo, "late", in_transaction=True)
                clock.tick(1)
                _ready(odoo, "meanwhile")
                handed += _drain(feed)
        else:
            _ready(odoo, "now")
        handed += _drain(feed)
    expected = sorted(
        (int(r["id"]), r["write_date"]) for r in odoo.tables["stock.picking"].values()
    )
    assert sorted(handed) == expected
    assert len(handed) == len(set(handed))


def test_a_postgres_cursor_survives_a_new_connection_and_is_kept_per_feed(
    postgres_dsn: str,
) -> None:
    """The PostgreSQL store keeps each feed's cursor apart and hands it to a new connection."""
    import uuid

    odoo = MemoryOdoo(now=Clock())
    pid = _ready(odoo, "WH/OUT/PG")
    feed_name = uuid.uuid4().hex[:8]
    with PostgresCursorStore(postgres_dsn) as store:
        feed = ChangeFeed(odoo, PICKINGS_READY, store, companies=[int(feed_name, 16) % 1000 + 1])
        assert store.load(feed.name) is None
    odoo.tables["stock.picking"][pid]["company_id"] = int(feed_name, 16) % 1000 + 1
    with PostgresCursorStore(postgres_dsn) as store:
        feed = ChangeFeed(odoo, PICKINGS_READY, store, companies=[int(feed_name, 16) % 1000 + 1])
        feed.commit(feed.poll())
    with PostgresCursorStore(postgres_dsn) as store:
        feed = ChangeFeed(odoo, PICKINGS_READY, store, companies=[int(feed_name, 16) % 1000 + 1])
        cursor = feed.cursor()
        assert cursor.record_id == pid
        assert feed.poll().changes == ()
