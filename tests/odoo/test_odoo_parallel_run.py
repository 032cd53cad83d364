"""The parallel run against a real Odoo 18 (replayed from cassettes, live with ``ODOO_*`` set).

A legacy connector writes into Odoo with plain RPC calls, the way typical connectors do (notes,
a status field, vendor bills); shipsync runs its unchanged operations on the same server through
a shadow gateway. The report must find exactly what the legacy faults injected, and no write of
shipsync's may reach the server.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import LIVE, OdooData
from shipsync.canonical import TrackingEvent
from shipsync.migration import Readiness, legacy_side_from_odoo, parallel_run, shipsync_side
from shipsync.odoo import (
    READ_METHODS,
    OdooFieldMap,
    OdooLogistics,
    ShadowGateway,
    SQLiteShadowRecorder,
)
from shipsync.testing.legacy import FaultyLegacyConnector, feed, sample_invoices

WINDOW = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
TAG_FILE = Path(__file__).parent / "cassettes" / "parallel_run_tag.txt"


@pytest.fixture
def parallel_tag() -> str:
    """This test's own run tag (recorded beside its cassette; the shared one stays as it is)."""
    if LIVE:
        tag = "pr" + time.strftime("%m%d%H%M%S")
        TAG_FILE.write_text(tag + "\n", encoding="utf-8")
        return tag
    return TAG_FILE.read_text(encoding="utf-8").strip()


class Counting:
    """Counts the methods that reach the server through a gateway."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.methods: Counter[str] = Counter()

    @property
    def server_version(self) -> tuple[int, int]:
        return tuple(self.inner.server_version)  # type: ignore[return-value]

    @property
    def uid(self) -> int:
        return int(self.inner.uid)

    @property
    def round_trips(self) -> int:
        return int(self.inner.round_trips)

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        self.methods[method] += 1
        return self.inner.call(model, method, args, kwargs)


def _status_field(gateway: Any) -> str:
    """A char field for the OCA status values (OCA's module is not installed on the server)."""
    name = "x_shipsync_parallel_state"
    domain = [["model", "=", "stock.picking"], ["name", "=", name]]
    if not gateway.call("ir.model.fields", "search_count", [domain]):
        [model_id] = gateway.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
        values = {
            "model_id": model_id,
            "name": name,
            "ttype": "char",
            "field_description": "Delivery state (parallel run)",
            "state": "manual",
        }
        gateway.call("ir.model.fields", "create", [values])
    return name


def _tagged(events: list[TrackingEvent], tag: str) -> list[TrackingEvent]:
    return [
        e.model_copy(
            update={
                "event_id": f"{tag}:{e.event_id}",
                "tracking_number": f"{tag}{e.tracking_number}",
            }
        )
        for e in events
    ]


def test_a_parallel_run_on_a_real_odoo_finds_exactly_the_legacy_faults(
    gateway: Any, parallel_tag: str, tmp_path: Path
) -> None:
    """On Odoo 18: legacy writes for real, shipsync only reads; the report equals the faults."""
    status = _status_field(gateway)
    tag = parallel_tag
    odoo_data = OdooData(gateway, tag)
    arrival, numbers = feed(3, 12)
    arrival = _tagged(arrival, tag)
    picking_ids = odoo_data.pickings(len(numbers))
    pickings: dict[str, str] = {}
    for picking_id, number in zip(picking_ids, sorted(numbers), strict=True):
        gateway.call(
            "stock.picking", "write", [[picking_id], {"carrier_tracking_ref": tag + number}]
        )
        [row] = gateway.call("stock.picking", "read", [[picking_id]], {"fields": ["name"]})
        pickings[tag + number] = row["name"]
    vendor = odoo_data.partner("Swiftpost")
    currency = odoo_data.currency()
    [currency_id] = gateway.call("res.currency", "search", [[["name", "=", currency]]])
    invoices = sample_invoices(pickings, random.Random(3), currency=currency, prefix=f"P{tag}")

    legacy = FaultyLegacyConnector(gateway, status_field=status)
    for event in arrival:
        legacy.receive(event)
    for invoice in invoices:
        legacy.bill(invoice, vendor_id=vendor, currency_id=currency_id)

    counting = Counting(gateway)
    with SQLiteShadowRecorder(tmp_path / "shadow.sqlite") as recorder:
        shadow = ShadowGateway(counting, recorder, owned={"stock.picking": {status}})
        logistics = OdooLogistics(shadow, OdooFieldMap(picking_status=status))
        for start in range(0, len(arrival), 40):
            logistics.apply_events(arrival[start : start + 40])
        for invoice in invoices:
            logistics.create_vendor_bill(invoice, vendor_id=vendor)
        ours = shipsync_side(recorder.writes(), gateway, status_field=status)
    theirs = legacy_side_from_odoo(
        gateway,
        since=WINDOW[0],
        until=WINDOW[1],
        status_field=status,
        vendor_ids=[vendor],
        picking_domain=[["id", "in", picking_ids]],
    )
    report = parallel_run(ours, theirs, readiness=Readiness(consecutive_days=1))

    assert set(counting.methods) <= READ_METHODS
    assert shadow.intended > 0
    found = {(d.category.value, d.key) for d in report.divergences if d.category != "timing"}
    injected = legacy.injected()
    assert injected
    assert found == injected
    assert len(ours.bills) == len(invoices)
