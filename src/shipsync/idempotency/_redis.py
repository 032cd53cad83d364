"""Redis store (redis-py, sync and asyncio): one round trip per claim, Redis TIME as the clock.

Theory of operation. A record is a hash ``<prefix>:{<namespace>}:<storage key>`` with fields
``s`` (state: ``p`` in progress, ``c`` completed), ``f`` (fingerprint), ``t`` (fencing token),
``e`` (expiry, milliseconds of the server clock) and ``r`` (result). Fencing tokens come from one
counter per namespace, ``<prefix>:{<namespace>}#fence``, so they never repeat even after a record
is deleted. Every operation is one Lua script, which Redis runs atomically: a claim reads the
record, judges its expiry by ``TIME`` (the server's clock, not the worker's), and either answers
from it or takes the key over with a fresh token, all in one ``EVALSHA``. ``complete`` and
``release`` are compare-and-set on the token. The braces are a hash tag: all keys of a namespace
live in one Redis Cluster slot, so a batch script never sees ``CROSSSLOT``. Records also get a
native TTL a little past their logical expiry, so Redis itself is the sweeper of last resort, and
an entry in the namespace's expiry index ``<prefix>:{<namespace>}#expiry`` (a sorted set by
expiry), which ``sweep`` walks; claims trim index entries older than an hour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

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
_TRIM_MS = 3_600_000
_SWEEP_BATCH = 500

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
"""

# KEYS: record keys..., fence key, expiry index. ARGV: lease ms, clock offset ms, fingerprints...
# Returns code, value pairs: 0 acquired (token), 1 in progress, 2 completed (result),
# 3 fingerprint mismatch, 4 corrupt record.
_CLAIM = (
    (
        _NOW
        + """
local lease = tonumber(ARGV[1])
local fence = KEYS[#KEYS - 1]
local index = KEYS[#KEYS]
local out = {}
local trim = false
for i = 1, #KEYS - 2 do
  local k = KEYS[i]
  local fp = ARGV[i + 2]
  local rec = redis.pcall('HMGET', k, 's', 'f', 'e', 'r')
  local code, value = nil, 0
  if type(rec) == 'table' and rec.err then
    code = 4
  elseif rec[1] or rec[2] or rec[3] then
    local e = tonumber(rec[3])
    if (rec[1] ~= 'p' and rec[1] ~= 'c') or e == nil or rec[2] == false then
      code = 4
    elseif e > now then
      if rec[2] ~= fp then
        code = 3
      elseif rec[1] == 'c' then
        if rec[4] then code, value = 2, rec[4] else code = 4 end
      else
        code = 1
      end
    end
  end
  if code == nil then
    local token = redis.call('INCR', fence)
    if rec[1] or rec[2] or rec[3] or rec[4] then redis.call('DEL', k) end
    redis.call('HSET', k, 's', 'p', 'f', fp, 't', token, 'e', now + lease)
    redis.call('PEXPIRE', k, lease + GRACE_MS)
    redis.call('ZADD', index, now + lease, k)
    code, value = 0, token
    trim = trim or token % 100 == 0
  end
  out[#out + 1] = code
  out[#out + 1] = value
end
if trim then
  -- now and then, drop index entries of records Redis has long expired on its own
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now - TRIM_MS)
end
return out
"""
    )
    .replace("GRACE_MS", str(_GRACE_MS))
    .replace("TRIM_MS", str(_TRIM_MS))
)

# KEYS: record keys..., expiry index. ARGV: retention ms, clock offset ms, then token, result
# pairs.
# Returns one flag per key: 1 recorded (or already recorded with that token), 0 stale.
_COMPLETE = (
    _NOW
    + """
local retention = tonumber(ARGV[1])
local index = KEYS[#KEYS]
local out = {}
for i = 1, #KEYS - 1 do
  local k = KEYS[i]
  local token = ARGV[2 * i + 1]
  local rec = redis.pcall('HMGET', k, 's', 't')
  local ok = 0
  if type(rec) == 'table' and not rec.err and rec[2] == token then
    if rec[1] == 'p' then
      redis.call('HSET', k, 's', 'c', 'r', ARGV[2 * i + 2], 'e', now + retention)
      redis.call('PEXPIRE', k, retention + GRACE_MS)
      redis.call('ZADD', index, now + retention, k)
      ok = 1
    elseif rec[1] == 'c' then
      ok = 1
    end
  end
  out[#out + 1] = ok
end
return out
"""
).replace("GRACE_MS", str(_GRACE_MS))

# KEYS: record key, expiry index. ARGV: token. Returns 1 released, 0 stale.
_RELEASE = """
local rec = redis.pcall('HMGET', KEYS[1], 's', 't')
if type(rec) == 'table' and not rec.err and rec[1] == 'p' and rec[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], KEYS[1])
  return 1
end
return 0
"""

# KEYS: expiry index. ARGV: batch size, clock offset ms. Visits up to a batch of index entries
# due by now; returns {records removed, entries visited}. The records live in the index's slot.
_SWEEP = (
    _NOW
    + """
local index = KEYS[1]
local due = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local n = 0
for _, k in ipairs(due) do
  local rec = redis.pcall('HMGET', k, 'e')
  local e = nil
  if type(rec) == 'table' and not rec.err then e = tonumber(rec[1]) end
  if e ~= nil and e > now then
    redis.call('ZADD', index, e, k)
  else
    if e ~= nil then
      redis.call('DEL', k)
      n = n + 1
    end
    redis.call('ZREM', index, k)
  end
end
return {n, #due}
"""
)


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError("RedisStore", "redis") from exc
    return redis


def _ms(delta: timedelta, what: str) -> int:
    return int(seconds(delta, what) * 1000)


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
        self._index = f"{prefix}:{{{self.namespace}}}#expiry"
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._sweep = client.register_script(_SWEEP)

    def record_key(self, key: str) -> str:
        """The Redis key that holds the record of ``key``."""
        return self._base + storage_key(check_key(key))

    def _offset_ms(self) -> int:
        return 0 if self._offset is None else int(self._offset() * 1000)

    def _claim_args(
        self, items: Sequence[tuple[str, str]], lease: timedelta
    ) -> tuple[list[str], list[Any]]:
        keys = [self.record_key(k) for k, _ in items]
        keys += [self._fence, self._index]
        args: list[Any] = [_ms(lease, "lease"), self._offset_ms()]
        args.extend(check_fingerprint(fp) for _, fp in items)
        return keys, args

    def _complete_args(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta
    ) -> tuple[list[str], list[Any]]:
        keys = [self.record_key(k) for k, _, _ in items]
        keys.append(self._index)
        args: list[Any] = [_ms(retention, "retention"), self._offset_ms()]
        for _, token, result in items:
            args.append(str(check_token(token)))
            args.append(check_result(result))
        return keys, args

    def _sweep_args(self) -> list[Any]:
        return [_SWEEP_BATCH, self._offset_ms()]

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


def _claim_one(key: str, outcome: BatchOutcome) -> ClaimOutcome:
    if isinstance(outcome, Mismatched):
        raise FingerprintMismatchError(key)
    return outcome


class RedisStore(_RedisBase):
    """A synchronous Redis store over a ``redis.Redis`` (or ``RedisCluster``) client.

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
        self.client.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except Exception as exc:
            self._translate(exc)

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key`` in one round trip; see :class:`~shipsync.idempotency.IdempotencyStore`."""
        items = [(key, fingerprint)]
        raw = self._call(self._claim, *self._claim_args(items, lease))
        return _claim_one(key, self._outcomes(items, raw)[0])

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
        self.complete_many([(key, token, result)], retention)

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
        keys = [self.record_key(key), self._index]
        if not self._call(self._release, keys, [str(check_token(token))]):
            raise StaleTokenError(key)

    def sweep(self) -> int:
        """Remove this namespace's expired records; return how many.

        Redis also expires records natively a moment after their logical expiry; the sweep
        walks the namespace's expiry index (a sorted set), so its cost follows the number of
        expired records, not the size of the database.
        """
        removed = 0
        while True:
            done, visited = self._call(self._sweep, [self._index], self._sweep_args())
            removed += int(done)
            if int(visited) < _SWEEP_BATCH:
                return removed


class AsyncRedisStore(_RedisBase):
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

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 5.0, **kwargs: Any) -> AsyncRedisStore:
        """Connect to ``url`` with socket timeouts of ``timeout``."""
        lib = _import_redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = lib.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, **kwargs)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except Exception as exc:
            self._translate(exc)

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """See :meth:`RedisStore.claim`."""
        items = [(key, fingerprint)]
        raw = await self._call(self._claim, *self._claim_args(items, lease))
        return _claim_one(key, self._outcomes(items, raw)[0])

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
        await self.complete_many([(key, token, result)], retention)

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
        keys = [self.record_key(key), self._index]
        if not await self._call(self._release, keys, [str(check_token(token))]):
            raise StaleTokenError(key)

    async def sweep(self) -> int:
        """See :meth:`RedisStore.sweep`."""
        removed = 0
        while True:
            done, visited = await self._call(self._sweep, [self._index], self._sweep_args())
            removed += int(done)
            if int(visited) < _SWEEP_BATCH:
                return removed
