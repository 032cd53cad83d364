"""Outbound webhook endpoints, messages, deliveries and attempts, in one SQLite file.

Theory of operation. An *endpoint* is a customer's URL with its signing secrets (several while
one is being rotated), the event types it wants, whether its messages go out in order, its rate
limit and whether private addresses are allowed. A *message* is one signed body, stored once; a
*delivery* is (message, endpoint) with its state (``pending``, ``succeeded``, ``failed``), its
attempt count and the time of its next attempt; every *attempt* is recorded with its status,
latency, error and a capped, redacted excerpt of the response.

Senders claim due deliveries by pushing their ``next_at`` one lease ahead in the claiming
transaction, so several senders (threads, processes) never attempt one delivery at once, and a
sender that dies leaves its claims to expire and be attempted again (at least once: receivers
drop repeats by the ``webhook-id``, which is the message id on every attempt).
"""

from __future__ import annotations

import builtins
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from os import PathLike
from typing import TYPE_CHECKING, Any

import attrs

from shipsync.errors import ConfigurationError, InvalidInputError
from shipsync.webhooks import generate_secret

from ._sqlite import Connection, Database, PostgresDatabase, SQLiteDatabase

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = [
    "Attempt",
    "Delivery",
    "Endpoint",
    "EndpointStore",
    "PostgresEndpointStore",
    "SigningSecret",
    "redact",
]

_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


@attrs.frozen
class SigningSecret:
    """One signing secret; ``expires_at`` (Unix seconds) is set on the old one of a rotation."""

    secret: str = attrs.field(repr=False)
    expires_at: float | None = None


@attrs.frozen
class Endpoint:
    """A customer's webhook URL and how to deliver to it."""

    id: str
    url: str
    secrets: tuple[SigningSecret, ...] = attrs.field(repr=False)
    event_types: frozenset[str] | None = None
    ordered: bool = False
    rate_limit: float | None = None
    allow_private: bool = False
    disabled: bool = False
    disabled_reason: str | None = None
    failing_since: float | None = None
    created_at: float = 0.0
    description: str = ""

    def active_secrets(self, now: float) -> list[str]:
        """The secrets to sign with at ``now`` (the old one of a rotation until it expires)."""
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > now]

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint takes ``event_type``."""
        return self.event_types is None or event_type in self.event_types

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict without secrets."""
        return {
            "id": self.id,
            "url": self.url,
            "event_types": sorted(self.event_types) if self.event_types is not None else None,
            "ordered": self.ordered,
            "rate_limit": self.rate_limit,
            "allow_private": self.allow_private,
            "disabled": self.disabled,
            "disabled_reason": self.disabled_reason,
            "failing_since": _iso(self.failing_since),
            "secrets": len(self.secrets),
            "description": self.description,
        }


@attrs.frozen
class Delivery:
    """One message for one endpoint, as claimed by a sender."""

    message_id: str
    endpoint_id: str
    event_type: str
    body: bytes = attrs.field(repr=False)
    attempts: int
    created_at: float


@attrs.frozen
class Attempt:
    """One recorded attempt."""

    id: int
    message_id: str
    endpoint_id: str
    at: datetime
    status: int | None
    latency_ms: float
    ok: bool
    error: str | None
    response: str
    trigger: str

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "message_id": self.message_id,
            "endpoint_id": self.endpoint_id,
            "at": self.at.isoformat(),
            "status": self.status,
            "latency_ms": round(self.latency_ms, 1),
            "ok": self.ok,
            "error": self.error,
            "response": self.response,
            "trigger": self.trigger,
        }


def _iso(value: float | None) -> str | None:
    stamp = _ts(value)
    return stamp.isoformat() if stamp else None


_REDACTIONS = (
    (re.compile(r"wh(?:sec|sk|pk)_[A-Za-z0-9+/=]+"), "wh***_***"),
    (
        re.compile(r"(?i)(bearer|basic|token|api[_-]?key|secret|password)([\"'=: ]+)[^\s\"'&,;]+"),
        r"\1\2***",
    ),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "***@***"),
    (re.compile(r"\b[A-Za-z0-9+/_\-]{32,}={0,2}"), "***"),
)


def redact(text: str, limit: int) -> str:
    """``text`` capped at ``limit`` characters, with secrets, tokens and e-mail addresses hidden."""
    out = text[: limit * 2]
    for pattern, replacement in _REDACTIONS:
        out = pattern.sub(replacement, out)
    return out[:limit]


@attrs.define
class _Result:
    """What one attempt gave, to be recorded with the others of its batch."""

    delivery: Delivery
    at: float
    status: int | None
    latency_ms: float
    ok: bool
    error: str | None
    response: str
    trigger: str = "scheduled"


def _schema(*, serial: str, real: str, blob: str) -> tuple[str, ...]:
    """The tables, in the types of one engine (the column order is the same on both)."""
    return (
        "CREATE TABLE IF NOT EXISTS wh_endpoints (id TEXT PRIMARY KEY, url TEXT NOT NULL, "
        "secrets TEXT NOT NULL, event_types TEXT, ordered INTEGER NOT NULL DEFAULT 0, "
        f"rate_limit {real}, allow_private INTEGER NOT NULL DEFAULT 0, "
        f"disabled INTEGER NOT NULL DEFAULT 0, disabled_reason TEXT, failing_since {real}, "
        f"created_at {real} NOT NULL, description TEXT NOT NULL DEFAULT '')",
        f"CREATE TABLE IF NOT EXISTS wh_messages (seq {serial}, "
        f"id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, body {blob} NOT NULL, "
        f"created_at {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS wh_deliveries (message_id TEXT NOT NULL, "
        "endpoint_id TEXT NOT NULL, seq BIGINT NOT NULL, state TEXT NOT NULL, "
        f"attempts INTEGER NOT NULL DEFAULT 0, next_at {real} NOT NULL, "
        f"updated_at {real} NOT NULL, PRIMARY KEY (message_id, endpoint_id))",
        "CREATE INDEX IF NOT EXISTS wh_deliveries_due ON wh_deliveries (state, next_at)",
        "CREATE INDEX IF NOT EXISTS wh_deliveries_order ON wh_deliveries (endpoint_id, state, seq)",
        f"CREATE TABLE IF NOT EXISTS wh_attempts (id {serial}, "
        f"message_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, at {real} NOT NULL, "
        f"status INTEGER, latency_ms {real} NOT NULL, ok INTEGER NOT NULL, error TEXT, "
        "response TEXT NOT NULL, trigger TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wh_attempts_endpoint ON wh_attempts (endpoint_id, id)",
    )


_SQLITE_SCHEMA = _schema(serial="INTEGER PRIMARY KEY AUTOINCREMENT", real="REAL", blob="BLOB")
_PG_SCHEMA = _schema(serial="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION", blob="BYTEA")


class EndpointStore:
    """Endpoints, messages, deliveries and attempts in a SQLite file.

    Args:
        path: the database file, created when missing.
        clock: Unix seconds (tests pass a fake one).
        encryption_key: a Fernet key (or several, newest first, while rotating it) from the
            host's secret store; the endpoints' signing secrets are then kept encrypted in the
            database, and a store holding encrypted secrets will not open them without it.
            Without a key the secrets are kept as they are: give the file the permissions of
            a secret.
    """

    @staticmethod
    def generate_key() -> str:
        """A new random encryption key (a Fernet key, url-safe base64)."""
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode("ascii")

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        encryption_key: str | Sequence[str] | None = None,
    ):
        self.clock = clock
        self._fernet = _fernet(encryption_key)
        self.db: Database = SQLiteDatabase(path, _SQLITE_SCHEMA, what="webhook endpoint store")

    # -- secrets at rest ---------------------------------------------------------------------

    def _seal(self, secrets: builtins.list[builtins.list[Any]]) -> str:
        """The secrets column: JSON, encrypted (``fernet:<token>``) when the store has a key."""
        text = json.dumps(secrets)
        if self._fernet is None:
            return text
        return _SEALED + self._fernet.encrypt(text.encode()).decode("ascii")

    def _open_secrets(self, value: str, endpoint_id: str) -> builtins.list[Any]:
        if not value.startswith(_SEALED):
            return list(json.loads(value))
        if self._fernet is None:
            raise ConfigurationError(
                f"the secrets of endpoint {endpoint_id!r} are encrypted: open the store with "
                "its encryption_key",
                path="encryption_key",
            )
        from cryptography.fernet import InvalidToken

        try:
            return list(json.loads(self._fernet.decrypt(value[len(_SEALED) :].encode("ascii"))))
        except InvalidToken as exc:
            raise ConfigurationError(
                f"the secrets of endpoint {endpoint_id!r} do not open with this encryption_key",
                path="encryption_key",
            ) from exc

    def encrypt_secrets(self) -> int:
        """Encrypt (again, under the first key) every endpoint's secrets; return how many.

        Run it after giving a store its first key, or after putting a new key first: the
        other keys still open what they sealed until this has run.
        """
        if self._fernet is None:
            raise ConfigurationError("the store has no encryption_key", path="encryption_key")

        def write(conn: Connection) -> int:
            rows = conn.execute("SELECT id, secrets FROM wh_endpoints").fetchall()
            conn.executemany(
                "UPDATE wh_endpoints SET secrets = ? WHERE id = ?",
                [(self._seal(self._open_secrets(value, eid)), eid) for eid, value in rows],
            )
            return len(rows)

        return self.db.tx(write)

    def _endpoint(self, row: Sequence[Any]) -> Endpoint:
        return _endpoint(row, self._open_secrets(row[2], row[0]))

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # -- endpoints ---------------------------------------------------------------------------

    def add(
        self,
        url: str,
        *,
        id: str | None = None,
        secret: str | None = None,
        event_types: Iterable[str] | None = None,
        ordered: bool = False,
        rate_limit: float | None = None,
        allow_private: bool = False,
        description: str = "",
    ) -> Endpoint:
        """Register an endpoint; a ``whsec_`` secret is generated when none is given."""
        endpoint_id = id or f"ep_{uuid.uuid4().hex[:16]}"
        if not _ID.fullmatch(endpoint_id):
            raise InvalidInputError("an endpoint id is 1-64 letters, digits, _ . -", path="id")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInputError("an endpoint URL starts with http:// or https://", path="url")
        if len(url) > 2000:
            raise InvalidInputError("an endpoint URL is at most 2000 characters", path="url")
        if rate_limit is not None and not 0 < rate_limit < float("inf"):
            raise InvalidInputError("a rate limit is a positive number per second", path="rate")
        key = secret or generate_secret()
        _check_secret(key)
        types = sorted(set(event_types)) if event_types is not None else None
        now = self.clock()

        def write(conn: Connection) -> None:
            added = conn.execute(
                "INSERT INTO wh_endpoints (id, url, secrets, event_types, ordered, rate_limit, "
                "allow_private, created_at, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (
                    endpoint_id,
                    url,
                    self._seal([[key, None]]),
                    json.dumps(types) if types is not None else None,
                    int(ordered),
                    rate_limit,
                    int(allow_private),
                    now,
                    description,
                ),
            )
            if added.rowcount == 0:
                raise InvalidInputError(f"an endpoint {endpoint_id!r} exists already", path="id")

        self.db.tx(write)
        return self.get(endpoint_id)

    def get(self, endpoint_id: str) -> Endpoint:
        """The endpoint ``endpoint_id``; ``InvalidInputError`` if there is none."""
        found = self.db.tx(
            lambda c: c.execute(
                "SELECT * FROM wh_endpoints WHERE id = ?", (endpoint_id,)
            ).fetchone()
        )
        if found is None:
            raise InvalidInputError(f"no endpoint {endpoint_id!r}", path="endpoint")
        return self._endpoint(found)

    def list(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        rows = self.db.tx(
            lambda c: c.execute("SELECT * FROM wh_endpoints ORDER BY created_at, id").fetchall()
        )
        return [self._endpoint(r) for r in rows]

    def _update(self, endpoint_id: str, sql: str, args: Sequence[Any]) -> Endpoint:
        def write(conn: Connection) -> int:
            return conn.execute(
                f"UPDATE wh_endpoints SET {sql} WHERE id = ?", (*args, endpoint_id)
            ).rowcount

        if self.db.tx(write) == 0:
            raise InvalidInputError(f"no endpoint {endpoint_id!r}", path="endpoint")
        return self.get(endpoint_id)

    def disable(self, endpoint_id: str, reason: str = "disabled by hand") -> Endpoint:
        """Stop delivering to the endpoint; its deliveries wait."""
        return self._update(endpoint_id, "disabled = 1, disabled_reason = ?", (reason[:500],))

    def enable(self, endpoint_id: str) -> Endpoint:
        """Deliver to the endpoint again; its health starts afresh."""
        return self._update(
            endpoint_id, "disabled = 0, disabled_reason = NULL, failing_since = NULL", ()
        )

    def rotate_secret(
        self, endpoint_id: str, secret: str | None = None, *, overlap: float = 86_400.0
    ) -> str:
        """Sign with a new secret; the current ones keep signing for ``overlap`` seconds more.

        Returns the new secret (give it to the endpoint's owner).
        """
        key = secret or generate_secret()
        _check_secret(key)
        endpoint = self.get(endpoint_id)
        now = self.clock()
        kept = [
            [s.secret, min(s.expires_at or now + overlap, now + overlap)]
            for s in endpoint.secrets
            if s.expires_at is None or s.expires_at > now
        ]
        self._update(endpoint_id, "secrets = ?", (self._seal([[key, None], *kept]),))
        return key

    # -- messages and deliveries -------------------------------------------------------------

    def accept(self, message_id: str, event_type: str, body: bytes) -> builtins.list[str]:
        """Store a message once and a pending delivery per endpoint that wants it.

        Accepting the same id again changes nothing. Returns the endpoint ids it goes to.
        """
        now = self.clock()

        def write(conn: Connection) -> builtins.list[str]:
            cur = conn.execute(
                "INSERT INTO wh_messages (id, event_type, body, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (message_id, event_type, body, now),
            )
            if cur.rowcount == 0:
                rows = conn.execute(
                    "SELECT endpoint_id FROM wh_deliveries WHERE message_id = ?", (message_id,)
                ).fetchall()
                return [r[0] for r in rows]
            seq = conn.execute(
                "SELECT seq FROM wh_messages WHERE id = ?", (message_id,)
            ).fetchone()[0]
            targets = [
                eid
                for eid, types in conn.execute(
                    "SELECT id, event_types FROM wh_endpoints ORDER BY id"
                ).fetchall()
                if types is None or event_type in json.loads(types)
            ]
            conn.executemany(
                "INSERT INTO wh_deliveries (message_id, endpoint_id, seq, state, next_at, "
                "updated_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                [(message_id, ep, seq, now, now) for ep in targets],
            )
            return targets

        return self.db.tx(write)

    def claim(
        self, now: float, lease: float, limit: int = 100, message_id: str | None = None
    ) -> builtins.list[Delivery]:
        """Claim due deliveries of enabled endpoints (only the head of an ordered endpoint)."""

        def write(conn: Connection) -> builtins.list[Delivery]:
            sql = (
                "SELECT d.message_id, d.endpoint_id, m.event_type, m.body, d.attempts, "
                "m.created_at, e.ordered, d.seq FROM wh_deliveries d "
                "JOIN wh_messages m ON m.id = d.message_id "
                "JOIN wh_endpoints e ON e.id = d.endpoint_id "
                "WHERE d.state = 'pending' AND d.next_at <= ? AND e.disabled = 0"
            )
            args: builtins.list[Any] = [now]
            if message_id is not None:
                sql += " AND d.message_id = ?"
                args.append(message_id)
            sql += " ORDER BY d.next_at, d.seq LIMIT ?"
            args.append(limit)
            out = []
            for mid, eid, etype, body, attempts, created, ordered, seq in conn.execute(
                sql, args
            ).fetchall():
                if ordered:
                    head = conn.execute(
                        "SELECT MIN(seq) FROM wh_deliveries WHERE endpoint_id = ? "
                        "AND state = 'pending'",
                        (eid,),
                    ).fetchone()[0]
                    if head != seq:
                        continue
                out.append(Delivery(mid, eid, etype, bytes(body), attempts, created))
            conn.executemany(
                "UPDATE wh_deliveries SET next_at = ?, updated_at = ? "
                "WHERE message_id = ? AND endpoint_id = ?",
                [(now + lease, now, d.message_id, d.endpoint_id) for d in out],
            )
            return out

        return self.db.tx(write)

    def record(
        self,
        results: Sequence[_Result],
        *,
        next_at: Callable[[int], float | None],
        disable_after: float,
    ) -> None:
        """Record attempts; move each delivery on (done, retry at ``next_at(attempts)``, failed).

        An endpoint that has failed every attempt for ``disable_after`` seconds is disabled.
        """

        def write(conn: Connection) -> None:
            conn.executemany(
                "INSERT INTO wh_attempts (message_id, endpoint_id, at, status, latency_ms, ok, "
                "error, response, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.delivery.message_id,
                        r.delivery.endpoint_id,
                        r.at,
                        r.status,
                        r.latency_ms,
                        int(r.ok),
                        r.error,
                        r.response,
                        r.trigger,
                    )
                    for r in results
                ],
            )
            succeeded = [r for r in results if r.ok]
            conn.executemany(
                "UPDATE wh_deliveries SET state = 'succeeded', attempts = ?, next_at = ?, "
                "updated_at = ? WHERE message_id = ? AND endpoint_id = ?",
                [
                    (
                        r.delivery.attempts + 1,
                        r.at,
                        r.at,
                        r.delivery.message_id,
                        r.delivery.endpoint_id,
                    )
                    for r in succeeded
                ],
            )
            conn.executemany(
                "UPDATE wh_endpoints SET failing_since = NULL WHERE id = ?",
                [(eid,) for eid in sorted({r.delivery.endpoint_id for r in succeeded})],
            )
            for r in results:
                if r.ok:
                    continue
                d = r.delivery
                attempts = d.attempts + 1
                later = next_at(attempts)
                state, when = ("pending", later) if later is not None else ("failed", r.at)
                conn.execute(
                    "UPDATE wh_endpoints SET failing_since = COALESCE(failing_since, ?) "
                    "WHERE id = ?",
                    (r.at, d.endpoint_id),
                )
                conn.execute(
                    "UPDATE wh_endpoints SET disabled = 1, disabled_reason = ? "
                    "WHERE id = ? AND disabled = 0 AND failing_since <= ?",
                    (
                        f"every attempt failed for {disable_after:.0f} s",
                        d.endpoint_id,
                        r.at - disable_after,
                    ),
                )
                conn.execute(
                    "UPDATE wh_deliveries SET state = ?, attempts = ?, next_at = ?, "
                    "updated_at = ? WHERE message_id = ? AND endpoint_id = ?",
                    (state, attempts, when, r.at, d.message_id, d.endpoint_id),
                )

        if results:
            self.db.tx(write)

    def attempts(self, endpoint_id: str | None = None, limit: int = 50) -> builtins.list[Attempt]:
        """The latest attempts (of one endpoint, or all), newest first."""
        sql = "SELECT * FROM wh_attempts"
        args: builtins.list[Any] = []
        if endpoint_id is not None:
            sql += " WHERE endpoint_id = ?"
            args.append(endpoint_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        rows = self.db.tx(lambda c: c.execute(sql, args).fetchall())
        return [
            Attempt(
                id=r[0],
                message_id=r[1],
                endpoint_id=r[2],
                at=datetime.fromtimestamp(r[3], tz=UTC),
                status=r[4],
                latency_ms=r[5],
                ok=bool(r[6]),
                error=r[7],
                response=r[8],
                trigger=r[9],
            )
            for r in rows
        ]

    def deliveries(self, state: str | None = None) -> dict[tuple[str, str], tuple[str, int]]:
        """(message id, endpoint id) -> (state, attempts), optionally of one state."""
        sql = "SELECT message_id, endpoint_id, state, attempts FROM wh_deliveries"
        args: builtins.list[Any] = []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(state)
        rows = self.db.tx(lambda c: c.execute(sql, args).fetchall())
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    def replay(
        self,
        *,
        endpoint_id: str | None = None,
        message_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        include_succeeded: bool = False,
    ) -> int:
        """Send deliveries again from a fresh schedule; return how many were queued.

        By default only ``failed`` deliveries (the schedule ran out) are replayed; with
        ``include_succeeded`` delivered ones go out once more too. ``since``/``until`` select
        messages by the time they were accepted (Unix seconds, ``until`` exclusive).
        """
        if since is not None and until is not None and until <= since:
            raise InvalidInputError("until must be after since", path="until")
        states = ("failed", "succeeded") if include_succeeded else ("failed",)
        sql = (
            "UPDATE wh_deliveries SET state = 'pending', attempts = 0, next_at = ?, updated_at = ? "
            f"WHERE state IN ({', '.join('?' for _ in states)})"
        )
        now = self.clock()
        args: builtins.list[Any] = [now, now, *states]
        if endpoint_id is not None:
            self.get(endpoint_id)
            sql += " AND endpoint_id = ?"
            args.append(endpoint_id)
        if message_id is not None:
            sql += " AND message_id = ?"
            args.append(message_id)
        if since is not None or until is not None:
            sql += " AND message_id IN (SELECT id FROM wh_messages WHERE created_at >= ? "
            sql += "AND created_at < ?)"
            args += [
                since if since is not None else float("-inf"),
                until if until is not None else float("inf"),
            ]
        return int(self.db.tx(lambda c: c.execute(sql, args).rowcount))


class PostgresEndpointStore(EndpointStore):
    """:class:`EndpointStore` in a PostgreSQL database: several hosts share its endpoints.

    Args:
        conninfo: a ``postgresql://`` URL or libpq ``key=value`` string (psycopg 3, the
            ``postgres`` extra). The tables are made when missing.
        clock: Unix seconds.
        encryption_key: as for :class:`EndpointStore`.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        clock: Callable[[], float] = time.time,
        encryption_key: str | Sequence[str] | None = None,
    ) -> None:
        self.clock = clock
        self._fernet = _fernet(encryption_key)
        self.db = PostgresDatabase(conninfo, _PG_SCHEMA, what="webhook endpoint store")


def _check_secret(secret: str) -> None:
    if not isinstance(secret, str) or not secret.startswith(("whsec_", "whsk_")):
        raise ConfigurationError("an endpoint secret is a whsec_… or whsk_… string", path="secret")


_SEALED = "fernet:"


def _fernet(key: str | Sequence[str] | None) -> MultiFernet | None:
    """A MultiFernet of ``key`` (one key, or several: the first seals, any opens)."""
    if key is None:
        return None
    from cryptography.fernet import Fernet, MultiFernet

    keys = [key] if isinstance(key, str | bytes) else list(key)
    if not keys:
        raise ConfigurationError("give at least one encryption key", path="encryption_key")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            "an encryption key is a Fernet key: 32 url-safe base64-encoded bytes "
            "(EndpointStore.generate_key())",
            path="encryption_key",
        ) from exc


def _endpoint(row: Sequence[Any], secrets: Sequence[Any]) -> Endpoint:
    (
        eid,
        url,
        _sealed,
        types,
        ordered,
        rate,
        private,
        disabled,
        reason,
        failing,
        created,
        description,
    ) = row
    return Endpoint(
        id=eid,
        url=url,
        secrets=tuple(SigningSecret(s, e) for s, e in secrets),
        event_types=frozenset(json.loads(types)) if types is not None else None,
        ordered=bool(ordered),
        rate_limit=rate,
        allow_private=bool(private),
        disabled=bool(disabled),
        disabled_reason=reason,
        failing_since=failing,
        created_at=created,
        description=description,
    )
