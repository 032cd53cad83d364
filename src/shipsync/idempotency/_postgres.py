"""PostgreSQL store (psycopg 3, sync and async): one round trip per call, ``now()`` as the clock.

Theory of operation. A record is one row keyed by ``(ns, key)``; fencing tokens come from a
sequence, so they never repeat. A claim is one call of a PL/pgSQL function that runs, per key,
``INSERT ... ON CONFLICT DO NOTHING RETURNING token``; when the key exists it reads the row and
answers from it, or, when the row's lease or retention has expired by the server's ``now()``,
takes it over with ``UPDATE ... WHERE token = <the token it read> AND expires_at <= now()``
(compare-and-set) and tries again if it lost that race. Each statement inside the function sees
rows committed by others just before it, so concurrent claimants settle correctly under READ
COMMITTED. ``complete`` (a second function, so every update is a primary-key lookup whatever the
planner thinks of the table) and ``release`` match the token. A batch
first inserts all its absent keys in one statement and settles only the others one by one. The
connection runs in autocommit mode, so every call is exactly one round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from shipsync._closing import AsyncClosing
from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    CorruptRecordError,
    FingerprintMismatchError,
    MissingDependencyError,
    StaleTokenError,
    StoreUnavailableError,
)

from ._checks import check_fingerprint, check_key, check_result, check_token, seconds
from ._keys import DEFAULT_NAMESPACE, check_namespace, storage_key
from ._protocol import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Acquired,
    BatchOutcome,
    ClaimOutcome,
    Completed,
    InProgress,
    Mismatched,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["AsyncPostgresStore", "PostgresStore"]

DEFAULT_TABLE = "shipsync_idempotency"

# The table's fillfactor: a claim inserts a row and its completion rewrites it once, so half of
# each page is left free for that second version. It then stays on its page, a HOT update that
# adds nothing to the primary key's index. At 80 only about a quarter of the dispatcher's
# completions found room (``pg_stat_user_tables.n_tup_hot_upd``) and each of the others added an
# index entry. A result much larger than the claimed row (a stored HTTP response) may still not
# fit; that completion is an ordinary update, as before. A table made by an earlier version (80,
# or no setting before that) is given 50 by ``setup``: that takes no lock readers or writers wait
# for, and applies to the pages written from then on. A fillfactor somebody chose is left alone.

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
    ns text NOT NULL,
    key text NOT NULL,
    state text NOT NULL,
    fingerprint text NOT NULL,
    token bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    result bytea,
    PRIMARY KEY (ns, key)
) WITH (fillfactor = 50);
DO $up$
BEGIN
    IF coalesce((SELECT option_value FROM pg_options_to_table(
            (SELECT reloptions FROM pg_class WHERE oid = '{t}'::regclass))
        WHERE option_name = 'fillfactor'), '80') = '80' THEN
        ALTER TABLE {t} SET (fillfactor = 50);
    END IF;
END
$up$;
CREATE SEQUENCE IF NOT EXISTS {t}_fence;
CREATE OR REPLACE FUNCTION {t}_claim(
    p_ns text, p_keys text[], p_fps text[], p_lease float8, p_offset float8
) RETURNS TABLE (code int, tok bigint, res bytea) LANGUAGE plpgsql AS $fn$
DECLARE
    v_now timestamptz := now() + make_interval(secs => p_offset);
    v_until timestamptz := v_now + make_interval(secs => p_lease);
    r record;
    tries int;
    new_tokens jsonb;
BEGIN
    -- fast path: insert every absent key of the batch in one statement
    WITH ins AS (
        INSERT INTO {t} AS x (ns, key, state, fingerprint, token, expires_at)
        SELECT p_ns, u.k, 'p', u.f, nextval('{t}_fence'), v_until
        FROM unnest(p_keys, p_fps) WITH ORDINALITY AS u(k, f, o)
        ORDER BY u.o
        ON CONFLICT (ns, key) DO NOTHING
        RETURNING x.key, x.token
    )
    SELECT jsonb_object_agg(ins.key, ins.token) INTO new_tokens FROM ins;
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        -- the caller sends the keys sorted, so a key repeated in the batch follows itself: only
        -- its first occurrence takes the token the fast path inserted, the others the slow path
        IF new_tokens IS NOT NULL AND (i = 1 OR p_keys[i] <> p_keys[i - 1]) THEN
            tok := (new_tokens ->> p_keys[i])::bigint;
            IF tok IS NOT NULL THEN
                code := 0; res := NULL; RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        tries := 0;
        LOOP
            tries := tries + 1;
            IF tries > 100 THEN
                RAISE EXCEPTION 'claim did not settle' USING ERRCODE = '40001';
            END IF;
            INSERT INTO {t} AS x (ns, key, state, fingerprint, token, expires_at)
            VALUES (p_ns, p_keys[i], 'p', p_fps[i], nextval('{t}_fence'), v_until)
            ON CONFLICT (ns, key) DO NOTHING
            RETURNING x.token INTO tok;
            IF FOUND THEN
                code := 0; res := NULL; RETURN NEXT; EXIT;
            END IF;
            SELECT x.state, x.fingerprint, x.token, x.expires_at, x.result INTO r
            FROM {t} x WHERE x.ns = p_ns AND x.key = p_keys[i];
            IF NOT FOUND THEN
                CONTINUE;
            END IF;
            IF r.expires_at <= v_now THEN
                UPDATE {t} x SET state = 'p', fingerprint = p_fps[i],
                    token = nextval('{t}_fence'), expires_at = v_until, result = NULL
                WHERE x.ns = p_ns AND x.key = p_keys[i] AND x.token = r.token
                    AND x.expires_at <= v_now
                RETURNING x.token INTO tok;
                IF FOUND THEN
                    code := 0; res := NULL; RETURN NEXT; EXIT;
                END IF;
                CONTINUE;
            END IF;
            tok := NULL; res := NULL;
            IF r.state NOT IN ('p', 'c') OR (r.state = 'c' AND r.result IS NULL) THEN
                code := 4;
            ELSIF r.fingerprint <> p_fps[i] THEN
                code := 3;
            ELSIF r.state = 'c' THEN
                code := 2; res := r.result;
            ELSE
                code := 1;
            END IF;
            RETURN NEXT; EXIT;
        END LOOP;
    END LOOP;
END
$fn$;
CREATE OR REPLACE FUNCTION {t}_complete(
    p_ns text, p_keys text[], p_tokens bigint[], p_results bytea[], p_retention float8,
    p_offset float8
) RETURNS TABLE (stale text) LANGUAGE plpgsql AS $fn$
DECLARE
    v_until timestamptz := now() + make_interval(secs => p_offset + p_retention);
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        UPDATE {t} x SET state = 'c', result = p_results[i], expires_at = v_until
        WHERE x.ns = p_ns AND x.key = p_keys[i] AND x.token = p_tokens[i] AND x.state = 'p';
        IF NOT FOUND THEN
            -- completing again with the same token is a no-op, anything else is stale
            PERFORM 1 FROM {t} x
            WHERE x.ns = p_ns AND x.key = p_keys[i] AND x.token = p_tokens[i]
                AND x.state = 'c';
            IF NOT FOUND THEN
                stale := p_keys[i];
                RETURN NEXT;
            END IF;
        END IF;
    END LOOP;
END
$fn$;
"""

_COMPLETE = "SELECT stale FROM {t}_complete(%s, %b::text[], %b::bigint[], %b::bytea[], %s, %s)"

_RELEASE = "DELETE FROM {t} WHERE ns = %s AND key = %s AND token = %s AND state = 'p'"
_SWEEP = "DELETE FROM {t} WHERE ns = %s AND expires_at <= now() + make_interval(secs => %s)"
_CLAIM = "SELECT code, tok, res FROM {t}_claim(%s, %b::text[], %b::text[], %s, %s)"


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingDependencyError("PostgresStore", "postgres") from exc
    return psycopg


def _session_options(synchronous_commit: bool) -> dict[str, str]:
    return {} if synchronous_commit else {"options": "-c synchronous_commit=off"}


def _check_table(table: str) -> str:
    if not (table.isidentifier() and table.isascii() and table.islower() and len(table) <= 40):
        raise ConfigurationError("a table name is a lower-case ASCII identifier", path="table")
    return table


def _lock_order(skeys: list[str]) -> list[int]:
    """Positions of ``skeys`` sorted by key: every batch takes its row locks in one order, so
    two batches over overlapping keys wait for each other instead of deadlocking. (The claim
    function relies on this order too: a key repeated in a batch must follow itself.)"""
    if len(skeys) < 2:
        return list(range(len(skeys)))
    return sorted(range(len(skeys)), key=skeys.__getitem__)  # stable: repeats keep their order


class _PostgresBase:
    """Everything but I/O: SQL text, parameters and decoding the answers."""

    def __init__(
        self,
        *,
        namespace: str,
        table: str,
        clock_offset: Callable[[], float] | None,
    ) -> None:
        self._pg = _import_psycopg()
        self.namespace = check_namespace(namespace)
        self.table = _check_table(table)
        self._offset = clock_offset
        t = self.table
        self._schema = _SCHEMA.format(t=t)
        self._claim_sql = _CLAIM.format(t=t)
        self._complete_sql = _COMPLETE.format(t=t)
        self._release_sql = _RELEASE.format(t=t)
        self._sweep_sql = _SWEEP.format(t=t)

    def _offset_s(self) -> float:
        return 0.0 if self._offset is None else float(self._offset())

    def _claim_params(
        self, items: Sequence[tuple[str, str]], lease: timedelta
    ) -> tuple[list[int], list[Any]]:
        """The claim function's parameters, items in lock order, and that order."""
        secs = seconds(lease, "lease")
        keys = [storage_key(check_key(k)) for k, _ in items]
        fps = [check_fingerprint(fp) for _, fp in items]
        order = _lock_order(keys)
        keys, fps = [keys[i] for i in order], [fps[i] for i in order]
        return order, [self.namespace, keys, fps, secs, self._offset_s()]

    def _complete_params(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta
    ) -> list[Any]:
        secs = seconds(retention, "retention")
        keys = [storage_key(check_key(k)) for k, _, _ in items]
        tokens = [check_token(t) for _, t, _ in items]
        results = [check_result(r) for _, _, r in items]
        order = _lock_order(keys)
        return [
            self.namespace,
            [keys[i] for i in order],
            [tokens[i] for i in order],
            [results[i] for i in order],
            secs,
            self._offset_s(),
        ]

    @staticmethod
    def _outcomes(
        items: Sequence[tuple[str, str]], order: list[int], rows: list[Any]
    ) -> list[BatchOutcome]:
        if len(rows) != len(items):
            raise CorruptRecordError("the claim function answered the wrong number of rows")
        out: list[BatchOutcome | None] = [None] * len(items)
        for pos, (code, token, result) in zip(order, rows, strict=True):
            key = items[pos][0]
            if code == 0:
                out[pos] = Acquired(key, int(token))
            elif code == 1:
                out[pos] = InProgress(key)
            elif code == 2:
                out[pos] = Completed(key, bytes(result))
            elif code == 3:
                out[pos] = Mismatched(key)
            else:
                raise CorruptRecordError("stored idempotency record cannot be decoded")
        return [o for o in out if o is not None]

    @staticmethod
    def _stale(items: Sequence[tuple[str, int, bytes]], rows: list[Any]) -> list[str]:
        stale = {row[0] for row in rows}
        return [k for k, _, _ in items if storage_key(k) in stale]

    def _translate(self, exc: Exception) -> NoReturn:
        pg = self._pg
        if isinstance(exc, pg.OperationalError | pg.InterfaceError):
            raise StoreUnavailableError(
                f"PostgreSQL store unavailable: {type(exc).__name__}"
            ) from exc
        if isinstance(exc, pg.DataError):
            raise CorruptRecordError("PostgreSQL store holds a value it cannot decode") from exc
        if isinstance(exc, pg.Error):
            raise StoreUnavailableError(f"PostgreSQL store failed: {type(exc).__name__}") from exc
        raise exc


def _claim_one(key: str, outcome: BatchOutcome) -> ClaimOutcome:
    if isinstance(outcome, Mismatched):
        raise FingerprintMismatchError(key)
    return outcome


class PostgresStore(_PostgresBase):
    """A synchronous PostgreSQL store.

    Args:
        conninfo: a libpq connection string or URL; the store opens an autocommit connection and
            opens it again after the server or network failed.
        namespace: keeps these keys apart from other tenants or flows in the same table.
        table: the table (the sequence and the claim function take its name as prefix).
        setup: create the table, sequence and function when missing (idempotent; safe when
            several processes start at once).
        clock_offset: for tests only: seconds added to the server clock, to move time forward
            without sleeping. Leases are always judged by the server's ``now()``.
        synchronous_commit: ``True`` (default) waits for each claim and completion to reach
            the server's disk. ``False`` sets ``synchronous_commit = off`` for the store's session:
            several times the throughput where fsync is slow, but a crash *of the database
            server* may forget the last fraction of a second of claims and completions, and the
            work behind them could then run again.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        table: str = DEFAULT_TABLE,
        setup: bool = True,
        clock_offset: Callable[[], float] | None = None,
        connect_timeout: float = 5.0,
        synchronous_commit: bool = True,
    ) -> None:
        super().__init__(namespace=namespace, table=table, clock_offset=clock_offset)
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._options = _session_options(synchronous_commit)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        if setup:
            self.setup()

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
                self._conn = None
            conn = self._pg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(1, int(self._connect_timeout)),
                application_name="shipsync-idempotency",
                **self._options,
            )
            self._conn = conn
        return conn

    def _exec(self, sql: str, params: Any, *, fetch: bool = True) -> tuple[list[Any], int]:
        with self._lock:
            try:
                cur = self._connection().execute(sql, params)
                rows = cur.fetchall() if fetch else []
                return rows, cur.rowcount
            except Exception as exc:
                self._translate(exc)

    def setup(self) -> None:
        """Create the table, sequence and claim function when missing."""
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.table])
                    conn.execute(self._schema)
            except Exception as exc:
                self._translate(exc)

    @classmethod
    def from_url(cls, conninfo: str, **kwargs: Any) -> PostgresStore:
        """A store for ``conninfo`` (``postgresql://...`` or a libpq string), as the constructor.

        The same name as :meth:`RedisStore.from_url`, so every networked store is made alike.
        """
        return cls(conninfo, **kwargs)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """(Testing, diagnostics) the current connection, opened when needed."""
        with self._lock:
            return self._connection()

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key`` in one round trip; see :class:`~shipsync.idempotency.IdempotencyStore`."""
        items = [(key, fingerprint)]
        order, params = self._claim_params(items, lease)
        rows, _ = self._exec(self._claim_sql, params)
        return _claim_one(key, self._outcomes(items, order, rows)[0])

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs in one round trip, outcomes in order."""
        if not items:
            return []
        order, params = self._claim_params(items, lease)
        rows, _ = self._exec(self._claim_sql, params)
        return self._outcomes(items, order, rows)

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result`` in one round trip; ``StaleTokenError`` if ``token`` lost ``key``.

        Raises ``CompletionFailedError`` (``retryable=True``) when the server cannot be reached:
        retry the completion with the same token (completing twice with one token is a no-op).
        """
        self.complete_many([(key, token, result)], retention)

    def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many triples in one round trip; see :meth:`complete`."""
        if not items:
            return
        try:
            rows, _ = self._exec(self._complete_sql, self._complete_params(items, retention))
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                items[0][0], "the PostgreSQL store is unavailable", retryable=True
            ) from exc
        stale = self._stale(items, rows)
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; ``StaleTokenError`` if ``token`` no longer holds it."""
        params = [self.namespace, storage_key(check_key(key)), check_token(token)]
        _, count = self._exec(self._release_sql, params, fetch=False)
        if count != 1:
            raise StaleTokenError(key)

    def sweep(self) -> int:
        """Remove this namespace's expired records; return how many.

        Expiry is deliberately not indexed (an index on it would make every completion a
        non-HOT update that rewrites both indexes), so a sweep reads the namespace's rows: run it
        from a periodic job.
        """
        _, count = self._exec(self._sweep_sql, [self.namespace, self._offset_s()], fetch=False)
        return max(count, 0)


class AsyncPostgresStore(_PostgresBase, AsyncClosing):
    """The asynchronous twin of :class:`PostgresStore` (psycopg's ``AsyncConnection``).

    Call ``await store.setup()`` once (or use :meth:`open`) before the first claim.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        table: str = DEFAULT_TABLE,
        clock_offset: Callable[[], float] | None = None,
        connect_timeout: float = 5.0,
        synchronous_commit: bool = True,
    ) -> None:
        super().__init__(namespace=namespace, table=table, clock_offset=clock_offset)
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._options = _session_options(synchronous_commit)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._alock: Any = None

    @classmethod
    async def from_url(cls, conninfo: str, **kwargs: Any) -> AsyncPostgresStore:
        """Create a store for ``conninfo`` (a URL or libpq string) and run :meth:`setup`.

        The same name as :meth:`AsyncRedisStore.from_url`; ``open`` is its older alias.
        """
        store = cls(conninfo, **kwargs)
        await store.setup()
        return store

    @classmethod
    async def open(cls, conninfo: str, **kwargs: Any) -> AsyncPostgresStore:
        """The older name of :meth:`from_url`."""
        return await cls.from_url(conninfo, **kwargs)

    def _lock(self) -> Any:
        if self._alock is None:
            import asyncio

            self._alock = asyncio.Lock()
        return self._alock

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                await conn.close()
                self._conn = None
            conn = await self._pg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(1, int(self._connect_timeout)),
                application_name="shipsync-idempotency",
                **self._options,
            )
            self._conn = conn
        return conn

    async def _exec(self, sql: str, params: Any, *, fetch: bool = True) -> tuple[list[Any], int]:
        async with self._lock():
            try:
                cur = await (await self._connection()).execute(sql, params)
                rows = await cur.fetchall() if fetch else []
                return rows, cur.rowcount
            except Exception as exc:
                self._translate(exc)

    async def setup(self) -> None:
        """Create the table, sequence and claim function when missing."""
        async with self._lock():
            try:
                conn = await self._connection()
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.table])
                    await conn.execute(self._schema)
            except Exception as exc:
                self._translate(exc)

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """See :meth:`PostgresStore.claim`."""
        items = [(key, fingerprint)]
        order, params = self._claim_params(items, lease)
        rows, _ = await self._exec(self._claim_sql, params)
        return _claim_one(key, self._outcomes(items, order, rows)[0])

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """See :meth:`PostgresStore.claim_many`."""
        if not items:
            return []
        order, params = self._claim_params(items, lease)
        rows, _ = await self._exec(self._claim_sql, params)
        return self._outcomes(items, order, rows)

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`PostgresStore.complete`."""
        await self.complete_many([(key, token, result)], retention)

    async def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`PostgresStore.complete_many`."""
        if not items:
            return
        try:
            rows, _ = await self._exec(self._complete_sql, self._complete_params(items, retention))
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                items[0][0], "the PostgreSQL store is unavailable", retryable=True
            ) from exc
        stale = self._stale(items, rows)
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    async def release(self, key: str, token: int) -> None:
        """See :meth:`PostgresStore.release`."""
        params = [self.namespace, storage_key(check_key(key)), check_token(token)]
        _, count = await self._exec(self._release_sql, params, fetch=False)
        if count != 1:
            raise StaleTokenError(key)

    async def sweep(self) -> int:
        """See :meth:`PostgresStore.sweep`."""
        _, count = await self._exec(
            self._sweep_sql, [self.namespace, self._offset_s()], fetch=False
        )
        return max(count, 0)
