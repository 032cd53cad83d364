"""PostgreSQL event log and dead letters (psycopg 3): many workers on many machines.

Theory of operation. The tables are those of the SQLite log: ``{table}`` holds events keyed by
``(partition, pos)``; ``{table}_partitions`` holds each partition's ``head``, ``cursor`` and
lease. A publish is one statement: it upserts the rows of its partitions in sorted order,
moving each ``head`` past its events (which locks those rows until it commits), and inserts the
events numbered up to the new heads, so positions are handed out in commit order and a consumer
can never move a cursor past a position that is not committed yet. A
consumer picks partitions with pending events (``ready``, a column PostgreSQL keeps equal to
``head > cursor``) and a free lease with ``FOR UPDATE SKIP LOCKED``: a partition that another
consumer or a publisher is touching is skipped, never waited for. The index of pending
partitions covers ``ready`` and the lease, not ``head``, and the table leaves half of each page
free, so a publish to a partition that already has pending events rewrites its row in place (a
HOT update: no new index entries). A receive is one statement (pick, read, lease), so one round
trip, and an acknowledgement is one too; a receive's lease is advisory, so its commit does not
wait for the WAL fsync (losing it in a server crash only lets another consumer deliver the same
events again, which the dispatcher's idempotency absorbs). Leases are judged on the database
clock, so machines need no clock agreement. Losing the connection (a restart,
``pg_terminate_backend``) raises ``EventLogUnavailableError``; the next call reconnects.

A partitions table made before ``ready`` existed is brought up to date by the first log opened
with ``setup=True``: PostgreSQL rewrites it under an exclusive lock (one row per partition), and
a log opened with ``setup=False`` on a table not yet brought up to date raises
``ConfigurationError`` at its first receive.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shipsync._closing import Closing
from shipsync.canonical import Event, EventCatalogue, default_catalogue
from shipsync.errors import (
    ConfigurationError,
    DeadLetterNotFoundError,
    EventLogUnavailableError,
    MissingDependencyError,
)
from shipsync.telemetry import _hooks as _telemetry

from ._deadletters import (
    _COLUMNS,
    MAX_ERROR_CHARS,
    DeadLetter,
    DeadLetterFilter,
    NewDeadLetter,
    first_failure,
    row_to_letter,
)
from ._log import Delivery, decode_delivery, partition_of
from ._sqlite import DEFAULT_TABLE, check_table
from ._threaded import ThreadedAsyncLog

__all__ = ["AsyncPostgresEventLog", "PostgresDeadLetters", "PostgresEventLog"]

T = TypeVar("T")

_NOW = "extract(epoch from clock_timestamp())"
# Whether a partition has events no consumer has acknowledged; PostgreSQL computes it.
_READY = "ready boolean GENERATED ALWAYS AS (head > cursor) STORED"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise MissingDependencyError("the PostgreSQL event log", "postgres") from exc
    return psycopg


class _Connection:
    """One psycopg connection, reopened after it is lost; every error becomes ours."""

    def __init__(self, conninfo: str, connect_timeout: float, what: str) -> None:
        self._pg = _psycopg()
        self._conninfo = conninfo
        self._timeout = connect_timeout
        self._what = what
        self._conn: Any = None
        self._lock = threading.RLock()

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            try:
                # autocommit: a one-statement call is one round trip; transactions are explicit
                self._conn = self._pg.connect(
                    self._conninfo, connect_timeout=max(1, int(self._timeout)), autocommit=True
                )
            except self._pg.Error as exc:
                raise EventLogUnavailableError(
                    f"cannot connect to the {self._what}: {type(exc).__name__}"
                ) from exc
        return self._conn

    def tx(self, fn: Callable[[Any], T], *, retries: int = 3, single: bool = False) -> T:
        """Run ``fn(cursor)`` in a transaction, or (``single``: ``fn`` runs one statement) as
        that statement's own transaction, which saves the round trips of BEGIN and COMMIT."""
        with self._lock:
            for attempt in range(retries):
                conn = self._connect()
                try:
                    if single:
                        with conn.cursor() as cur:
                            return fn(cur)
                    with conn.transaction(), conn.cursor() as cur:
                        return fn(cur)
                except (
                    self._pg.errors.DeadlockDetected,
                    self._pg.errors.SerializationFailure,
                    self._pg.errors.UniqueViolation,
                ) as exc:
                    if attempt == retries - 1:
                        raise EventLogUnavailableError(
                            f"{self._what}: conflict did not settle ({type(exc).__name__})"
                        ) from exc
                except self._pg.Error as exc:
                    if conn.closed or isinstance(exc, self._pg.OperationalError):
                        self.drop()
                    raise EventLogUnavailableError(
                        f"{self._what} unavailable: {type(exc).__name__}: {str(exc)[:200]}"
                    ) from exc
            raise AssertionError("unreachable")  # pragma: no cover

    def drop(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(self._pg.Error):
                    self._conn.close()
                self._conn = None

    def backend_pid(self) -> int | None:
        """The server process id of the open connection (for tests that cut it)."""
        conn = self._conn
        return None if conn is None or conn.closed else int(conn.info.backend_pid)


class PostgresEventLog:
    """An event log in PostgreSQL. Each instance holds one connection; open one per worker.

    Args:
        conninfo: a libpq DSN (``postgresql://user@host/db``).
        table: base name of the tables (``{table}``, ``{table}_partitions``).
        lease: seconds a consumer holds a partition before another may take it over.
        catalogue: parses stored events.
        setup: create the tables when missing.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        table: str = DEFAULT_TABLE,
        lease: float = 30.0,
        catalogue: EventCatalogue = default_catalogue,
        setup: bool = True,
        connect_timeout: float = 5.0,
    ) -> None:
        if lease <= 0:
            raise ConfigurationError("lease must be positive", path="lease")
        self.table = t = check_table(table)
        self.lease = lease
        self.catalogue = catalogue
        self._p = p = f"{t}_partitions"
        self._db = _Connection(conninfo, connect_timeout, "PostgreSQL event log")
        # A publish numbers each partition's events from its head: the upsert creates missing
        # partitions and moves each head past the batch's events, locking the rows in partition
        # order (so two publishers never deadlock) until the statement commits; a consumer reads
        # only committed heads, so it never skips a position that is still being written. The
        # events of a partition take the positions up to its new head, in batch order.
        self._sql_publish = (
            "WITH v AS MATERIALIZED (SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], "
            "%b::bytea[]) WITH ORDINALITY AS v(partition, event_id, type, body, o)), "
            "c AS MATERIALIZED (SELECT partition, count(*) AS n FROM v GROUP BY partition), "
            f"h AS (INSERT INTO {p} AS p (partition, head) SELECT partition, n FROM c "
            "ORDER BY partition ON CONFLICT (partition) "
            "DO UPDATE SET head = p.head + excluded.head "
            "RETURNING p.partition, p.head) "
            f"INSERT INTO {t} (partition, pos, event_id, type, body) "
            "SELECT v.partition, h.head - c.n + row_number() OVER (PARTITION BY v.partition "
            "ORDER BY v.o), v.event_id, v.type, v.body "
            "FROM v JOIN c USING (partition) JOIN h USING (partition)"
        )
        self._sql_receive = (
            "WITH clock AS MATERIALIZED ("
            f"SELECT {_NOW} AS now, set_config('synchronous_commit', 'off', true)), "
            "picked AS MATERIALIZED ("
            f"SELECT partition, cursor, attempts, lease_until FROM {p} "
            "WHERE ready AND lease_until <= (SELECT now FROM clock) "
            "ORDER BY lease_until LIMIT %(budget)s FOR UPDATE SKIP LOCKED), "
            "numbered AS (SELECT partition, cursor, attempts, "
            "row_number() OVER (ORDER BY lease_until, partition) AS n, count(*) OVER () AS k "
            "FROM picked), "
            "got AS MATERIALIZED (SELECT c.partition, e.pos, e.body, c.attempts, c.n "
            "FROM numbered c CROSS JOIN LATERAL "
            f"(SELECT pos, body FROM {t} t WHERE t.partition = c.partition "
            "AND t.pos > c.cursor ORDER BY pos "
            "LIMIT ceil(%(budget)s::numeric / c.k)::bigint) e "
            "ORDER BY c.n, e.pos LIMIT %(budget)s), "
            f"leased AS (UPDATE {p} AS p SET owner = %(owner)s, "
            "lease_until = (SELECT now FROM clock) + %(lease)s, leased_to = g.top, "
            "attempts = p.attempts + 1 "
            "FROM (SELECT partition, max(pos) AS top FROM got GROUP BY partition) g "
            "WHERE p.partition = g.partition) "
            "SELECT partition, pos, body, attempts FROM got ORDER BY n, pos"
        )
        if setup:
            self._db.tx(self._setup)

    def _setup(self, cur: Any) -> None:
        t, p = self.table, self._p
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (t,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {t} (partition text NOT NULL, "
            "pos bigint NOT NULL, event_id text NOT NULL, type text NOT NULL, "
            "body bytea NOT NULL, published_at timestamptz NOT NULL DEFAULT now(), "
            "PRIMARY KEY (partition, pos))"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {p} (partition text PRIMARY KEY, "
            "head bigint NOT NULL DEFAULT 0, cursor bigint NOT NULL DEFAULT 0, "
            "owner text, lease_until double precision NOT NULL DEFAULT 0, "
            "leased_to bigint NOT NULL DEFAULT 0, attempts int NOT NULL DEFAULT 0, "
            f"{_READY}) WITH (fillfactor = 50)"
        )
        self._upgrade(cur)
        cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_ready ON {p} (lease_until) WHERE ready")

    def _upgrade(self, cur: Any) -> None:
        """Bring a partitions table made before ``ready`` existed up to date, in the caller's
        transaction: the column (PostgreSQL rewrites the table, with half of each page free),
        and the old index of pending partitions goes (the caller makes the new one). An earlier
        version's setup, run after this one, makes that index again; the next setup here drops
        it, since publishes cannot be HOT updates while an index covers the head."""
        p = self._p
        cur.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'ready' "
            "AND NOT attisdropped",
            (p,),
        )
        if cur.fetchone() is None:
            cur.execute(f"ALTER TABLE {p} SET (fillfactor = 50)")
            cur.execute(f"ALTER TABLE {p} ADD COLUMN {_READY}")
        cur.execute("SELECT to_regclass(%s)", (f"{p}_pending",))
        row = cur.fetchone()
        if row is not None and row[0] is not None:
            cur.execute(f"DROP INDEX {p}_pending")

    def close(self) -> None:
        """Close the connection; unacknowledged deliveries come again once their lease ends."""
        self._db.drop()

    def __enter__(self) -> PostgresEventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def backend_pid(self) -> int | None:
        """The server process id of this log's connection, if open."""
        return self._db.backend_pid()

    @_telemetry.traced_publish  # telemetry
    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` in one transaction; durable when this returns."""
        if not events:
            return
        cols: tuple[list[Any], ...] = ([], [], [], [])
        for e in events:
            cols[0].append(partition_of(e))
            cols[1].append(e.id)
            cols[2].append(e.type)
            cols[3].append(e.to_json())
        # One statement, its own transaction: one round trip, durable at its commit.
        self._db.tx(lambda cur: cur.execute(self._sql_publish, cols), single=True)

    def receive(self, max_events: int = 100, timeout: float = 0.0) -> list[Delivery]:
        """Lease partitions with pending events and return up to ``max_events`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            got = self._db.tx(lambda cur: self._receive(cur, max(1, max_events)), single=True)
            if got or time.monotonic() >= deadline:
                return got
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _receive(self, cur: Any, budget: int) -> list[Delivery]:
        # One statement, so one round trip: pick partitions, read up to an even share of the
        # budget from each, lease them. The lease is advisory (a lost one only lets another
        # consumer deliver the same events again, which the dispatcher's idempotency absorbs),
        # so this transaction does not wait for its WAL to reach disk.
        owner = uuid.uuid4().hex
        try:
            cur.execute(self._sql_receive, {"budget": budget, "owner": owner, "lease": self.lease})
        except _psycopg().errors.UndefinedColumn as exc:
            raise ConfigurationError(
                f"{self._p} was made by an older shipsync: open the log once with setup=True "
                "to bring it up to date",
                path="setup",
            ) from exc
        return [
            decode_delivery(
                self.catalogue, partition, int(pos), bytes(body), int(attempts) + 1, owner
            )
            for partition, pos, body, attempts in cur.fetchall()
        ]

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Move each partition's cursor to its highest acknowledged position."""
        if not deliveries:
            return
        top: dict[tuple[str, str], int] = {}
        for d in deliveries:
            key = (d.partition, str(d.receipt))
            top[key] = max(top.get(key, 0), d.position)
        items = sorted(top.items())
        self._db.tx(
            single=True,
            fn=lambda cur: cur.execute(
                f"UPDATE {self._p} AS p SET cursor = greatest(p.cursor, v.pos), "
                "attempts = CASE WHEN v.pos > p.cursor THEN 0 ELSE p.attempts END, "
                "lease_until = CASE WHEN p.owner = v.owner AND v.pos >= p.leased_to THEN 0 "
                "ELSE p.lease_until END, "
                "owner = CASE WHEN p.owner = v.owner AND v.pos >= p.leased_to THEN NULL "
                "ELSE p.owner END "
                "FROM unnest(%b::text[], %b::text[], %b::bigint[]) AS v(partition, owner, pos) "
                "WHERE p.partition = v.partition",
                (
                    [k[0] for k, _ in items],
                    [k[1] for k, _ in items],
                    [pos for _, pos in items],
                ),
            ),
        )

    def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Free the partitions' leases; their events come again after ``delay`` seconds."""
        if not deliveries:
            return
        keys = sorted({(d.partition, str(d.receipt)) for d in deliveries})
        self._db.tx(
            lambda cur: cur.execute(
                f"UPDATE {self._p} AS p SET owner = NULL, lease_until = {_NOW} + %s "
                "FROM unnest(%b::text[], %b::text[]) AS v(partition, owner) "
                "WHERE p.partition = v.partition AND p.owner = v.owner",
                (max(0.0, delay), [k[0] for k in keys], [k[1] for k in keys]),
            )
        )

    def pending(self) -> int:
        """How many published events are not acknowledged yet."""

        def read(cur: Any) -> int:
            cur.execute(f"SELECT coalesce(sum(head - cursor), 0) FROM {self._p}")
            return int(cur.fetchone()[0])

        return self._db.tx(read)

    def compact(self) -> int:
        """Delete acknowledged events (positions stay as they are); return how many."""

        def write(cur: Any) -> int:
            cur.execute(
                f"DELETE FROM {self.table} t USING {self._p} p "
                "WHERE t.partition = p.partition AND t.pos <= p.cursor"
            )
            return int(cur.rowcount)

        return self._db.tx(write)

    def drop_tables(self) -> None:
        """Drop this log's tables (tests and benchmarks clean up with it)."""
        self._db.tx(
            lambda cur: cur.execute(f"DROP TABLE IF EXISTS {self.table}, {self._p}"),
        )


class AsyncPostgresEventLog(ThreadedAsyncLog):
    """:class:`PostgresEventLog` for asyncio; takes the same arguments."""

    sync: PostgresEventLog

    def __init__(
        self,
        conninfo: str,
        *,
        table: str = DEFAULT_TABLE,
        lease: float = 30.0,
        catalogue: EventCatalogue = default_catalogue,
        setup: bool = True,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            PostgresEventLog(
                conninfo,
                table=table,
                lease=lease,
                catalogue=catalogue,
                setup=setup,
                connect_timeout=connect_timeout,
            ),
            poll_interval=0.05,
        )

    async def pending(self) -> int:
        """How many published events are not acknowledged yet."""
        return self.sync.pending()


class PostgresDeadLetters(Closing):
    """Dead letters in PostgreSQL."""

    def __init__(
        self,
        conninfo: str,
        *,
        table: str = "shipsync_dead_letters",
        setup: bool = True,
        connect_timeout: float = 5.0,
    ) -> None:
        self.table = t = check_table(table)
        self._db = _Connection(conninfo, connect_timeout, "PostgreSQL dead letter store")
        if setup:
            self._db.tx(
                lambda cur: [
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (t,)),
                    cur.execute(
                        f"CREATE TABLE IF NOT EXISTS {t} (id bigserial PRIMARY KEY, "
                        "event_id text NOT NULL, event_type text NOT NULL, "
                        "partition text NOT NULL, handler text NOT NULL, body bytea NOT NULL, "
                        "error_type text NOT NULL, error text NOT NULL, attempts int NOT NULL, "
                        "first_failed_at double precision NOT NULL, "
                        "last_failed_at double precision NOT NULL, "
                        "replays int NOT NULL DEFAULT 0, resolved_at double precision, "
                        "UNIQUE (event_id, handler))"
                    ),
                ]
            )

    def record(self, letter: NewDeadLetter) -> int:
        """Record or update the letter of (event, handler); return its id."""

        def write(cur: Any) -> int:
            cur.execute(
                f"INSERT INTO {self.table} AS d (event_id, event_type, partition, handler, body, "
                "error_type, error, attempts, first_failed_at, last_failed_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (event_id, handler) DO UPDATE "
                "SET error_type = excluded.error_type, error = excluded.error, "
                "attempts = d.attempts + excluded.attempts, "
                "last_failed_at = excluded.last_failed_at, resolved_at = NULL RETURNING id",
                (
                    letter.event_id,
                    letter.event_type,
                    letter.partition,
                    letter.handler,
                    letter.body,
                    letter.error_type,
                    letter.error[:MAX_ERROR_CHARS],
                    letter.attempts,
                    first_failure(letter),
                    letter.failed_at,
                ),
            )
            return int(cur.fetchone()[0])

        return self._db.tx(write)

    def get(self, letter_id: int) -> DeadLetter:
        """One letter; ``DeadLetterNotFoundError`` if there is none with that id."""

        def read(cur: Any) -> Any:
            cur.execute(f"SELECT {_COLUMNS} FROM {self.table} WHERE id = %s", (int(letter_id),))
            return cur.fetchone()

        row = self._db.tx(read)
        if row is None:
            raise DeadLetterNotFoundError(f"no dead letter has id {int(letter_id)}")
        return row_to_letter(row)

    def list(self, where: DeadLetterFilter | None = None, limit: int = 1000) -> list[DeadLetter]:
        """Letters matching ``where`` (default: the open ones), oldest first."""
        clause, params = (where or DeadLetterFilter()).where("%s")

        def read(cur: Any) -> list[Any]:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {self.table} {clause} ORDER BY id LIMIT %s",
                [*params, int(limit)],
            )
            return list(cur.fetchall())

        return [row_to_letter(r) for r in self._db.tx(read)]

    def mark_replayed(self, letter_id: int, *, resolved: bool, at: float) -> None:
        """Count a replay; a successful one resolves the letter."""
        self._db.tx(
            lambda cur: cur.execute(
                f"UPDATE {self.table} SET replays = replays + 1, "
                "resolved_at = CASE WHEN %s THEN %s ELSE resolved_at END WHERE id = %s",
                (resolved, at, int(letter_id)),
            )
        )

    def purge(self, where: DeadLetterFilter) -> int:
        """Delete the letters matching ``where``; return how many."""
        clause, params = where.where("%s")

        def write(cur: Any) -> int:
            cur.execute(f"DELETE FROM {self.table} {clause}", params)
            return int(cur.rowcount)

        return self._db.tx(write)

    def drop_table(self) -> None:
        """Drop the table (tests clean up with it)."""
        self._db.tx(lambda cur: cur.execute(f"DROP TABLE IF EXISTS {self.table}"))

    def close(self) -> None:
        """Close the connection."""
        self._db.drop()
