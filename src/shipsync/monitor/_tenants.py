"""Indicators per tenant: each tenant's monitor store, fed by its own dispatcher only.

A :class:`TenantMonitors` makes one :class:`Monitor` per tenant on first use, over that tenant's
own :class:`MonitorStore` (one SQLite file per tenant with :meth:`TenantMonitors.sqlite`, or any
store the host's factory returns) and counting that tenant's own dead letters. Its
:meth:`~TenantMonitors.subscribe` is what a :class:`~shipsync.flows.TenantFlows` calls for each
tenant's dispatcher, so a tenant's events only ever move its own tiles.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipsync.tenants import Tenant, TenantResolver, check_tenant_id, resolve_tenant

from ._monitor import Monitor
from ._policy import SlaPolicy
from ._store import MonitorStore
from ._values import Indicators

if TYPE_CHECKING:
    from shipsync.flows import Dispatcher

__all__ = ["TenantMonitors"]


class TenantMonitors:
    """One monitor per tenant over the tenant's own store (see the module docstring).

    Args:
        resolver: finds tenants by id.
        store: makes a tenant's monitor store.
        dead_letters: the tenant's dead letter store, whose open letters its tiles count.
        policy: the service levels (the same for every tenant).
        clock: seconds since the epoch.
    """

    def __init__(
        self,
        resolver: TenantResolver,
        *,
        store: Callable[[Tenant], MonitorStore],
        dead_letters: Callable[[Tenant], Any] | None = None,
        policy: SlaPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.resolver = resolver
        self._make_store = store
        self._dead_letters = dead_letters
        self._policy = policy
        self._clock = clock
        self._monitors: dict[str, Monitor] = {}
        self._lock = threading.Lock()

    @classmethod
    def sqlite(
        cls,
        resolver: TenantResolver,
        directory: str | os.PathLike[str],
        **options: Any,
    ) -> TenantMonitors:
        """A ``monitor_<partition>.db`` file per tenant in ``directory``."""
        folder = Path(directory)
        return cls(
            resolver,
            store=lambda t: MonitorStore(folder / f"monitor_{t.partition}.db"),
            **options,
        )

    def monitor(self, tenant_id: str) -> Monitor:
        """The tenant's monitor (made on first use)."""
        found = self._monitors.get(check_tenant_id(tenant_id))
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        with self._lock:
            found = self._monitors.get(tenant.id)
            if found is None:
                letters = self._dead_letters(tenant) if self._dead_letters else None
                found = Monitor(
                    self._make_store(tenant),
                    self._policy,
                    dead_letters=letters,
                    clock=self._clock,
                )
                self._monitors[tenant.id] = found
            return found

    def indicators(self, tenant_id: str) -> Indicators:
        """Every tile of the tenant, now."""
        return self.monitor(tenant_id).indicators()

    def subscribe(self, tenant: Tenant, dispatcher: Dispatcher) -> None:
        """Subscribe the tenant's monitor to the tenant's dispatcher (for every event type)."""
        dispatcher.subscribe(None, self.monitor(tenant.id), name="monitor")

    def close(self) -> None:
        """Close every tenant's store."""
        with self._lock:
            monitors, self._monitors = list(self._monitors.values()), {}
        for monitor in monitors:
            monitor.store.close()
