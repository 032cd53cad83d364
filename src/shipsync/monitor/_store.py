"""The monitor's store: indicators kept up to date event by event, on SQLite or PostgreSQL.

:class:`MonitorStore` owns one connection and is the public face of two ideas kept apart:
writing (:mod:`._apply`: the schema, and the idempotent :func:`~._apply.apply` of one event)
and reading (:mod:`._queries`: one indexed query per tile, the lists and the timeline).
"""

from __future__ import annotations

from decimal import Decimal
from os import PathLike
from typing import Any

from shipsync.canonical import Event, SlaKind

from . import _apply, _queries
from ._apply import BOOKED, LAG_BUCKETS
from ._db import Db
from ._policy import SlaPolicy
from ._queries import dead_letter_summary
from ._values import Indicators, LagSummary, ShipmentRow, SlaCount, Timeline

__all__ = ["BOOKED", "LAG_BUCKETS", "MonitorStore", "dead_letter_summary"]


class MonitorStore:
    """The indicators' store, on SQLite (a path) or PostgreSQL (a ``postgresql://`` DSN).

    Apply events with :meth:`apply` (the :class:`~shipsync.monitor.Monitor` handler does it for
    a dispatcher); read tiles with :meth:`indicators` and the other queries.
    """

    def __init__(self, target: str | PathLike[str]) -> None:
        self._db = Db(target)
        self._db_target = target
        _apply.create_tables(self._db)

    @property
    def postgres(self) -> bool:
        """Whether this store is on PostgreSQL."""
        return self._db.postgres

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    # -- writing ---------------------------------------------------------------------------------

    def apply(self, event: Event, *, handled_at: float | None = None) -> bool:
        """Apply one event; False when it was applied before (nothing changes then)."""
        return _apply.apply(self._db, event, handled_at=handled_at)

    # -- reading ---------------------------------------------------------------------------------

    def status_counts(self) -> dict[str, int]:
        """Shipments per status (``booked`` for those with no tracking event yet)."""
        return _queries.status_counts(self._db)

    def sla(self, kind: SlaKind, policy: SlaPolicy, now: float | None = None) -> SlaCount:
        """Shipments breaching, and at risk of breaching, one kind of service level."""
        return _queries.sla(self._db, kind, policy, now)

    def exceptions_by_age(
        self, policy: SlaPolicy, now: float | None = None
    ) -> tuple[tuple[str, int], ...]:
        """Shipments in exception, by how long they have been in it."""
        return _queries.exceptions_by_age(self._db, policy, now)

    def invoices_pending(self) -> int:
        """Invoices received and not settled yet."""
        return _queries.invoices_pending(self._db)

    def disputes(self) -> tuple[int, dict[str, Decimal]]:
        """Open disputes (discrepancies and claims) and the amount at stake per currency."""
        return _queries.disputes(self._db)

    def open_disputes(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open disputes, oldest first."""
        return _queries.open_disputes(self._db, limit)

    def lag(self) -> tuple[LagSummary, ...]:
        """Event lag (carrier time to handled) per source, p50 and p95 from the histogram."""
        return _queries.lag(self._db)

    def indicators(
        self,
        policy: SlaPolicy | None = None,
        *,
        now: float | None = None,
        dead_letters: Any = None,
    ) -> Indicators:
        """Every tile; ``dead_letters`` is a dead letter store to count open letters in."""
        return _queries.indicators(self._db, policy, now=now, dead_letters=dead_letters)

    def shipments(
        self,
        *,
        status: str | None = None,
        sla: SlaKind | None = None,
        at_risk: bool = False,
        policy: SlaPolicy | None = None,
        now: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ShipmentRow]:
        """Shipments, filtered by status or by a service level breached (or at risk).

        Unfiltered lists are in shipment id order; filtered ones oldest first (last carrier
        event, or the time the service level is measured from), so an index gives the order.
        """
        return _queries.shipments(
            self._db,
            status=status,
            sla=sla,
            at_risk=at_risk,
            policy=policy,
            now=now,
            limit=limit,
            offset=offset,
        )

    def shipment(self, shipment_id: str) -> ShipmentRow | None:
        """One shipment, or None."""
        return _queries.shipment(self._db, shipment_id)

    def timeline(self, shipment_id: str) -> Timeline | None:
        """A shipment's events in carrier time order and its folded state, or None."""
        return _queries.timeline(self._db, shipment_id)

    def new_breaches(
        self, policy: SlaPolicy, now: float | None = None, *, limit: int = 1000
    ) -> list[tuple[ShipmentRow, SlaKind, float]]:
        """Breaching shipments not raised yet: (shipment, kind, since) up to ``limit``."""
        return _queries.new_breaches(self._db, policy, now, limit=limit)
