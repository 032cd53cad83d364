"""The PostgreSQL event log passes the shared suite; its dead letters and outages behave."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.errors import (
    ConfigurationError,
    DeadLetterNotFoundError,
    EventLogUnavailableError,
)
from shipsync.flows import (
    AsyncEventLog,
    AsyncPostgresEventLog,
    DeadLetterFilter,
    NewDeadLetter,
    PostgresDeadLetters,
    PostgresEventLog,
    partition_of,
)
from shipsync.testing.flows import EventLogConformance, OpenLog, make_tracking_event

pytestmark = pytest.mark.services


def _table() -> str:
    return f"flows_t_{uuid.uuid4().hex[:12]}"


def _drop(dsn: str, *tables: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for t in tables:
            conn.execute(f"DROP TABLE IF EXISTS {t}, {t}_partitions")


class TestPostgresConformance(EventLogConformance):
    redelivery_timeout = 5.0

    @pytest.fixture
    def open_log(self, postgres_dsn: str) -> Iterator[OpenLog]:
        table = _table()

        async def open_() -> AsyncEventLog:
            return AsyncPostgresEventLog(postgres_dsn, table=table, lease=2.5)

        yield open_
        _drop(postgres_dsn, table)


@pytest.fixture
def pg_log(postgres_dsn: str) -> Iterator[PostgresEventLog]:
    table = _table()
    log = PostgresEventLog(postgres_dsn, table=table)
    yield log
    log.close()
    _drop(postgres_dsn, table)


def test_a_cut_connection_is_unavailable_then_reconnects(
    pg_log: PostgresEventLog, postgres_dsn: str
) -> None:
    """After the server drops the connection, one call fails as unavailable; the next works."""
    pg_log.publish([make_tracking_event("S1", 1)])
    pid = pg_log.backend_pid()
    assert pid is not None
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(EventLogUnavailableError) as caught:
        pg_log.publish([make_tracking_event("S1", 2)])
    assert caught.value.retryable
    pg_log.publish([make_tracking_event("S1", 2)])
    got = pg_log.receive(10)
    assert [d.position for d in got] == [1, 2]
    pg_log.ack(got)
    assert pg_log.pending() == 0


def test_compact_deletes_only_acknowledged_events(pg_log: PostgresEventLog) -> None:
    """compact() drops acknowledged events; pending ones stay and positions go on."""
    pg_log.publish([make_tracking_event("S1", n) for n in range(1, 4)])
    pg_log.ack(pg_log.receive(2))
    assert pg_log.compact() == 2
    pg_log.publish([make_tracking_event("S1", 4)])
    assert [d.position for d in pg_log.receive(10)] == [3, 4]


def test_an_unreachable_server_is_unavailable() -> None:
    """A server that does not answer is an EventLogUnavailableError without the DSN's secret."""
    with pytest.raises(EventLogUnavailableError) as caught:
        PostgresEventLog("postgresql://u:s3cret@127.0.0.1:1/x", connect_timeout=1)
    assert "s3cret" not in str(caught.value)


def test_dead_letters_in_postgres(postgres_dsn: str) -> None:
    """Dead letters record, upsert, filter, resolve and purge in PostgreSQL; the CLI reads them."""
    table = _table()
    store = PostgresDeadLetters(postgres_dsn, table=table)
    try:
        new = NewDeadLetter(
            event_id="e1",
            event_type="shipment.in_transit",
            partition="S1",
            handler="odoo",
            body=make_tracking_event("S1", 1).to_json(),
            error_type="Boom",
            error="down",
            attempts=3,
            failed_at=1_800_000_000.0,
        )
        first = store.record(new)
        assert store.record(new) == first
        assert store.get(first).attempts == 6
        assert [x.id for x in store.list(DeadLetterFilter(handler="odoo"))] == [first]
        result = CliRunner().invoke(
            main, ["dlq", "list", "--store", postgres_dsn, "--table", table, "--json"]
        )
        assert result.exit_code == 0, result.output
        assert '"handler": "odoo"' in result.output
        store.mark_replayed(first, resolved=True, at=1_800_000_001.0)
        assert store.list() == []
        assert store.purge(DeadLetterFilter(resolved=True)) == 1
        with pytest.raises(DeadLetterNotFoundError):
            store.get(first)
    finally:
        store.drop_table()
        store.close()


def _round_trips(log: PostgresEventLog, call: Callable[[], object]) -> int:
    """How many queries ``call`` waited for, counted in libpq's trace (one ReadyForQuery each)."""
    conn = log._db._connect()
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            call()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        return sum("ReadyForQuery" in line for line in trace)


def test_receive_and_ack_are_one_round_trip_each(pg_log: PostgresEventLog) -> None:
    """A receive (pick, read and lease partitions) is one statement, and so is an ack; the
    events of each partition come in position order, and once acknowledged nothing is
    pending."""
    events = [make_tracking_event(f"S-{i % 3}", i // 3 + 1) for i in range(9)]
    pg_log.publish(events)
    got: list[Any] = []
    assert _round_trips(pg_log, lambda: got.extend(pg_log.receive(100))) == 1
    assert sorted(d.event.id for d in got) == sorted(e.id for e in events)
    by_partition: dict[str, list[int]] = {}
    for d in got:
        by_partition.setdefault(d.partition, []).append(d.position)
    assert all(p == sorted(p) for p in by_partition.values())
    assert pg_log.receive(100) == []  # leased
    assert _round_trips(pg_log, lambda: pg_log.ack(got)) == 1
    assert pg_log.pending() == 0


def test_publish_is_one_round_trip_and_numbers_each_partition_from_its_head(
    pg_log: PostgresEventLog,
) -> None:
    """A publish (create missing partitions, move their heads, insert the events) is one
    statement; a second publish to the same partitions continues their numbering."""
    first = [make_tracking_event(f"S-{i % 3}", i // 3 + 1) for i in range(6)]
    assert _round_trips(pg_log, lambda: pg_log.publish(first)) == 1
    second = [make_tracking_event(f"S-{i % 4}", i // 4 + 10) for i in range(8)]
    assert _round_trips(pg_log, lambda: pg_log.publish(second)) == 1
    got = pg_log.receive(100)
    positions: dict[str, list[tuple[int, str]]] = {}
    for d in got:
        positions.setdefault(d.partition, []).append((d.position, d.event.id))
    expected: dict[str, list[str]] = {}
    for e in first + second:
        expected.setdefault(partition_of(e), []).append(e.id)
    assert {k: [i for _, i in sorted(v)] for k, v in positions.items()} == expected
    assert {k: sorted(p for p, _ in v) for k, v in positions.items()} == {
        k: list(range(1, len(v) + 1)) for k, v in expected.items()
    }


def test_concurrent_publishers_leave_no_gap_and_keep_each_ones_order(
    postgres_dsn: str, pg_log: PostgresEventLog
) -> None:
    """Four publishers, each with its own connection, publish batches to the same partitions at
    once: every partition's positions run 1..n without a gap or a repeat, every event is there
    once, and each publisher's events keep their order within a partition."""
    publishers = 4
    batches = {
        n: [
            [make_tracking_event(f"S-{s}", 1000 * n + 10 * b + k) for s in range(5) for k in (1, 2)]
            for b in range(10)
        ]
        for n in range(publishers)
    }
    origin = {  # event id -> (publisher, its place in that publisher's sequence)
        e.id: (n, i)
        for n, mine in batches.items()
        for i, e in enumerate(e for batch in mine for e in batch)
    }

    def publish(n: int) -> None:
        with PostgresEventLog(postgres_dsn, table=pg_log.table, setup=False) as log:
            for batch in batches[n]:
                log.publish(batch)

    with ThreadPoolExecutor(publishers) as pool:
        list(pool.map(publish, range(publishers)))
    got = []
    while batch_ := pg_log.receive(1000):
        got.extend(batch_)
        pg_log.ack(batch_)
    assert sorted(d.event.id for d in got) == sorted(origin)
    by_partition: dict[str, list[Any]] = {}
    for d in got:
        by_partition.setdefault(d.partition, []).append(d)
    assert len(by_partition) == 5
    for deliveries in by_partition.values():
        deliveries.sort(key=lambda d: d.position)
        assert [d.position for d in deliveries] == list(range(1, len(deliveries) + 1))
        places = [origin[d.event.id] for d in deliveries]
        for n in range(publishers):
            mine = [i for p, i in places if p == n]
            assert len(mine) == 20
            assert mine == sorted(mine)


def test_receive_shares_its_budget_across_partitions(pg_log: PostgresEventLog) -> None:
    """With more pending events than the budget, a receive takes an even share from each
    partition it leases and never more than the budget."""
    pg_log.publish([make_tracking_event(f"S-{i % 4}", i // 4 + 1) for i in range(40)])
    got = pg_log.receive(8)
    assert len(got) == 8
    counts: dict[str, int] = {}
    for d in got:
        counts[d.partition] = counts.get(d.partition, 0) + 1
    assert all(c <= 2 for c in counts.values())


def test_publishing_to_busy_partitions_rewrites_their_rows_in_place(
    postgres_dsn: str, table_updates: Callable[[str, int], tuple[int, int]]
) -> None:
    """A publish to a partition that already has pending events moves its head in a HOT update
    (the index of pending partitions does not cover the head, and pages have room)."""
    table = _table()
    try:
        with PostgresEventLog(postgres_dsn, table=table) as log:
            shipments = [f"S{i}" for i in range(200)]
            log.publish([make_tracking_event(s, 1) for s in shipments])  # 200 rows inserted
            for seq in range(2, 6):  # 800 heads moved, every partition still pending
                log.publish([make_tracking_event(s, seq) for s in shipments])
            assert log.pending() == 1000
        updated, hot = table_updates(f"{table}_partitions", 800)  # the session has ended
        assert updated == 800
        # 800 of 800 here (PostgreSQL 15); none while the index covered head > cursor.
        assert hot >= 0.9 * updated, f"{hot} of {updated} head moves were HOT updates"
    finally:
        _drop(postgres_dsn, table)


def _old_tables(dsn: str, table: str) -> None:
    """The tables as shipsync made them before ``ready``: the index of pending partitions
    covered ``head > cursor``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (partition text NOT NULL, pos bigint NOT NULL, "
            "event_id text NOT NULL, type text NOT NULL, body bytea NOT NULL, "
            "published_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (partition, pos))"
        )
        conn.execute(
            f"CREATE TABLE {table}_partitions (partition text PRIMARY KEY, "
            "head bigint NOT NULL DEFAULT 0, cursor bigint NOT NULL DEFAULT 0, owner text, "
            "lease_until double precision NOT NULL DEFAULT 0, "
            "leased_to bigint NOT NULL DEFAULT 0, attempts int NOT NULL DEFAULT 0)"
        )
        conn.execute(
            f"CREATE INDEX {table}_partitions_pending ON {table}_partitions (lease_until) "
            "WHERE head > cursor"
        )


def test_an_older_partitions_table_is_brought_up_to_date_by_setup(postgres_dsn: str) -> None:
    """Events published before the upgrade are delivered after it, in order, and the old index
    is replaced; a log opened without setup on the old table says what to do."""
    table = _table()
    _old_tables(postgres_dsn, table)
    try:
        # What an older shipsync wrote: S1 with two pending events, S2 all acknowledged.
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            for partition, seq, pos in (("S1", 1, 1), ("S1", 2, 2), ("S2", 1, 1)):
                event = make_tracking_event(partition, seq)
                conn.execute(
                    f"INSERT INTO {table} (partition, pos, event_id, type, body) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (partition, pos, event.id, event.type, event.to_json()),
                )
            conn.execute(
                f"INSERT INTO {table}_partitions (partition, head, cursor) "
                "VALUES ('S1', 2, 0), ('S2', 1, 1)"
            )
        with (
            PostgresEventLog(postgres_dsn, table=table, setup=False) as stale,
            pytest.raises(ConfigurationError, match=f"{table}_partitions.*setup=True"),
        ):
            stale.receive(10)
        with PostgresEventLog(postgres_dsn, table=table) as log:
            got = log.receive(10)
            assert [(d.partition, d.position) for d in got] == [("S1", 1), ("S1", 2)]
            log.ack(got)
            log.publish([make_tracking_event("S2", 2)])
            again = log.receive(10)
            assert [(d.partition, d.position) for d in again] == [("S2", 2)]
            log.ack(again)
            assert log.pending() == 0
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            indexes = {
                name
                for (name,) in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = %s",
                    (f"{table}_partitions",),
                )
            }
            options = conn.execute(
                "SELECT reloptions FROM pg_class WHERE relname = %s", (f"{table}_partitions",)
            ).fetchone()
        assert indexes == {f"{table}_partitions_pkey", f"{table}_partitions_ready"}
        assert options == (["fillfactor=50"],)
        # An earlier version's setup makes its index again; the next setup here drops it.
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(
                f"CREATE INDEX {table}_partitions_pending ON {table}_partitions (lease_until) "
                "WHERE head > cursor"
            )
        PostgresEventLog(postgres_dsn, table=table).close()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE tablename = %s",
                (f"{table}_partitions",),
            ).fetchone()
        assert left == (2,)
    finally:
        _drop(postgres_dsn, table)
