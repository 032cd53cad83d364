"""The monitor: a dispatcher handler that keeps the store, and the check that raises breaches."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from shipsync.canonical import Event, ShipmentSlaBreached, SlaBreach

from ._policy import SlaPolicy
from ._store import MonitorStore
from ._values import Indicators

__all__ = ["BREACH_SOURCE", "BreachSink", "Monitor"]

BREACH_SOURCE = "shipsync/monitor"
"""The ``source`` of the ``sla.breached`` events the monitor raises."""


class BreachSink(Protocol):
    """Where raised breaches go: an event log (``publish`` is durable when it returns)."""

    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` durably."""
        ...


class Monitor:
    """Keeps a :class:`MonitorStore` from the event stream and raises service level breaches.

    Subscribe it to a dispatcher for every type (it is idempotent like every handler: an event
    applied before changes nothing)::

        dispatcher.subscribe(None, monitor, name="monitor")

    and call :meth:`check` now and then (a scheduler, a loop): each shipment breaching a service
    level becomes one ``sla.breached`` event published to ``sink``, once.

    Args:
        store: the indicators' store.
        policy: the service levels.
        sink: where breaches are published (an event log); None: :meth:`check` only returns them.
        dead_letters: a dead letter store whose open letters the indicators count.
        clock: seconds since the epoch (the time events are handled and breaches judged at).
    """

    def __init__(
        self,
        store: MonitorStore,
        policy: SlaPolicy | None = None,
        *,
        sink: BreachSink | None = None,
        dead_letters: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.policy = policy or SlaPolicy()
        self.sink = sink
        self.dead_letters = dead_letters
        self.clock = clock

    def __call__(self, event: Event, ctx: object = None) -> None:
        """The dispatcher handler: apply ``event`` to the store."""
        self.store.apply(event, handled_at=self.clock())

    def indicators(self) -> Indicators:
        """Every tile, now."""
        return self.store.indicators(self.policy, now=self.clock(), dead_letters=self.dead_letters)

    def check(self, *, limit: int = 1000) -> list[ShipmentSlaBreached]:
        """Raise breaches not raised yet: publish them to the sink and record them in the store.

        Each breach's id derives from the shipment, the kind and the time it started, so a
        breach raised twice (two checkers racing) is one event downstream.
        """
        now = self.clock()
        found = self.store.new_breaches(self.policy, now, limit=limit)
        detected = datetime.fromtimestamp(now, UTC)
        events = [
            ShipmentSlaBreached.of(
                SlaBreach(
                    shipment_id=row.shipment_id,
                    kind=kind,
                    status=row.status,
                    since=datetime.fromtimestamp(since, UTC),
                    detected_at=detected,
                    threshold_seconds=int(self.policy.threshold(kind).total_seconds()),
                    carrier=row.carrier,
                ),
                source=BREACH_SOURCE,
                time=detected,
                id=f"sla-{kind.value}-{row.shipment_id}-{int(since)}",
            )
            for row, kind, since in found
        ]
        if events and self.sink is not None:
            self.sink.publish(events)
        for event in events:
            self.store.apply(event, handled_at=now)
        return events
