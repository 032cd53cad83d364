"""Code that runs in worker processes of the real-process tests (importable by name)."""

from __future__ import annotations

import collections
import hashlib
import os
import sqlite3
import time
from datetime import timedelta
from typing import Any

from shipsync.idempotency import (
    Acquired,
    Completed,
    IdempotencyStore,
    InProgress,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    current_outbound_key,
    idempotent,
)

LEASE = timedelta(seconds=60)


def build_store(spec: dict[str, Any], shift: float = 0.0) -> IdempotencyStore:
    """A store described by ``spec``, its clock moved ``shift`` seconds ahead."""
    kind, ns = spec["kind"], spec["namespace"]
    if kind == "sqlite":
        return SQLiteStore(spec["path"], namespace=ns, clock=lambda: time.time() + shift)
    if kind == "redis":
        return RedisStore.from_url(
            spec["url"], namespace=ns, prefix=spec["prefix"], clock_offset=lambda: shift
        )
    return PostgresStore(
        spec["dsn"], namespace=ns, table=spec["table"], setup=False, clock_offset=lambda: shift
    )


def payload_fingerprint(key: str) -> str:
    """The fingerprint every delivery of ``key`` carries (the same payload each time)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def deliver(spec: dict[str, Any], worker: int, deliveries: list[str], effects_db: str) -> None:
    """Handle each delivery once through the store; record side effects in ``effects_db``.

    Every delivery is one ``claim``. A delivery that finds its key in progress elsewhere goes to
    the back of this worker's queue, as a redelivery would. Side effects are buffered and written
    in one transaction at the end (the table only counts them).
    """
    store = build_store(spec)
    queue = collections.deque(deliveries)
    effects: list[tuple[str, int]] = []
    replays = requeues = 0
    while queue:
        key = queue.popleft()
        outcome = store.claim(key, payload_fingerprint(key), LEASE)
        if isinstance(outcome, Acquired):
            effects.append((key, worker))  # the side effect
            store.complete(key, outcome.token, b'{"done":"' + key.encode() + b'"}')
        elif isinstance(outcome, Completed):
            assert outcome.result == b'{"done":"' + key.encode() + b'"}'
            replays += 1
        else:
            assert isinstance(outcome, InProgress)
            requeues += 1
            queue.append(key)
            if requeues % 50 == 0:
                time.sleep(0.001)  # only other workers can make progress now
    close = getattr(store, "close", None)
    if close is not None:
        close()
    conn = sqlite3.connect(effects_db, timeout=60)
    with conn:
        conn.executemany("INSERT INTO effects (key, worker) VALUES (?, ?)", effects)
        conn.execute(
            "INSERT INTO workers (worker, replays, requeues) VALUES (?, ?, ?)",
            (worker, replays, requeues),
        )
    conn.close()


def hold_lease(spec: dict[str, Any], key: str, pipe: Any) -> None:
    """Claim ``key``, report the token to the parent, then hang until killed."""
    store = build_store(spec)
    outcome = store.claim(key, payload_fingerprint(key), LEASE)
    assert isinstance(outcome, Acquired)
    pipe.send(outcome.token)
    while True:
        time.sleep(1)


def carrier_book(carrier_db: str, shipment: str) -> dict[str, str]:
    """A fake carrier call: logs the request id it received; applies it at most once."""
    request_id = current_outbound_key()
    assert request_id is not None
    conn = sqlite3.connect(carrier_db, timeout=30)
    with conn:
        conn.execute(
            "INSERT INTO requests (request_id, shipment) VALUES (?, ?)", (request_id, shipment)
        )
        conn.execute(
            "INSERT OR IGNORE INTO bookings (request_id, shipment) VALUES (?, ?)",
            (request_id, shipment),
        )
    conn.close()
    return {"shipment": shipment, "label": f"L-{shipment}"}


def book_then_crash(spec: dict[str, Any], carrier_db: str, shipment: str) -> None:
    """Book through ``idempotent`` and die right after the carrier call, before completion."""
    store = build_store(spec)

    @idempotent(store, key=lambda s: f"book:{s}", lease=LEASE)
    def book(s: str) -> dict[str, str]:
        receipt = carrier_book(carrier_db, s)
        os._exit(17)  # the crash: the side effect ran, complete() never will
        return receipt  # pragma: no cover

    book(shipment)


def deliver_through_outage(
    spec: dict[str, Any], worker: int, deliveries: list[str], effects_db: str, progress: Any
) -> None:
    """Like :func:`deliver`, through a link that the parent cuts and restores mid-run.

    A claim that meets the outage (``StoreUnavailableError``: nothing ran) goes back to the
    queue. A completion that meets it (``CompletionFailedError``: the effect ran) is reconciled
    by retrying the completion with the same token until the store answers. A claim whose
    answer was lost in the outage leaves its key held by nobody until the lease ends; when only
    such keys are left (nothing but ``InProgress`` for a second), the worker stops and leaves
    them to the parent.
    """
    from shipsync.errors import CompletionFailedError, StoreUnavailableError

    store = build_store(spec)
    queue = collections.deque(deliveries)
    effects: list[tuple[str, int]] = []
    replays = unavailable = failed_completions = 0
    stuck_since: float | None = None
    while queue:
        key = queue.popleft()
        try:
            outcome = store.claim(key, payload_fingerprint(key), LEASE)
        except StoreUnavailableError:
            unavailable += 1
            queue.append(key)
            time.sleep(0.005)  # the link is down: wait for it, not for a lease
            continue
        if isinstance(outcome, InProgress):
            queue.append(key)
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since > 1.0:
                break  # only keys held by nobody are left
            continue
        stuck_since = None
        if isinstance(outcome, Acquired):
            effects.append((key, worker))  # the side effect
            while True:
                try:
                    store.complete(key, outcome.token, b"1")
                    break
                except CompletionFailedError:
                    failed_completions += 1
                    time.sleep(0.005)
        else:
            assert isinstance(outcome, Completed)
            replays += 1
        with progress.get_lock():
            progress.value += 1
    close = getattr(store, "close", None)
    if close is not None:
        close()
    conn = sqlite3.connect(effects_db, timeout=60)
    with conn:
        conn.executemany("INSERT INTO effects (key, worker) VALUES (?, ?)", effects)
        conn.execute(
            "INSERT INTO workers (worker, replays, requeues) VALUES (?, ?, ?)",
            (worker, replays, unavailable + failed_completions),
        )
    conn.close()
