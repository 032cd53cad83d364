"""Flows per tenant: each tenant's own event log, dead letters, dispatcher and replays.

A :class:`TenantFlows` makes, on first use, one event log, one dead letter store and one
dispatcher per tenant, from factories the host gives (or :meth:`TenantFlows.sqlite`: tables
named after the tenant's event-log partition in one SQLite file). Every dispatcher shares one
idempotency store seen through its tenant's namespace
(:func:`~shipsync.idempotency.scoped`), and gets its handlers from one ``subscribe`` function, so
every tenant runs the same handlers over its own data: a handler that fails for one tenant
dead-letters into that tenant's store only, a replay replays one tenant's letters only, and an
event id seen by one tenant is still new to another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from shipsync.canonical import EventCatalogue, default_catalogue
from shipsync.flows._deadletters import DeadLetterFilter, DeadLetterStore, SQLiteDeadLetters
from shipsync.flows._dispatcher import Dispatcher, DispatchReport, ReplayReport
from shipsync.flows._log import AsyncEventLog
from shipsync.flows._sqlite import AsyncSQLiteEventLog
from shipsync.idempotency import AsyncIdempotencyStore, IdempotencyStore, scoped
from shipsync.tenants import Tenant, TenantResolver, check_tenant_id, resolve_tenant

__all__ = ["EVENTS_TABLE", "LETTERS_TABLE", "TenantFlows"]

EVENTS_TABLE = "shipsync_events"
"""The base name of a tenant's event log table (``shipsync_events_<partition>``)."""
LETTERS_TABLE = "shipsync_dlq"
"""The base name of a tenant's dead letter table (``shipsync_dlq_<partition>``)."""


class _Parts:
    def __init__(self, tenant: Tenant, log: AsyncEventLog, letters: DeadLetterStore | None):
        self.tenant = tenant
        self.log = log
        self.letters = letters
        self.dispatcher: Dispatcher | None = None


class TenantFlows:
    """Each tenant's event log, dead letters and dispatcher (see the module docstring).

    Args:
        resolver: finds tenants by id.
        store: the idempotency store every tenant's dispatcher shares, each through its scope.
        log: makes a tenant's event log (its own table, queue or partition).
        dead_letters: makes a tenant's dead letter store (None: no dead letters).
        subscribe: subscribes the handlers to a tenant's new dispatcher (the tenant is given,
            for handlers that write to the tenant's own Odoo, say).
        dispatcher_options: the :class:`Dispatcher` keywords every tenant's dispatcher gets.
    """

    def __init__(
        self,
        resolver: TenantResolver,
        *,
        store: IdempotencyStore | AsyncIdempotencyStore,
        log: Callable[[Tenant], AsyncEventLog],
        dead_letters: Callable[[Tenant], DeadLetterStore] | None = None,
        subscribe: Callable[[Tenant, Dispatcher], object] | None = None,
        **dispatcher_options: Any,
    ) -> None:
        self.resolver = resolver
        self._store = store
        self._make_log = log
        self._make_letters = dead_letters
        self._subscribe = subscribe
        self._options = dispatcher_options
        self._parts: dict[str, _Parts] = {}
        self._lock = threading.RLock()

    @classmethod
    def sqlite(
        cls,
        resolver: TenantResolver,
        path: str | os.PathLike[str],
        *,
        store: IdempotencyStore | AsyncIdempotencyStore,
        subscribe: Callable[[Tenant, Dispatcher], object] | None = None,
        catalogue: EventCatalogue = default_catalogue,
        **dispatcher_options: Any,
    ) -> TenantFlows:
        """Every tenant's log and dead letters in one SQLite file, in tables of its partition.

        ``catalogue`` parses the logs' events (``shipsync.notify.notify_catalogue()`` when the
        tenants' notifiers publish into them)."""
        return cls(
            resolver,
            store=store,
            log=lambda t: AsyncSQLiteEventLog(
                path, table=t.table(EVENTS_TABLE), catalogue=catalogue
            ),
            dead_letters=lambda t: SQLiteDeadLetters(path, table=t.table(LETTERS_TABLE)),
            subscribe=subscribe,
            **dispatcher_options,
        )

    def _get(self, tenant_id: str) -> _Parts:
        found = self._parts.get(check_tenant_id(tenant_id))
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        with self._lock:
            found = self._parts.get(tenant.id)
            if found is None:
                letters = self._make_letters(tenant) if self._make_letters else None
                found = self._parts[tenant.id] = _Parts(tenant, self._make_log(tenant), letters)
            return found

    def tenant(self, tenant_id: str) -> Tenant:
        """The resolved tenant."""
        return self._get(tenant_id).tenant

    def log(self, tenant_id: str) -> AsyncEventLog:
        """The tenant's event log (also its webhook receiver's async sink)."""
        return self._get(tenant_id).log

    def dead_letters(self, tenant_id: str) -> DeadLetterStore | None:
        """The tenant's dead letter store."""
        return self._get(tenant_id).letters

    def dispatcher(self, tenant_id: str) -> Dispatcher:
        """The tenant's dispatcher: the shared store through the tenant's namespace, the tenant's
        dead letters, the handlers ``subscribe`` gives it."""
        parts = self._get(tenant_id)
        with self._lock:
            if parts.dispatcher is None:
                dispatcher = Dispatcher(
                    scoped(self._store, parts.tenant.namespace), parts.letters, **self._options
                )
                if self._subscribe is not None:
                    self._subscribe(parts.tenant, dispatcher)
                parts.dispatcher = dispatcher
            return parts.dispatcher

    async def drain(
        self, tenant_id: str, *, batch_size: int = 500, timeout: float = 0.0
    ) -> DispatchReport:
        """Handle everything waiting in the tenant's log now; return the added-up report.

        ``timeout`` is how long each batch waits for its first event: 0 takes only what is
        there; a broker's log (RabbitMQ) pushes deliveries a moment after they are published,
        so give it a second or so there (the last, empty batch waits that long too).
        """
        log, dispatcher = self.log(tenant_id), self.dispatcher(tenant_id)
        total = DispatchReport()
        while True:
            deliveries = await log.receive(batch_size, timeout=timeout)
            if not deliveries:
                return total
            total.add(await dispatcher.handle(log, deliveries))

    async def replay(
        self, tenant_id: str, where: DeadLetterFilter | None = None, *, limit: int = 10_000
    ) -> ReplayReport:
        """Replay the tenant's own dead letters (no other tenant's)."""
        return await self.dispatcher(tenant_id).replay(where, limit=limit)

    def tenants(self) -> tuple[str, ...]:
        """The ids of the tenants whose flows were made so far, sorted."""
        return tuple(sorted(self._parts))

    async def close(self) -> None:
        """Close every tenant's log and dead letter store."""
        with self._lock:
            parts, self._parts = list(self._parts.values()), {}
        for part in parts:
            await part.log.close()
            if part.letters is not None:
                part.letters.close()
