"""Business indicators from the canonical event stream, and the control tower page.

A :class:`Monitor` handler keeps a :class:`MonitorStore` (SQLite or PostgreSQL) up to date from
the dispatcher; :meth:`MonitorStore.indicators` reads every tile; :meth:`Monitor.check` turns
service level breaches into ``sla.breached`` events. The control tower (``server`` extra) is in
:mod:`shipsync.monitor.web`. See ``docs/monitor.md``.
"""

from shipsync.monitor._health import CarrierHealth, CarrierHealthRow
from shipsync.monitor._monitor import BREACH_SOURCE, BreachSink, Monitor
from shipsync.monitor._policy import SlaPolicy
from shipsync.monitor._store import BOOKED, LAG_BUCKETS, MonitorStore, dead_letter_summary
from shipsync.monitor._tenants import TenantMonitors
from shipsync.monitor._values import (
    DeadLetterSummary,
    Indicators,
    LagSummary,
    ShipmentRow,
    SlaCount,
    Timeline,
    TimelineEntry,
)

__all__ = [
    "BOOKED",
    "BREACH_SOURCE",
    "LAG_BUCKETS",
    "BreachSink",
    "CarrierHealth",
    "CarrierHealthRow",
    "DeadLetterSummary",
    "Indicators",
    "LagSummary",
    "Monitor",
    "MonitorStore",
    "ShipmentRow",
    "SlaCount",
    "SlaPolicy",
    "TenantMonitors",
    "Timeline",
    "TimelineEntry",
    "dead_letter_summary",
]
