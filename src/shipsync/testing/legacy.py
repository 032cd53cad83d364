"""A legacy connector with the faults home-made integrations have, for parallel-run tests.

:class:`FaultyLegacyConnector` writes into Odoo the way a typical connector does, with plain ORM
calls through any :class:`~shipsync.odoo.OdooGateway` (so it runs against the memory Odoo or a
real server): for each tracking event as it arrives, find the picking by tracking reference, post
a note, write ``delivery_state``; for each carrier invoice, create a vendor bill. Its faults are
switched by :class:`LegacyFaults`:

- ``regress_out_of_order``: the status written is the latest event *received*, so an old scan
  arriving late moves the picking back;
- ``duplicate_notes``: a redelivered event is posted again;
- ``drop_every``: every N-th event received is lost (a crashed cron, a timeout swallowed);
- ``float_amounts``: amounts go through ``float`` and are truncated to cents
  (``int(float("0.29") * 100) / 100`` is ``0.28``).

It also keeps the truth: :meth:`FaultyLegacyConnector.injected` lists, per category and key,
the divergences its faults left in Odoo, measured against the canonical fold of the events it
was sent (the status), the unique events (the notes) and the exact amounts. A parallel-run
report must find exactly those.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shipsync.canonical import (
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Milestone,
    Money,
    TrackingEvent,
    fold_package,
)
from shipsync.canonical.mappings import oca_delivery_state
from shipsync.odoo import OdooGateway
from shipsync.testing.parcel_world import generate

__all__ = [
    "TRAPS",
    "FaultyLegacyConnector",
    "LegacyFaults",
    "feed",
    "legacy_note",
    "sample_invoices",
]

#: Amounts whose float truncation to cents loses a cent (0.29 * 100 is 28.999...).
TRAPS = ("0.29", "0.57", "1.13", "2.01", "4.35", "8.70")


@dataclass(frozen=True, slots=True)
class LegacyFaults:
    """Which faults the legacy connector has (all by default)."""

    regress_out_of_order: bool = True
    duplicate_notes: bool = True
    drop_every: int | None = 50
    float_amounts: bool = True


def legacy_note(event: TrackingEvent) -> str:
    """The note a legacy connector posts: plain text, its own wording."""
    label = event.milestone.value.replace("_", " ").capitalize()
    return f"{label} - {event.carrier_description or event.carrier_code}"


def _float_cents(amount: object) -> float:
    return int(float(str(amount)) * 100) / 100


class FaultyLegacyConnector:
    """Writes tracking and bills into Odoo like a typical home-made connector (see module doc)."""

    def __init__(
        self,
        gateway: OdooGateway,
        faults: LegacyFaults | None = None,
        *,
        status_field: str = "delivery_state",
    ) -> None:
        self.gateway = gateway
        self.faults = faults or LegacyFaults()
        self.status_field = status_field
        self.received = 0
        self._pickings: dict[str, tuple[int, str]] = {}
        self._seen: set[str] = set()
        self._sent: dict[str, dict[str, TrackingEvent]] = {}
        self._posted: dict[str, Counter[str]] = {}
        self._written: dict[str, Milestone] = {}
        self._amounts: set[str] = set()

    def _picking(self, tracking_number: str) -> tuple[int, str] | None:
        if tracking_number not in self._pickings:
            rows = self.gateway.call(
                "stock.picking",
                "search_read",
                [[["carrier_tracking_ref", "=", tracking_number]]],
                {"fields": ["name"], "limit": 1},
            )
            if not rows:
                return None
            self._pickings[tracking_number] = (int(rows[0]["id"]), str(rows[0]["name"]))
        return self._pickings[tracking_number]

    def receive(self, event: TrackingEvent) -> None:
        """Take one tracking event as it arrives."""
        self.received += 1
        found = self._picking(event.tracking_number)
        if found is None:
            return
        picking_id, name = found
        self._sent.setdefault(name, {})[event.event_id] = event
        if self.faults.drop_every and self.received % self.faults.drop_every == 0:
            return
        duplicate = event.event_id in self._seen
        self._seen.add(event.event_id)
        if duplicate and not self.faults.duplicate_notes:
            return
        self.gateway.call(
            "mail.message",
            "create",
            [
                [
                    {
                        "model": "stock.picking",
                        "res_id": picking_id,
                        "message_type": "comment",
                        "body": legacy_note(event),
                    }
                ]
            ],
        )
        self._posted.setdefault(name, Counter())[event.milestone.value] += 1
        current = self._written.get(name)
        if (
            not self.faults.regress_out_of_order
            and current is not None
            and _later_or_same(current, event.milestone)
        ):
            return
        value = oca_delivery_state(event.milestone)
        if value is not None and event.milestone is not Milestone.UNKNOWN:
            self.gateway.call("stock.picking", "write", [[picking_id], {self.status_field: value}])
            self._written[name] = event.milestone

    def bill(self, invoice: FreightInvoice, *, vendor_id: int, currency_id: int) -> int:
        """Create the vendor bill of a carrier invoice, one line per charge."""
        lines = []
        for line in invoice.lines:
            for charge in line.charges:
                exact = charge.amount.amount
                price = _float_cents(exact) if self.faults.float_amounts else float(exact)
                label = charge.type.value.replace("_", " ")
                if str(exact) != f"{price:.2f}":
                    self._amounts.add(f"{invoice.invoice_number} {line.tracking_number} {label}")
                lines.append(
                    [
                        0,
                        0,
                        {
                            "name": f"{line.tracking_number} {label}",
                            "quantity": 1,
                            "price_unit": price,
                        },
                    ]
                )
        created = self.gateway.call(
            "account.move",
            "create",
            [
                [
                    {
                        "move_type": "in_invoice",
                        "partner_id": vendor_id,
                        "ref": invoice.invoice_number,
                        "currency_id": currency_id,
                        "invoice_line_ids": lines,
                    }
                ]
            ],
        )
        return int(created[0] if isinstance(created, list) else created)

    def injected(self) -> set[tuple[str, str]]:
        """``(category, key)`` of every divergence the faults left in Odoo."""
        out: set[tuple[str, str]] = {("amount", key) for key in self._amounts}
        for name, sent in self._sent.items():
            unique = Counter(e.milestone.value for e in sent.values())
            if self._posted.get(name, Counter()) != unique:
                out.add(("notes", name))
            truth = _truth(list(sent.values()))
            written = self._written.get(name)
            if (
                truth is not None
                and written is not None
                and oca_delivery_state(truth) != oca_delivery_state(written)
            ):
                out.add(("status", name))
        return out


def _later_or_same(current: Milestone, new: Milestone) -> bool:
    from shipsync.canonical import SORT_RANK

    return SORT_RANK.get(new, 0) <= SORT_RANK.get(current, 0)


def _truth(events: Sequence[TrackingEvent]) -> Milestone | None:
    if not events:
        return None
    state = fold_package(events)
    return state.status


# --- a shared world for parallel-run tests and the demo ----------------------------------------


def feed(seed: int, shipments: int) -> tuple[list[TrackingEvent], dict[str, str]]:
    """Tracking events in arrival order (some late, some twice), and the picking per number."""
    rng = random.Random(seed)
    events: list[TrackingEvent] = []
    pickings: dict[str, str] = {}
    for index, sim in enumerate(generate(seed, months=1, shipments_per_day=shipments // 26 + 1)):
        if index == shipments:
            break
        number = f"TRK{seed}{index:06d}"
        pickings[number] = f"WH/OUT/{index:05d}"
        for n, scan in enumerate(sim.events):
            events.append(
                TrackingEvent(
                    event_id=f"{number}-{n}",
                    shipment_id=sim.shipment_id,
                    tracking_number=number,
                    carrier="swiftpost",
                    milestone=scan.milestone,
                    reason=scan.reason,
                    occurred_at=scan.at,
                    recorded_at=scan.at,
                    carrier_code=scan.milestone.value.upper()[:3],
                    carrier_description=scan.facility,
                )
            )
    # Webhooks arrive late now and then (a tenth up to two days late), and twice (5%).
    timed = []
    for event in events:
        late = timedelta(hours=rng.uniform(0, 48)) if rng.random() < 0.1 else timedelta(0)
        timed.append((event.occurred_at + late, event))
        if rng.random() < 0.05:
            timed.append((event.occurred_at + late + timedelta(minutes=5), event))
    timed.sort(key=lambda pair: pair[0])
    return [event for _, event in timed], pickings


def sample_invoices(
    pickings: Mapping[str, str], rng: random.Random, *, currency: str = "EUR", prefix: str = "INV"
) -> list[FreightInvoice]:
    numbers = sorted(pickings)
    out = []
    for start in range(0, len(numbers), 40):
        lines = []
        for n, number in enumerate(numbers[start : start + 40], 1):
            base = Decimal(rng.randrange(500, 3000)) / 100
            fuel = Decimal(rng.choice([*TRAPS, "0.50", "1.20", "3.10", "0.75"]))
            lines.append(
                FreightInvoiceLine(
                    line_number=n,
                    tracking_number=number,
                    charges=(
                        FreightCharge(
                            type=ChargeType.BASE_FREIGHT, amount=Money.of(base, currency)
                        ),
                        FreightCharge(type=ChargeType.FUEL, amount=Money.of(fuel, currency)),
                    ),
                )
            )
        total = sum((line.total for line in lines), Money.zero(currency))
        out.append(
            FreightInvoice(
                invoice_number=f"{prefix}-{start // 40 + 1:04d}",
                carrier="swiftpost",
                issued_at=datetime(2026, 2, 1, tzinfo=UTC),
                currency=currency,
                lines=tuple(lines),
                total=total,
            )
        )
    return out
