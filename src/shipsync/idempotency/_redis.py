"""Redis store (redis-py, sync and asyncio): one round trip per operation, the server's clock.

Theory of operation. A record is one Redis string ``<prefix>:{<namespace>}:<storage key>`` whose
value packs the whole record, ``<state><token>:<n>:<fingerprint><result>``: the state is ``p``
(in progress) or ``c`` (completed), ``n`` is the fingerprint's length in bytes and the result
(raw bytes) runs to the end. Fencing tokens come from one counter per namespace,
``<prefix>:{<namespace>}#fence``, so they never repeat even after a record is gone.

Time is the record's own native TTL: a claim writes the record with ``SET … PX`` set a grace
moment (``_GRACE_MS``) past the end of its lease, a completion rewrites it with the retention in
the same way, and a claim that finds a record asks ``PTTL`` whether the lease or retention is
over. Leases are thus judged by the Redis server's clock, never a worker's, and Redis itself
removes expired records: no ``TIME`` call, no stored expiry and no index is kept up per call. (A
test's ``clock_offset`` moves that judgement forward, and lengthens the TTLs written meanwhile by
the same amount, so a test sees exactly the expiries it would see after sleeping; the offset is
counted from a day ahead, so that stepping the test clock back never asks for a negative TTL.)

Every operation is one Lua script (``EVALSHA``), which Redis runs atomically, doing as few
commands as the contract allows: a first claim is ``INCR`` and ``SET … NX``; a replay adds
``GET`` and ``PTTL``; a completion is ``GET`` and ``SET``. ``complete`` and ``release`` are
compare-and-set on the token, so a stale holder changes nothing; a lease that ran out but was
not taken over can still be completed during the grace moment. The one-key scripts answer with
one value (an integer or the result's bytes), the cheapest reply to encode and parse, and inline
their parsing (a Lua function definition costs every call a closure). :meth:`RedisStore.sweep`
walks the namespace's keys with ``SCAN`` and removes records whose lease or retention is over
(only the grace moment or a test offset leaves any); it costs a walk of the database, so run it
rarely, if at all. The braces are a hash tag: all keys of a namespace live in one Redis Cluster
slot, so a batch script never sees ``CROSSSLOT``. Records of the store's earlier layout (hashes)
are still read, and rewritten in this layout when taken over or completed.

Cost. On the server a script costs a few microseconds to start and a few more per
``redis.call``. A claim's two commands (the fencing ``INCR``, then ``SET … NX``) and a
completion's two (``GET`` and ``SET``: compare-and-set on the token) are the least that keeps
fencing, so the server spends four to five times what two bare ``SET`` commands cost. Redis
Functions (``FCALL``) were measured on Redis 7.0 and cost these scripts the same server time as
``EVALSHA``; neither ``string.format`` nor ``PSETEX`` made a difference either, so none is used.
On the client the arguments every call repeats (script SHA, key count, fence key, TTL) go to
redis-py as bytes encoded once, the one-key calls build one flat tuple, and a claim carries the
test clock offset only when the store has one. :class:`RedisStore` sends on a connection it keeps
out of the client's pool (see :class:`_Lane`): the pool's checkout and ``execute_command``'s
wrappers were a third of a call's client CPU. :class:`AsyncRedisStore` keeps its ``from_url``
timeout as its own deadline rather than a socket timeout, under which redis-py's asyncio client
makes a task per command.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
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
    import redis
    import redis.asyncio

__all__ = ["AsyncRedisStore", "RedisStore"]

DEFAULT_PREFIX = "shipsync:idem"
_GRACE_MS = 1000
# A test's clock offset is counted from a day ahead: the TTLs written under it stay positive when
# the test steps its clock back (see the module docstring), at the price of longer-lived test keys.
_OFFSET_BIAS_MS = 86_400_000
_SWEEP_BATCH = 500
_TIMED_OUT = "Redis store unavailable: no answer within the store's timeout"
# EVALSHA's key counts, encoded once: redis-py encodes an int argument anew on every call.
_NUMKEYS = (b"0", b"1", b"2")

# Records of the earlier layout (a hash: state s, fingerprint f, token t, expiry e in ms of the
# server clock, result r) are still answered from, and rewritten in the new layout when a claim
# takes one over or its holder completes it, so an upgrade keeps every live lease and result.
# Only the rare branch where GET meets a hash pays for this.
_LEGACY_CLAIM_FN = """
local function legacy_claim(k, fp, record, px)
  local h = redis.pcall('HMGET', k, 's', 'f', 'e', 'r')
  if h.err then return 4, 0 end
  local s, f, e, r = h[1], h[2], tonumber(h[3]), h[4]
  if (s ~= 'p' and s ~= 'c') or not f or not e or (s == 'c' and not r) then return 4, 0 end
  local t = redis.call('TIME')
  if e > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then
    if f ~= fp then return 3, 0 end
    if s == 'c' then return 2, r end
    return 1, 0
  end
  redis.call('DEL', k)
  redis.call('SET', k, record, 'PX', px)
  return 0, -1
end
"""
_LEGACY_COMPLETE_FN = """
local function legacy_complete(k, token, result, px)
  local h = redis.pcall('HMGET', k, 's', 'f', 't')
  if h.err or h[3] ~= token or not h[2] then return 0 end
  if h[1] == 'c' then return 1 end
  if h[1] ~= 'p' then return 0 end
  redis.call('DEL', k)
  redis.call('SET', k, 'c' .. token .. ':' .. #h[2] .. ':' .. h[2] .. result, 'PX', px)
  return 1
end
"""

# The record codec, for the batch and sweep scripts: state, token (as text), fingerprint and the
# position where the result starts, or nothing for a value that is not a record. The one-key
# scripts inline it: defining a Lua function costs every call a closure.
_PARSE = """
local function parse(v)
  local s, tok, n, at = string.match(v, '^([pc])(%d+):(%d+):()')
  if not s then return nil end
  n = tonumber(n)
  if #v < at + n - 1 then return nil end
  return s, tok, string.sub(v, at, at + n - 1), at + n
end
"""

# A record's lease or retention is over when its native TTL, less the grace, is within the
# test offset (ms; ARGV[3] of the one-key claim, absent without one, ARGV[2] of the batch claim):
# PTTL is the server's clock at work. A claim
# first tries to create the record (``SET … NX``), the common case, and only reads it when it is
# there; a claim that finds a record has spent a fencing token for nothing, which is harmless.
# KEYS: record key, fence key. ARGV: TTL ms (lease + grace + offset), fingerprint, then the clock
# offset ms only when the store has a test clock (an argument less to pack and parse on every
# production claim). One value back: the token (an integer > 0) when acquired, the result (a string)
# when completed, -1 in progress, -3 fingerprint mismatch, -4 not a record.
_CLAIM_ONE = """
local k, fp = KEYS[1], ARGV[2]
local token = redis.call('INCR', KEYS[2])
local record = string.format('p%d:%d:', token, #fp) .. fp
if redis.call('SET', k, record, 'NX', 'PX', ARGV[1]) then return token end
local v = redis.pcall('GET', k)
if type(v) == 'table' then
  LEGACY_CLAIM
  local code, value = legacy_claim(k, fp, record, ARGV[1])
  if code == 0 then return token end
  if code == 2 then return value end
  return -code
end
if type(v) ~= 'string' then return -4 end
local s, n, at = string.match(v, '^([pc])%d+:(%d+):()')
if not s then return -4 end
n = tonumber(n)
if #v < at + n - 1 then return -4 end
local ttl = redis.call('PTTL', k)
if ttl < 0 then return -4 end
if ttl - GRACE_MS > tonumber(ARGV[3] or 0) then
  if n ~= #fp or string.sub(v, at, at + n - 1) ~= fp then return -3 end
  if s == 'c' then return string.sub(v, at + n) end
  return -1
end
redis.call('SET', k, record, 'PX', ARGV[1])
return token
""".replace("GRACE_MS", str(_GRACE_MS)).replace("LEGACY_CLAIM", _LEGACY_CLAIM_FN)

# KEYS: record keys..., fence key. ARGV: TTL ms, clock offset ms, fingerprints... Returns code,
# value pairs: 0 acquired (the token), 1 in progress, 2 completed (the result), 3 fingerprint
# mismatch, 4 not a record.
_CLAIM_MANY = (
    _PARSE
    + _LEGACY_CLAIM_FN
    + """
local px, offset, fence = ARGV[1], tonumber(ARGV[2]), KEYS[#KEYS]
local function claim(k, fp)
  local token = redis.call('INCR', fence)
  local record = string.format('p%d:%d:', token, #fp) .. fp
  if redis.call('SET', k, record, 'NX', 'PX', px) then return 0, token end
  local v = redis.pcall('GET', k)
  if type(v) == 'table' then
    local code, value = legacy_claim(k, fp, record, px)
    if code == 0 then return 0, token end
    return code, value
  end
  if type(v) ~= 'string' then return 4, 0 end
  local s, tok, f, at = parse(v)
  if not s then return 4, 0 end
  local ttl = redis.call('PTTL', k)
  if ttl < 0 then return 4, 0 end
  if ttl - GRACE_MS > offset then
    if f ~= fp then return 3, 0 end
    if s == 'c' then return 2, string.sub(v, at) end
    return 1, 0
  end
  redis.call('SET', k, record, 'PX', px)
  return 0, token
end
local out = {}
for i = 1, #KEYS - 1 do
  local code, value = claim(KEYS[i], ARGV[i + 2])
  out[#out + 1] = code
  out[#out + 1] = value
end
return out
"""
).replace("GRACE_MS", str(_GRACE_MS))

# KEYS: record key. ARGV: TTL ms (retention + grace + offset), token, result. Returns 1 recorded
# (or already recorded with that token), 0 stale or not a record. The completed record keeps the
# claim's token and fingerprint: 'c' replaces 'p' and the result is appended.
_COMPLETE_ONE = """
local k = KEYS[1]
local v = redis.pcall('GET', k)
if type(v) == 'table' then
  LEGACY_COMPLETE
  return legacy_complete(k, ARGV[2], ARGV[3], ARGV[1])
end
if type(v) ~= 'string' then return 0 end
local s, tok, n, at = string.match(v, '^([pc])(%d+):(%d+):()')
if tok ~= ARGV[2] then return 0 end
if s == 'c' then return 1 end
local fp_end = at + tonumber(n) - 1
if #v < fp_end then return 0 end
redis.call('SET', k, 'c' .. string.sub(v, 2, fp_end) .. ARGV[3], 'PX', ARGV[1])
return 1
""".replace("LEGACY_COMPLETE", _LEGACY_COMPLETE_FN)

# KEYS: record keys... ARGV: TTL ms, then token, result pairs. Returns one flag per key.
_COMPLETE_MANY = (
    _PARSE
    + _LEGACY_COMPLETE_FN
    + """
local px = ARGV[1]
local out = {}
for i = 1, #KEYS do
  local k, ok = KEYS[i], 0
  local v = redis.pcall('GET', k)
  if type(v) == 'table' then
    ok = legacy_complete(k, ARGV[2 * i], ARGV[2 * i + 1], px)
  elseif type(v) == 'string' then
    local s, tok, f = parse(v)
    if s and tok == ARGV[2 * i] then
      if s == 'p' then
        redis.call('SET', k, 'c' .. tok .. ':' .. #f .. ':' .. f .. ARGV[2 * i + 1], 'PX', px)
      end
      ok = 1
    end
  end
  out[i] = ok
end
return out
"""
)

# KEYS: record key. ARGV: token. Returns 1 released, 0 stale.
_RELEASE = """
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and string.match(v, '^p(%d+):') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if type(v) == 'table' then
  local h = redis.pcall('HMGET', KEYS[1], 's', 't')
  if not h.err and h[1] == 'p' and h[2] == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
end
return 0
"""

# KEYS: record keys found by SCAN. ARGV: clock offset ms. Deletes the records among them whose
# lease or retention is over; returns how many. Values that are not records are left alone.
_SWEEP = (
    _PARSE
    + """
local offset = tonumber(ARGV[1])
local n = 0
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'string' and parse(v) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl >= 0 and ttl - GRACE_MS <= offset then
      redis.call('DEL', KEYS[i])
      n = n + 1
    end
  end
end
return n
"""
).replace("GRACE_MS", str(_GRACE_MS))


@dataclass(frozen=True, slots=True)
class _Script:
    """A registered script (loaded and run by redis-py's ``Script`` when the server lacks it),
    its SHA1 as EVALSHA sends it and its source as SCRIPT LOAD sends it, encoded once."""

    script: Any
    sha: bytes
    source: bytes

    @classmethod
    def register(cls, client: Any, source: str) -> _Script:
        script = client.register_script(source)
        return cls(script, script.sha.encode("ascii"), source.encode())


class _Lane:
    """One connection of a client's pool, kept by a store for its own calls.

    A call through ``execute_command`` takes a connection from the pool and gives it back, and the
    pool locks, counts and checks each one it hands out; with the command's retry and
    instrumentation wrappers that is a third of a one-key call's client CPU. The lane takes one
    connection once and sends on it directly, holding ``lock`` while it does. A thread that finds
    the lane busy borrows a connection from the pool for its call, so threads still run side by
    side.

    Before each command the lane checks its connection as the pool would (a ``poll`` with no
    wait, about 1.5 µs) and replaces one the server closed. Neither path resends a command whose
    fate is unknown, whatever retry policy the client has: any error (a timeout, a lost
    connection, an interrupted read) closes the connection, so no late reply can be read as the
    answer to a later call, and the next call reconnects. An error reply (``NOSCRIPT``,
    ``WRONGTYPE``) is read whole and keeps the connection. In a process forked after the lane
    took its connection, the lane takes a new one: the inherited socket belongs to the parent.
    """

    __slots__ = ("_conn", "_errors", "_get_args", "_pid", "_pool", "lock")

    def __init__(self, pool: Any, errors: Any) -> None:
        self._pool = pool
        self._errors = errors
        self._get_args = _get_connection_args(pool)
        self._conn: Any = None
        self._pid = 0
        self.lock = threading.Lock()

    def send(self, args: tuple[Any, ...]) -> Any:
        """Send ``args`` as one command and return the reply: on the kept connection when it is
        free, else on one borrowed from the pool for this call."""
        if self.lock.acquire(blocking=False):
            try:
                return self.call(args)
            finally:
                self.lock.release()
        conn = self._borrow()
        try:
            return self._exchange(conn, args)
        finally:
            self._pool.release(conn)

    def call(self, args: tuple[Any, ...]) -> Any:
        """Send ``args`` as one command on the kept connection (the caller holds ``lock``)."""
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._take()
        try:
            # As the pool does before it hands a connection out: one that has data waiting or
            # that the server closed while it was idle (its timeout, CLIENT KILL, a proxy) is
            # replaced before the command goes out, so the command is never lost on it.
            try:
                stale = conn.can_read()
            except (self._errors.ConnectionError, self._errors.TimeoutError, OSError):
                stale = True
            if stale:
                conn.disconnect()
                conn.connect()
        except BaseException:
            conn.disconnect()
            raise
        return self._exchange(conn, args)

    def _exchange(self, conn: Any, args: tuple[Any, ...]) -> Any:
        """One command and its reply on ``conn``; any failure but an error reply closes it."""
        try:
            conn.send_command(*args)
            return conn.read_response()
        except self._errors.ResponseError:
            raise  # an error reply (NOSCRIPT, WRONGTYPE), read whole: the connection is sound
        except BaseException:
            conn.disconnect()
            raise

    def _take(self) -> Any:
        self._conn = None
        conn = self._borrow()
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _borrow(self) -> Any:
        """A connection from the pool, checked by the pool as it hands it out."""
        return self._pool.get_connection(*self._get_args)

    def give_back(self, *, wait: bool = True) -> None:
        """Return the connection to the pool (when the store closes, or is collected: then
        without waiting for the lock, which no call of a collected store can hold)."""
        if not self.lock.acquire(blocking=wait):
            return
        try:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                self._pool.release(conn)
        finally:
            self.lock.release()


def _get_connection_args(pool: Any) -> tuple[str, ...]:
    """What ``pool.get_connection`` needs: redis-py before 5.3 asks for a command name (which
    it ignores); later versions take none, and warn when given one."""
    try:
        first = next(iter(inspect.signature(pool.get_connection).parameters.values()), None)
    except (TypeError, ValueError):
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if first is not None and first.kind in positional and first.default is first.empty:
        return ("EVALSHA",)
    return ()


def _lane_for(client: Any) -> _Lane | None:
    """A lane for a plain ``redis.Redis`` client; none for a cluster client (no single pool), a
    client that already keeps one connection (``single_connection_client``), or one with
    client-side caching, whose connections receive invalidation pushes that the pool handles
    and the lane would take for a stale connection."""
    pool = getattr(client, "connection_pool", None)
    if pool is None or getattr(client, "connection", None) is not None:
        return None
    if getattr(pool, "cache", None) is not None:
        return None
    if not hasattr(pool, "get_connection") or not hasattr(pool, "release"):
        return None
    return _Lane(pool, _import_redis().exceptions)


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError("RedisStore", "redis") from exc
    return redis


def _ms(delta: timedelta, what: str) -> int:
    return int(seconds(delta, what) * 1000)


def unpack_record(value: bytes) -> tuple[str, int, str, bytes]:
    """(Testing and inspection) a stored value as state (``p`` or ``c``), token, fingerprint
    and result; ``CorruptRecordError`` when it is not a record."""
    try:
        head, _, rest = value.partition(b":")
        size, _, rest = rest.partition(b":")
        state, token, n = head[:1].decode("ascii"), int(head[1:]), int(size)
        if state not in ("p", "c") or len(rest) < n:
            raise ValueError(state)
        return state, token, rest[:n].decode("utf-8"), rest[n:]
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptRecordError("stored idempotency record cannot be decoded") from exc


class _RedisBase:
    """Everything but I/O: key layout, script arguments and decoding the answers."""

    def __init__(
        self,
        client: Any,
        *,
        namespace: str,
        prefix: str,
        clock_offset: Callable[[], float] | None,
    ) -> None:
        self._redis = _import_redis()
        pool = getattr(client, "connection_pool", None)
        if pool is not None and pool.connection_kwargs.get("decode_responses"):
            raise ConfigurationError(
                "RedisStore needs a client with decode_responses=False", path="client"
            )
        self.client = client
        self.namespace = check_namespace(namespace)
        check_namespace(prefix)
        self.prefix = prefix
        self._offset = clock_offset
        self._base = f"{prefix}:{{{self.namespace}}}:"
        self._fence = f"{prefix}:{{{self.namespace}}}#fence"
        # The arguments every call repeats go to redis-py as bytes, which it sends as they are:
        # a str or int is encoded anew on every call (a tenth of a claim's client CPU).
        self._fence_arg = self._fence.encode()
        self._claim = _Script.register(client, _CLAIM_MANY)
        self._claim_one = _Script.register(client, _CLAIM_ONE)
        self._complete = _Script.register(client, _COMPLETE_MANY)
        self._complete_one = _Script.register(client, _COMPLETE_ONE)
        self._release = _Script.register(client, _RELEASE)
        self._sweep = _Script.register(client, _SWEEP)
        self._no_script = self._redis.exceptions.NoScriptError
        self._spans: dict[tuple[timedelta, str], int] = {}
        self._ttl_args: dict[tuple[timedelta, str], bytes] = {}

    def _span_ms(self, span: timedelta, what: str) -> int:
        """``span`` in milliseconds, checked once per distinct value."""
        if type(span) is not timedelta:
            return _ms(span, what)
        known = self._spans.get((span, what))
        if known is None:
            known = _ms(span, what)
            if len(self._spans) < 64:
                self._spans[(span, what)] = known
        return known

    def _ttl_ms(self, span: timedelta, what: str, offset: int) -> int:
        """The native TTL of a record whose lease or retention is ``span``: a grace moment past
        its end, moved by the test offset so that the scripts judge it on the offset clock."""
        return max(1, self._span_ms(span, what) + _GRACE_MS + offset)

    def _ttl_arg(self, span: timedelta, what: str) -> bytes:
        """:meth:`_ttl_ms` without a test offset, as the script argument, encoded once per
        distinct span."""
        if type(span) is not timedelta:
            return b"%d" % self._ttl_ms(span, what, 0)
        known = self._ttl_args.get((span, what))
        if known is None:
            known = b"%d" % self._ttl_ms(span, what, 0)
            if len(self._ttl_args) < 64:
                self._ttl_args[(span, what)] = known
        return known

    # The one-key calls build the script's key count, keys and arguments as one flat tuple, which
    # goes to execute_command as it is: no lists to build and unpack on the way.

    def _claim_one_args(self, key: str, fingerprint: str, lease: timedelta) -> tuple[Any, ...]:
        k = self._base + storage_key(check_key(key))
        if self._offset is None:
            ttl = self._ttl_arg(lease, "lease")
            return 2, k, self._fence_arg, ttl, check_fingerprint(fingerprint)
        offset = self._offset_ms()
        ttl_ms = self._ttl_ms(lease, "lease", offset)
        return 2, k, self._fence_arg, ttl_ms, check_fingerprint(fingerprint), offset

    def _complete_one_args(
        self, key: str, token: int, result: bytes, retention: timedelta
    ) -> tuple[Any, ...]:
        k = self._base + storage_key(check_key(key))
        if self._offset is None:
            ttl: bytes | int = self._ttl_arg(retention, "retention")
        else:
            ttl = self._ttl_ms(retention, "retention", self._offset_ms())
        return 1, k, ttl, b"%d" % check_token(token), check_result(result)

    @staticmethod
    def _claimed(key: str, raw: Any) -> ClaimOutcome:
        """The outcome of a one-key claim from its one-value answer (see ``_CLAIM_ONE``)."""
        if type(raw) is int:
            if raw > 0:
                return Acquired(key, raw)
            if raw == -1:
                return InProgress(key)
            if raw == -3:
                raise FingerprintMismatchError(key)
        elif isinstance(raw, bytes):
            return Completed(key, raw)
        raise CorruptRecordError("stored idempotency record cannot be decoded")

    def record_key(self, key: str) -> str:
        """The Redis key that holds the record of ``key``."""
        return self._base + storage_key(check_key(key))

    def _offset_ms(self) -> int:
        if self._offset is None:
            return 0
        return int(self._offset() * 1000) + _OFFSET_BIAS_MS

    def _claim_args(self, items: Sequence[tuple[str, str]], lease: timedelta) -> tuple[Any, ...]:
        keys = [self.record_key(k) for k, _ in items]
        keys.append(self._fence)
        offset = self._offset_ms()
        args: list[Any] = [self._ttl_ms(lease, "lease", offset), offset]
        args.extend(check_fingerprint(fp) for _, fp in items)
        return len(keys), *keys, *args

    def _complete_args(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta
    ) -> tuple[Any, ...]:
        keys = [self.record_key(k) for k, _, _ in items]
        args: list[Any] = [self._ttl_ms(retention, "retention", self._offset_ms())]
        for _, token, result in items:
            args.append(check_token(token))
            args.append(check_result(result))
        return len(keys), *keys, *args

    def _sweep_pattern(self) -> str:
        # prefix and namespace hold none of SCAN's glob characters (check_namespace)
        return self._base + "*"

    @staticmethod
    def _outcomes(items: Sequence[tuple[str, str]], raw: Any) -> list[BatchOutcome]:
        out: list[BatchOutcome] = []
        for i, (key, _) in enumerate(items):
            code, value = raw[2 * i], raw[2 * i + 1]
            if code == 0:
                out.append(Acquired(key, int(value)))
            elif code == 1:
                out.append(InProgress(key))
            elif code == 2:
                out.append(Completed(key, bytes(value)))
            elif code == 3:
                out.append(Mismatched(key))
            else:
                raise CorruptRecordError("stored idempotency record cannot be decoded")
        return out

    @staticmethod
    def _stale(items: Sequence[tuple[str, int, bytes]], flags: Any) -> list[str]:
        return [item[0] for item, ok in zip(items, flags, strict=True) if not ok]

    def _translate(self, exc: Exception) -> NoReturn:
        errors = self._redis.exceptions
        if isinstance(exc, errors.ResponseError) and "WRONGTYPE" in str(exc):
            raise CorruptRecordError("a Redis key of the store holds another type") from exc
        if isinstance(exc, errors.RedisError):
            raise StoreUnavailableError(f"Redis store unavailable: {type(exc).__name__}") from exc
        raise exc


class RedisStore(_RedisBase):
    """A synchronous Redis store over a ``redis.Redis`` (or ``RedisCluster``) client.

    Over a ``redis.Redis`` client the store keeps one connection of the client's pool for its
    calls, until :meth:`close` gives it back (or the store is garbage collected); a thread that
    finds it busy borrows another from the pool. Its calls are not resent by the client's retry
    policy: a failed call raises ``StoreUnavailableError`` and the caller retries the unit of
    work.

    Args:
        client: a redis-py client with ``decode_responses=False``; see :meth:`from_url`.
        namespace: keeps these keys apart; it is also the Redis Cluster hash tag.
        prefix: the first part of every key.
        clock_offset: for tests only: seconds added to the server clock, to move time forward
            without sleeping. Leases are always judged by Redis ``TIME``.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        prefix: str = DEFAULT_PREFIX,
        clock_offset: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(client, namespace=namespace, prefix=prefix, clock_offset=clock_offset)
        self._lane = _lane_for(client)
        if self._lane is not None:
            # A store over a shared client is often dropped without close() (which would close
            # the client too): its connection then goes back to the pool when the store goes.
            weakref.finalize(self, self._lane.give_back, wait=False).atexit = False

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 5.0, **kwargs: Any) -> RedisStore:
        """Connect to ``url`` (``redis://host:port/db``) with socket timeouts of ``timeout``.

        The client does not retry a failed command by itself: a script whose answer was lost
        may have run, and repeating a claim would find its own lease. The store raises
        ``StoreUnavailableError`` instead, and the caller retries the whole unit of work.
        """
        lib = _import_redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = lib.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, **kwargs)

    def close(self) -> None:
        """Close the client's connections."""
        if self._lane is not None:
            self._lane.give_back()
        self.client.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, script: _Script, numkeys: int, *params: Any) -> Any:
        """Run ``script`` on ``numkeys`` keys, then arguments (``params``), and return its answer.

        ``EVALSHA`` as one command, not through redis-py's ``Script.__call__`` (a fifth of a
        call's client CPU). Over a ``redis.Redis`` client the command goes out on the store's
        lane (see :class:`_Lane`), or on a connection borrowed from the pool when the lane is
        busy, and a server that lost the scripts (restart, ``SCRIPT FLUSH``) gets the script by
        ``SCRIPT LOAD`` on the same path before the call is sent again (``NOSCRIPT`` means it did
        not run). Other clients (a cluster) go through ``execute_command`` and ``Script``."""
        count = _NUMKEYS[numkeys] if numkeys < 3 else numkeys
        lane = self._lane
        try:
            if lane is None:
                try:
                    return self.client.execute_command("EVALSHA", script.sha, count, *params)
                except self._no_script:
                    return script.script(keys=params[:numkeys], args=params[numkeys:])
            command = (b"EVALSHA", script.sha, count, *params)
            try:
                return lane.send(command)
            except self._no_script:
                lane.send((b"SCRIPT", b"LOAD", script.source))
                return lane.send(command)
        except Exception as exc:
            self._translate(exc)

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key`` in one round trip; see :class:`~shipsync.idempotency.IdempotencyStore`."""
        raw = self._call(self._claim_one, *self._claim_one_args(key, fingerprint, lease))
        return self._claimed(key, raw)

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs in one round trip, outcomes in order."""
        if not items:
            return []
        raw = self._call(self._claim, *self._claim_args(items, lease))
        return self._outcomes(items, raw)

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result`` in one round trip; ``StaleTokenError`` if ``token`` lost ``key``.

        Raises ``CompletionFailedError`` (``retryable=True``) when Redis cannot be reached: retry
        the completion with the same token (completing twice with one token is a no-op).
        """
        call = self._complete_one_args(key, token, result, retention)
        try:
            recorded = self._call(self._complete_one, *call)
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                key, "the Redis store is unavailable", retryable=True
            ) from exc
        if not recorded:
            raise StaleTokenError(key)

    def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many triples in one round trip; see :meth:`complete`."""
        if not items:
            return
        try:
            flags = self._call(self._complete, *self._complete_args(items, retention))
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                items[0][0], "the Redis store is unavailable", retryable=True
            ) from exc
        stale = self._stale(items, flags)
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; ``StaleTokenError`` if ``token`` no longer holds it."""
        if not self._call(self._release, 1, self.record_key(key), check_token(token)):
            raise StaleTokenError(key)

    def sweep(self) -> int:
        """Remove this namespace's expired records; return how many.

        Redis expires records natively a moment after their logical expiry, so a store seldom
        needs sweeping. The sweep walks the namespace's keys with ``SCAN`` (its cost follows the
        size of the database) and removes, a batch per round trip, those whose expiry has passed.
        """
        return sum(
            int(self._call(self._sweep, len(page), *page, self._offset_ms()))
            for page in self._pages()
        )

    def _pages(self) -> Iterator[list[bytes]]:
        """The namespace's record keys, in batches, as ``SCAN`` finds them."""
        page: set[bytes] = set()
        try:
            for name in self.client.scan_iter(match=self._sweep_pattern(), count=_SWEEP_BATCH):
                page.add(name)
                if len(page) >= _SWEEP_BATCH:
                    yield list(page)
                    page = set()
        except self._redis.exceptions.RedisError as exc:
            self._translate(exc)
        if page:
            yield list(page)


class AsyncRedisStore(_RedisBase, AsyncClosing):
    """The asynchronous twin of :class:`RedisStore`, over a ``redis.asyncio.Redis`` client."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        prefix: str = DEFAULT_PREFIX,
        clock_offset: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(client, namespace=namespace, prefix=prefix, clock_offset=clock_offset)
        # Seconds each call may take (from_url's timeout), kept by the store; None: the client's
        # own socket timeouts are the only limit.
        self._deadline: float | None = None
        # The event loop of the store's calls, and an async generator that lives as long as that
        # loop runs (see _adopt_loop).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: AsyncIterator[None] | None = None
        self._guard_done = False

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 5.0, **kwargs: Any) -> AsyncRedisStore:
        """Connect to ``url``; each call of the store (connecting included) must finish within
        ``timeout`` seconds, else it raises ``StoreUnavailableError``.

        The store keeps that deadline itself (``asyncio.timeout``) rather than giving the client
        a socket timeout: with one, redis-py's asyncio client sends every command under
        ``asyncio.wait_for``, a task per command on Python 3.11: 12 to 16 % of a claim and
        complete's client CPU in ``bench/idempotency.py``. A call cut short closes its
        connection, so its late reply is never read as another call's answer. As with
        :meth:`RedisStore.from_url`, the client does not retry a failed command by itself.
        """
        lib = _import_redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = lib.asyncio.Redis.from_url(
            url,
            socket_timeout=None,
            socket_connect_timeout=timeout,
            decode_responses=False,
            retry=Retry(NoBackoff(), 0),
        )
        store = cls(client, **kwargs)
        store._deadline = timeout
        return store

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    async def _adopt_loop(self) -> None:
        """Make the running event loop the store's, the first time a call runs on it.

        redis-py's asyncio connections belong to the loop they were opened on. So that a store
        outlives one ``asyncio.run`` (a script calling it again and again, say), the store starts
        an async generator on each loop it serves: asyncio closes the generators of a loop when
        its run ends (``shutdown_asyncgens``), and this one then closes the pool's connections
        while the loop can still do so; the next loop opens its own. A loop that was closed
        without that step leaves its connections behind: they are dropped from the pool. A loop
        still running in another thread is refused: redis-py's clients are not thread-safe.
        """
        loop = asyncio.get_running_loop()
        old = self._loop
        if old is not None and old.is_running():
            raise ConfigurationError(
                "this AsyncRedisStore is in use on an event loop running in another thread; "
                "give each thread's loop its own store",
                path="loop",
            )
        pool = getattr(self.client, "connection_pool", None)
        if old is not None and not self._guard_done and pool is not None:
            pool.reset()  # their loop ended without closing them: they cannot be used here
        self._loop, self._guard_done = loop, False
        guard = self._loop_guard()
        self._guard = guard
        await anext(guard)

    async def _loop_guard(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # Only while the store still serves this loop: a loop left behind unclosed may end
            # after another took over, and the pool's connections are then that one's.
            if self._loop is asyncio.get_running_loop():
                self._guard_done = True
                pool = getattr(self.client, "connection_pool", None)
                if pool is not None:
                    with contextlib.suppress(Exception):  # closing is all that is left to do
                        await pool.disconnect()

    async def _call(self, script: _Script, numkeys: int, *params: Any) -> Any:
        """``EVALSHA`` through the client, within the store's deadline; a server that lost the
        scripts gets them through redis-py's ``Script``."""
        if asyncio.get_running_loop() is not self._loop:
            await self._adopt_loop()
        try:
            async with asyncio.timeout(self._deadline):
                try:
                    return await self.client.execute_command(
                        "EVALSHA",
                        script.sha,
                        _NUMKEYS[numkeys] if numkeys < 3 else numkeys,
                        *params,
                    )
                except self._no_script:
                    return await script.script(keys=params[:numkeys], args=params[numkeys:])
        except TimeoutError as exc:  # the deadline's (redis-py's own is a RedisError)
            raise StoreUnavailableError(_TIMED_OUT) from exc
        except Exception as exc:
            self._translate(exc)

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """See :meth:`RedisStore.claim`."""
        raw = await self._call(self._claim_one, *self._claim_one_args(key, fingerprint, lease))
        return self._claimed(key, raw)

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """See :meth:`RedisStore.claim_many`."""
        if not items:
            return []
        raw = await self._call(self._claim, *self._claim_args(items, lease))
        return self._outcomes(items, raw)

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`RedisStore.complete`."""
        call = self._complete_one_args(key, token, result, retention)
        try:
            recorded = await self._call(self._complete_one, *call)
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                key, "the Redis store is unavailable", retryable=True
            ) from exc
        if not recorded:
            raise StaleTokenError(key)

    async def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`RedisStore.complete_many`."""
        if not items:
            return
        try:
            flags = await self._call(self._complete, *self._complete_args(items, retention))
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                items[0][0], "the Redis store is unavailable", retryable=True
            ) from exc
        stale = self._stale(items, flags)
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    async def release(self, key: str, token: int) -> None:
        """See :meth:`RedisStore.release`."""
        if not await self._call(self._release, 1, self.record_key(key), check_token(token)):
            raise StaleTokenError(key)

    async def sweep(self) -> int:
        """See :meth:`RedisStore.sweep`."""
        if asyncio.get_running_loop() is not self._loop:
            await self._adopt_loop()
        removed = 0
        async for page in self._pages():
            removed += int(await self._call(self._sweep, len(page), *page, self._offset_ms()))
        return removed

    async def _pages(self) -> AsyncIterator[list[bytes]]:
        page: set[bytes] = set()
        names = aiter(self.client.scan_iter(match=self._sweep_pattern(), count=_SWEEP_BATCH))
        try:
            while True:
                async with asyncio.timeout(self._deadline):  # each SCAN within the deadline
                    try:
                        name = await anext(names)
                    except StopAsyncIteration:
                        break
                page.add(name)
                if len(page) >= _SWEEP_BATCH:
                    yield list(page)
                    page = set()
        except TimeoutError as exc:
            raise StoreUnavailableError(_TIMED_OUT) from exc
        except self._redis.exceptions.RedisError as exc:
            self._translate(exc)
        if page:
            yield list(page)
