"""The booking flow: a picking ready in Odoo becomes one carrier booking, exactly once.

Theory of operation. Each ERP event is handled by one short plan -> act -> record sequence:

- ``picking.ready``: choose the carrier and service (the picking's carrier, or the cheapest
  rate across the configured carriers that meets the promised date); claim the booking key in the
  idempotency store; book with an idempotency key derived from the picking; store the booked
  shipment under the key; write tracking numbers, price and labels on the picking; hand a
  ``shipment.created`` event to the sink (customer notification, tracking subscriptions).
- ``picking.cancelled``: the stored booking is voided at the carrier when its driver can cancel,
  otherwise flagged; a note on the picking says which.
- ``return.initiated``: a return label is booked for the original shipment and attached to the
  return picking with its tracking number.
- a ``lost`` milestone or a damage exception: a canonical claim is opened (``claim.opened``);
  :meth:`BookingFlow.settle_claim` drafts the carrier's credit note in Odoo once it is settled.

Exactly once, across every failure. The booking key is the picking's shipment id. A booked
shipment is stored under it *before* anything is written to Odoo, so when Odoo refuses or
cannot be reached after the label was created, the retry finds the stored shipment and writes
it without a second label. If the process dies between the carrier's answer and the store's
completion, the retry books again with the *same* carrier idempotency key, and the carrier
answers with the first booking. Every Odoo write is idempotent (a Message-Id per fact). A
carrier that is down leaves the picking as it is (ready, no tracking number): the outcome is
``deferred``, the key is released, and the next poll or sweep (:meth:`OdooSource.ready_pickings`)
books it once the breaker lets requests through again.

Several companies. Given :class:`CompanyCarriers` (carrier accounts per Odoo company) instead of
one set of clients, the flow books, rates, voids and returns a picking only with the accounts of
the picking's company (``ErpReference.company_id``, else read from the picking), and writes
to Odoo through :meth:`OdooLogistics.in_company <shipsync.odoo.OdooLogistics.in_company>` of
that company, so a picking another company holds is refused by Odoo instead of written. A
company without the account it needs is :class:`~shipsync.errors.NoCarrierAccountError` naming
the company and the carrier: refused when configured where it can be, otherwise the event is
rejected (a booking) or flagged (a void or return), never handled with another company's
account.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from shipsync.canonical import (
    Claim,
    ClaimOpened,
    ClaimSettled,
    ClaimStatus,
    ErpReference,
    Event,
    Milestone,
    Money,
    PickingCancelled,
    PickingReady,
    Rate,
    ReturnInitiated,
    Shipment,
    ShipmentCreated,
    TrackingEvent,
)
from shipsync.carriers import Capability, CarrierClient
from shipsync.errors import (
    CarrierError,
    CarrierUnavailableError,
    ConfigurationError,
    NoCarrierAccountError,
    OdooError,
    OdooUnavailableError,
    ShipsyncError,
    StoreUnavailableError,
)
from shipsync.idempotency import Acquired, Completed, IdempotencyStore, InProgress, Mismatched
from shipsync.odoo import OdooLogistics, OdooSource

__all__ = [
    "BOOKING_RETENTION",
    "BookingFlow",
    "BookingOutcome",
    "BookingWorker",
    "CompanyCarriers",
    "Outcome",
    "WorkerReport",
    "booking_key",
]

BOOKING_RETENTION = timedelta(days=400)
"""How long a booked shipment is remembered under its picking's key."""

_DAMAGE_WORDS = ("damag", "broken", "crushed")


class Outcome(enum.StrEnum):
    """What handling one event did."""

    BOOKED = "booked"
    ALREADY_BOOKED = "already_booked"
    DEFERRED = "deferred"
    """The carrier (or the store) was unavailable: nothing was written; try again later."""
    RECORD_FAILED = "record_failed"
    """Booked and stored, but Odoo did not take the write: a retry writes it, no second label."""
    IN_PROGRESS = "in_progress"
    VOIDED = "voided"
    FLAGGED = "flagged"
    NOT_BOOKED = "not_booked"
    RETURN_BOOKED = "return_booked"
    CLAIM_OPENED = "claim_opened"
    REJECTED = "rejected"
    IGNORED = "ignored"


@attrs.frozen
class BookingOutcome:
    """The result of handling one event: what happened, to which picking, and why."""

    outcome: Outcome
    picking_id: int | None = None
    shipment: Shipment | None = None
    detail: str = ""
    events: tuple[Event, ...] = ()
    error: ShipsyncError | None = None
    """The typed error behind a rejected or flagged outcome, when there is one."""

    @property
    def retry(self) -> bool:
        """True when handling the same event again later is expected to finish the job."""
        return self.outcome in (Outcome.DEFERRED, Outcome.RECORD_FAILED, Outcome.IN_PROGRESS)


def booking_key(shipment_id: str) -> str:
    """The idempotency key of a picking's booking (also sent to the carrier)."""
    return "booking:" + hashlib.sha256(shipment_id.encode()).hexdigest()[:40]


class CompanyCarriers:
    """Carrier accounts per Odoo company: ``CompanyCarriers({1: {"ups": a}, 2: {"ups": b}})``.

    Given to :class:`BookingFlow` as ``carriers``, a picking is booked, rated, voided and
    returned only with the clients of its own company. Refused when built (typed, before any
    event): no company, a company without any account
    (:class:`~shipsync.errors.NoCarrierAccountError`), and one client configured for two
    companies (:class:`~shipsync.errors.ConfigurationError`: an account belongs to one company).
    """

    def __init__(self, accounts: Mapping[int, Mapping[str, CarrierClient]]) -> None:
        if not accounts:
            raise ConfigurationError("no company has carrier accounts", path="carriers")
        owners: dict[int, int] = {}
        self.accounts: dict[int, dict[str, CarrierClient]] = {}
        for company, clients in accounts.items():
            if not clients:
                raise NoCarrierAccountError(company)
            for name, client in clients.items():
                owner = owners.setdefault(id(client), company)
                if owner != company:
                    raise ConfigurationError(
                        f"one {name!r} client is configured for companies {owner} and {company}",
                        path=f"carriers[{company}].{name}",
                    )
            self.accounts[company] = dict(clients)
        self.names = frozenset(n for clients in self.accounts.values() for n in clients)

    @property
    def companies(self) -> tuple[int, ...]:
        """The companies with accounts, in id order."""
        return tuple(sorted(self.accounts))

    def of(self, company: int | None, carrier: str | None = None) -> dict[str, CarrierClient]:
        """The accounts of ``company``.

        Raises :class:`~shipsync.errors.NoCarrierAccountError` when the company has none, or
        has no ``carrier`` account while another company has one (a carrier no company has
        is left to the caller: the flow then shops among the company's own accounts).
        """
        clients = self.accounts.get(company) if company is not None else None
        if clients is None:
            raise NoCarrierAccountError(company, carrier)
        if carrier is not None and carrier not in clients and carrier in self.names:
            raise NoCarrierAccountError(company, carrier)
        return clients


class BookingFlow:
    """Turns ERP events into carrier bookings, voids, returns and claims (see the module doc).

    Args:
        odoo: the Odoo operations to write back with.
        carriers: carrier clients by driver name (``{"fake": client}``), or
            :class:`CompanyCarriers` (accounts per company): each picking is then handled with
            its company's accounts only, and written through ``odoo.in_company`` of its company
            (every configured company is checked against the Odoo user's companies here).
        store: where booked shipments are kept by booking key (any idempotency store).
        rate_shop: when true, or when the picking names no known carrier, book the cheapest rate
            across ``carriers`` that arrives by the promised date.
        sink: receives every canonical event the flow produces (``shipment.created``,
            ``claim.opened``, ``claim.settled``) for notification and tracking.
        clock: "now" for claims.
    """

    def __init__(
        self,
        odoo: OdooLogistics,
        carriers: Mapping[str, CarrierClient] | CompanyCarriers,
        store: IdempotencyStore,
        *,
        rate_shop: bool = False,
        sink: Callable[[Event], None] | None = None,
        source: str = "shipsync/booking",
        lease: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.odoo = odoo
        self.companies: CompanyCarriers | None = None
        self._scoped: dict[int, OdooLogistics] = {}
        if isinstance(carriers, CompanyCarriers):
            self.companies = carriers
            self.carriers: dict[str, CarrierClient] = {}
            for company in carriers.companies:  # a company the Odoo user lacks: refused now
                self._scoped[company] = odoo.in_company(company)
        elif not carriers:
            raise ConfigurationError("the booking flow needs at least one carrier", path="carriers")
        else:
            self.carriers = dict(carriers)
        self.store = store
        self.rate_shop = rate_shop
        self.sink = sink or (lambda _event: None)
        self.source = source
        self.lease = lease
        self.clock = clock or (lambda: datetime.now(UTC))

    def _accounts(self, company: int | None, carrier: str | None) -> dict[str, CarrierClient]:
        """The clients a picking of ``company`` may use (all of them with one company)."""
        if self.companies is None:
            return self.carriers
        return self.companies.of(company, carrier)

    def _company_of(self, ref: ErpReference) -> int | None:
        """The record's company: the event's, or (with several companies, for an event that
        names none) read from the picking in Odoo (one request)."""
        if ref.company_id is not None or self.companies is None:
            return ref.company_id
        company = self.odoo.for_picking(ref.record_id).company
        return company.id if company is not None else None

    def _unknown_company(self, picking_id: int, exc: OdooError) -> BookingOutcome:
        kind = Outcome.DEFERRED if isinstance(exc, OdooUnavailableError) else Outcome.REJECTED
        return BookingOutcome(kind, picking_id, detail=str(exc), error=exc)

    def _odoo(self, company: int | None) -> OdooLogistics:
        """The Odoo operations for a picking of ``company`` (scoped to it with several)."""
        if self.companies is None:
            return self.odoo
        if company is None:
            raise NoCarrierAccountError(company)
        scoped = self._scoped.get(company)
        if scoped is None:  # a company without accounts still gets its flags in its own scope
            scoped = self._scoped[company] = self.odoo.in_company(company)
        return scoped

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, event: Event) -> BookingOutcome:
        """Handle one ERP event (or a tracking milestone wrapped in an envelope)."""
        if isinstance(event, PickingReady):
            return self.book(event)
        if isinstance(event, PickingCancelled):
            return self.cancel(event)
        if isinstance(event, ReturnInitiated):
            return self.start_return(event)
        return BookingOutcome(Outcome.IGNORED, detail=f"{event.type} starts no booking")

    # -- picking.ready --------------------------------------------------------------------------

    def book(self, event: PickingReady) -> BookingOutcome:
        """Book the picking once; write what was booked on it (see the module docstring)."""
        ready = event.data
        picking_id = ready.picking.record_id
        try:
            company = self._company_of(ready.picking)
        except OdooError as exc:
            return self._unknown_company(picking_id, exc)
        key = booking_key(ready.shipment.shipment_id)
        try:
            claim = self.store.claim(key, ready.shipment.shipment_id, self.lease)
        except StoreUnavailableError as exc:
            return BookingOutcome(Outcome.DEFERRED, picking_id, detail=str(exc))
        if isinstance(claim, Completed):
            shipment = Shipment.model_validate_json(claim.result)
            return self._record(picking_id, shipment, fresh=False, company=company)
        if isinstance(claim, InProgress):
            return BookingOutcome(Outcome.IN_PROGRESS, picking_id, detail="another worker books it")
        if isinstance(claim, Mismatched):  # pragma: no cover - the fingerprint is the key's own
            return BookingOutcome(Outcome.REJECTED, picking_id, detail="booking key reused")
        return self._book_claimed(
            claim,
            ready.shipment,
            ready.carrier,
            ready.promised_date,
            picking_id,
            company,
        )

    def _book_claimed(
        self,
        claim: Acquired,
        shipment: Shipment,
        carrier: str | None,
        promised: object,
        picking_id: int,
        company: int | None,
    ) -> BookingOutcome:
        try:
            accounts = self._accounts(company, None if self.rate_shop else carrier)
            client, service, rate = self._choose(accounts, shipment, carrier, promised)
            planned = shipment.model_copy(update={"carrier": client.carrier, "service": service})
            booked = client.create_shipment(planned, idempotency_key=claim.key)
        except CarrierUnavailableError as exc:
            self.store.release(claim.key, claim.token)
            return BookingOutcome(Outcome.DEFERRED, picking_id, detail=str(exc))
        except (CarrierError, NoCarrierAccountError) as exc:
            self.store.release(claim.key, claim.token)
            return BookingOutcome(Outcome.REJECTED, picking_id, detail=str(exc), error=exc)
        if rate is not None and booked.created_at is None:
            booked = booked.model_copy(update={"created_at": self.clock()})
        self.store.complete(
            claim.key, claim.token, booked.model_dump_json().encode(), BOOKING_RETENTION
        )
        price = rate.total if rate else None
        return self._record(picking_id, booked, fresh=True, price=price, company=company)

    def _record(
        self,
        picking_id: int,
        shipment: Shipment,
        *,
        fresh: bool,
        price: Money | None = None,
        company: int | None = None,
    ) -> BookingOutcome:
        try:
            odoo = self._odoo(company)
            recorded = odoo.record_shipment(picking_id, shipment, price=price)
        except (OdooUnavailableError, OdooError, NoCarrierAccountError) as exc:
            return BookingOutcome(
                Outcome.RECORD_FAILED, picking_id, shipment, detail=str(exc), error=exc
            )
        if recorded.already_recorded and not fresh:
            return BookingOutcome(Outcome.ALREADY_BOOKED, picking_id, shipment)
        created = ShipmentCreated.of(shipment, source=self.source, time=self.clock())
        self.sink(created)
        return BookingOutcome(Outcome.BOOKED, picking_id, shipment, events=(created,))

    def _choose(
        self,
        carriers: Mapping[str, CarrierClient],
        shipment: Shipment,
        carrier: str | None,
        promised: object,
    ) -> tuple[CarrierClient, str, Rate | None]:
        if carrier is not None and carrier in carriers and not self.rate_shop:
            return carriers[carrier], shipment.service, None
        best: tuple[Rate, CarrierClient] | None = None
        failures: list[str] = []
        unavailable: CarrierUnavailableError | None = None
        for name, client in sorted(carriers.items()):
            if Capability.QUOTE_RATES not in client.driver.info.capabilities:
                continue
            try:
                rates = client.quote_rates(shipment.model_copy(update={"carrier": name}))
            except CarrierUnavailableError as exc:
                unavailable = exc
                continue
            except CarrierError as exc:
                failures.append(f"{name}: {exc}")
                continue
            for rate in rates:
                late = (
                    promised is not None
                    and rate.estimated_delivery is not None
                    and rate.estimated_delivery > promised  # type: ignore[operator]
                )
                if late:
                    continue
                if best is None or rate.total.amount < best[0].total.amount:
                    best = (rate, client)
        if best is None:
            if unavailable is not None:
                raise unavailable
            raise CarrierError("no configured carrier offers a rate: " + "; ".join(failures))
        return best[1], best[0].service, best[0]

    def book_many(self, events: Sequence[PickingReady]) -> list[BookingOutcome]:
        """:meth:`book` for a batch: one store claim, one store completion, one Odoo recording.

        Outcomes come in the order of ``events`` (a repeated event gets its twin's outcome).

        Carriers are still asked once per picking (one booking each); the store and Odoo are
        asked a bounded number of times per batch, whatever its size.
        """
        unique = list({e.data.shipment.shipment_id: e for e in events}.values())
        if not unique:
            return []
        outcomes: dict[int, BookingOutcome] = {}
        companies: dict[int, int | None] = {}
        for event in list(unique):
            picking_id = event.data.picking.record_id
            try:
                companies[picking_id] = self._company_of(event.data.picking)
            except OdooError as exc:
                outcomes[picking_id] = self._unknown_company(picking_id, exc)
                unique.remove(event)
        if not unique:
            return [outcomes[e.data.picking.record_id] for e in events]
        items = [
            (booking_key(e.data.shipment.shipment_id), e.data.shipment.shipment_id) for e in unique
        ]
        try:
            claims = self.store.claim_many(items, self.lease)
        except StoreUnavailableError as exc:
            for e in unique:
                pid = e.data.picking.record_id
                outcomes[pid] = BookingOutcome(Outcome.DEFERRED, pid, detail=str(exc))
            return [outcomes[e.data.picking.record_id] for e in events]
        to_record: list[tuple[int, Shipment, Money | None, bool, int | None]] = []
        completions: list[tuple[str, int, bytes]] = []
        for event, claim in zip(unique, claims, strict=True):
            ready, picking_id = event.data, event.data.picking.record_id
            company = companies[picking_id]
            if isinstance(claim, Completed):
                stored = Shipment.model_validate_json(claim.result)
                to_record.append((picking_id, stored, None, False, company))
            elif isinstance(claim, Acquired):
                try:
                    client, service, rate = self._choose(
                        self._accounts(company, None if self.rate_shop else ready.carrier),
                        ready.shipment,
                        ready.carrier,
                        ready.promised_date,
                    )
                    planned = ready.shipment.model_copy(
                        update={"carrier": client.carrier, "service": service}
                    )
                    booked = client.create_shipment(planned, idempotency_key=claim.key)
                except (CarrierError, NoCarrierAccountError) as exc:
                    self.store.release(claim.key, claim.token)
                    kind = (
                        Outcome.DEFERRED
                        if isinstance(exc, CarrierUnavailableError)
                        else Outcome.REJECTED
                    )
                    outcomes[picking_id] = BookingOutcome(
                        kind, picking_id, detail=str(exc), error=exc
                    )
                    continue
                completions.append((claim.key, claim.token, booked.model_dump_json().encode()))
                to_record.append((picking_id, booked, rate.total if rate else None, True, company))
            else:
                outcomes[picking_id] = BookingOutcome(
                    Outcome.IN_PROGRESS, picking_id, detail=type(claim).__name__
                )
        if completions:
            self.store.complete_many(completions, BOOKING_RETENTION)
        by_company: dict[int | None, list[tuple[int, Shipment, Money | None, bool]]] = {}
        for pid, shipment, price, fresh, company in to_record:
            by_company.setdefault(company, []).append((pid, shipment, price, fresh))
        for company, recorded in by_company.items():  # one recording per company
            outcomes.update(self._record_many(recorded, company))
        return [outcomes[e.data.picking.record_id] for e in events]

    def _record_many(
        self, items: Sequence[tuple[int, Shipment, Money | None, bool]], company: int | None
    ) -> dict[int, BookingOutcome]:
        if not items:
            return {}
        try:
            odoo = self._odoo(company)
            recorded = odoo.record_shipments([(pid, s, price) for pid, s, price, _ in items])
        except (OdooError, NoCarrierAccountError) as exc:
            return {
                pid: BookingOutcome(
                    Outcome.RECORD_FAILED, pid, shipment, detail=str(exc), error=exc
                )
                for pid, shipment, _, _ in items
            }
        outcomes: dict[int, BookingOutcome] = {}
        for (pid, shipment, _, fresh), document in zip(items, recorded, strict=True):
            if document.already_recorded and not fresh:
                outcomes[pid] = BookingOutcome(Outcome.ALREADY_BOOKED, pid, shipment)
                continue
            created = ShipmentCreated.of(shipment, source=self.source, time=self.clock())
            self.sink(created)
            outcomes[pid] = BookingOutcome(Outcome.BOOKED, pid, shipment, events=(created,))
        return outcomes

    # -- picking.cancelled ----------------------------------------------------------------------

    def _booked(self, shipment_id: str) -> Shipment | None:
        """The stored booking of a picking, or ``None`` (the store is asked, never changed)."""
        key = booking_key(shipment_id)
        claim = self.store.claim(key, shipment_id, timedelta(seconds=1))
        if isinstance(claim, Completed):
            return Shipment.model_validate_json(claim.result)
        if isinstance(claim, Acquired):
            self.store.release(claim.key, claim.token)
        return None

    def cancel(self, event: PickingCancelled) -> BookingOutcome:
        """Void the booking of a cancelled picking where the carrier can; otherwise flag it."""
        picking_id = event.data.picking.record_id
        shipment_id = event.subject or ""
        try:
            shipment = self._booked(shipment_id)
        except StoreUnavailableError as exc:
            return BookingOutcome(Outcome.DEFERRED, picking_id, detail=str(exc))
        if shipment is None:
            return BookingOutcome(Outcome.NOT_BOOKED, picking_id, detail="nothing was booked")
        try:
            company = self._company_of(event.data.picking)
        except OdooError as exc:
            return self._unknown_company(picking_id, exc)
        voided, reason = False, "no client for this carrier"
        missing: NoCarrierAccountError | None = None
        try:
            client = self._accounts(company, shipment.carrier).get(shipment.carrier)
        except NoCarrierAccountError as exc:
            client, missing, reason = None, exc, f"{exc}: void it by hand"
        if client is not None and Capability.CANCEL_SHIPMENT in client.driver.info.capabilities:
            try:
                client.cancel_shipment(shipment.carrier_shipment_id or shipment.shipment_id)
                voided, reason = True, "voided at the carrier"
            except CarrierUnavailableError as exc:
                return BookingOutcome(Outcome.DEFERRED, picking_id, shipment, detail=str(exc))
            except CarrierError as exc:
                reason = f"the carrier refused to void it: {exc}"
        elif client is not None:
            reason = f"{shipment.carrier} cannot void labels: void it by hand"
        try:
            odoo = self._odoo(company)
            odoo.record_cancellation(picking_id, shipment, voided=voided, reason=reason)
        except (OdooError, NoCarrierAccountError) as exc:
            return BookingOutcome(
                Outcome.RECORD_FAILED, picking_id, shipment, detail=str(exc), error=exc
            )
        outcome = Outcome.VOIDED if voided else Outcome.FLAGGED
        return BookingOutcome(outcome, picking_id, shipment, detail=reason, error=missing)

    # -- return.initiated -----------------------------------------------------------------------

    def start_return(self, event: ReturnInitiated) -> BookingOutcome:
        """Book a return label for the original shipment and attach it to the return picking."""
        data = event.data
        picking_id = data.return_picking.record_id
        try:
            original = self._booked(event.subject or "")
        except StoreUnavailableError as exc:
            return BookingOutcome(Outcome.DEFERRED, picking_id, detail=str(exc))
        if original is None:
            return BookingOutcome(
                Outcome.NOT_BOOKED, picking_id, detail="the original picking was not booked here"
            )
        try:
            company = self._company_of(data.return_picking)
        except OdooError as exc:
            return self._unknown_company(picking_id, exc)
        try:
            client = self._accounts(company, original.carrier).get(original.carrier)
        except NoCarrierAccountError as exc:
            return BookingOutcome(Outcome.FLAGGED, picking_id, original, detail=str(exc), error=exc)
        if client is None or Capability.CREATE_RETURN not in client.driver.info.capabilities:
            return BookingOutcome(
                Outcome.FLAGGED, picking_id, original, detail="the carrier books no returns"
            )
        key = booking_key(f"return:{data.return_picking.database}:{picking_id}")
        try:
            returned = client.create_return(original, reason=data.reason, idempotency_key=key)
        except CarrierUnavailableError as exc:
            return BookingOutcome(Outcome.DEFERRED, picking_id, original, detail=str(exc))
        except CarrierError as exc:
            return BookingOutcome(Outcome.REJECTED, picking_id, original, detail=str(exc))
        try:
            self._odoo(company).record_return(picking_id, returned)
        except (OdooError, NoCarrierAccountError) as exc:
            return BookingOutcome(
                Outcome.RECORD_FAILED, picking_id, original, detail=str(exc), error=exc
            )
        return BookingOutcome(
            Outcome.RETURN_BOOKED, picking_id, original, detail=returned.tracking_number
        )

    # -- lost or damaged ------------------------------------------------------------------------

    def open_claim(
        self, tracking: TrackingEvent, shipment: Shipment, *, amount: Money | None = None
    ) -> BookingOutcome:
        """Open a claim when ``tracking`` says lost, or an exception says damaged.

        The amount defaults to the declared customs value, else nothing (zero, in the
        shipment's first commodity currency or EUR) for the host to fill in.
        """
        reason_text = f"{tracking.carrier_description} {tracking.reason.value}".lower()
        damaged = tracking.milestone is Milestone.EXCEPTION and any(
            word in reason_text for word in _DAMAGE_WORDS
        )
        if tracking.milestone is not Milestone.LOST and not damaged:
            return BookingOutcome(Outcome.IGNORED, detail="not lost nor damaged")
        claimed = amount or _declared_value(shipment)
        claim = Claim(
            claim_id=f"claim:{tracking.carrier}:{tracking.tracking_number}",
            shipment_id=shipment.shipment_id,
            carrier=shipment.carrier,
            status=ClaimStatus.OPEN,
            reason="lost" if tracking.milestone is Milestone.LOST else "damaged",
            amount=claimed,
            opened_at=tracking.occurred_at,
            tracking_number=tracking.tracking_number,
        )
        opened = ClaimOpened.of(claim, source=self.source, time=tracking.occurred_at)
        self.sink(opened)
        return BookingOutcome(Outcome.CLAIM_OPENED, shipment=shipment, events=(opened,))

    def settle_claim(
        self, claim: Claim, *, settled: Money, vendor_id: int, company: int | None = None
    ) -> BookingOutcome:
        """Record a claim's settlement: a draft credit note from the carrier in Odoo, once.

        With :class:`CompanyCarriers`, ``company`` (the shipment's company) is required: the
        note goes to that company's purchase journal.
        """
        now = self.clock()
        done = claim.model_copy(
            update={"status": ClaimStatus.SETTLED, "settled_amount": settled, "settled_at": now}
        )
        done = Claim.model_validate(done.model_dump())
        try:
            odoo = self.odoo if company is None and self.companies is None else self._odoo(company)
            note = odoo.create_credit_note(done, vendor_id=vendor_id)
        except (OdooError, NoCarrierAccountError) as exc:
            return BookingOutcome(Outcome.RECORD_FAILED, detail=str(exc), error=exc)
        event = ClaimSettled.of(done, source=self.source, time=now)
        self.sink(event)
        return BookingOutcome(Outcome.BOOKED, detail=f"credit note {note.id}", events=(event,))

    def handle_many(self, events: Sequence[Event]) -> list[BookingOutcome]:
        """Handle events in order; one's failure never stops the others."""
        return [self.handle(event) for event in events]


def _declared_value(shipment: Shipment) -> Money:
    if shipment.customs is not None:
        values = [c.value for c in shipment.customs.commodities]
        total = values[0]
        for value in values[1:]:
            if value.currency == total.currency:
                total = total + value
        return total
    return Money.of(Decimal(0), "EUR")


@attrs.frozen
class WorkerReport:
    """What one :meth:`BookingWorker.run_once` did: outcomes by feed, requests, lag."""

    outcomes: tuple[BookingOutcome, ...]
    round_trips: int
    committed: tuple[str, ...]
    held: tuple[str, ...]
    lag_seconds: float | None
    """Now minus the ``write_date`` of the oldest change handled (Odoo stamps to the second)."""

    def count(self, outcome: Outcome) -> int:
        """How many events ended with ``outcome``."""
        return sum(1 for o in self.outcomes if o.outcome is outcome)


class BookingWorker:
    """Polls an :class:`~shipsync.odoo.OdooSource` and hands its events to a :class:`BookingFlow`.

    The ``picking.ready`` batch is always committed: a booking the carrier deferred (or another
    worker's lease holds) leaves its picking ready and without a tracking number in Odoo, which
    is exactly what :meth:`sweep` finds, so the next run sweeps before polling and the feed is
    never blocked behind one picking; a booking Odoo did not fully take is handled again by the
    next run (the stored booking is written, no second label). The cancellation and
    return batches are committed only when every event in them is done; otherwise they come
    out again on the next poll, where the events already done cost nothing. A worker killed at
    any point therefore leaves nothing behind and books nothing twice.
    """

    FEEDS = ("picking.ready", "picking.cancelled", "return.initiated")

    def __init__(
        self,
        source: OdooSource,
        flow: BookingFlow,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.flow = flow
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pending_sweep = False
        self._retry: dict[str, Event] = {}

    def _handle(self, events: Sequence[Event]) -> list[BookingOutcome]:
        """Book the ready ones as one batch, handle the others; remember what needs a retry."""
        ready = [e for e in events if isinstance(e, PickingReady)]
        others = [e for e in events if not isinstance(e, PickingReady)]
        results = self.flow.book_many(ready) + [self.flow.handle(e) for e in others]
        for event, result in zip([*ready, *others], results, strict=True):
            if result.retry and isinstance(event, PickingReady):
                # A booking Odoo did not take is retried from memory (its picking may already
                # carry the tracking number, which hides it from the sweep); one the carrier
                # deferred is found by the sweep, which also covers a restart.
                if result.outcome is Outcome.RECORD_FAILED:
                    self._retry[event.id] = event
                else:
                    self.pending_sweep = True
        return results

    def run_once(self) -> WorkerReport:
        """A sweep when the last run left bookings to retry, then one poll of each feed."""
        start = self.source.round_trips
        outcomes: list[BookingOutcome] = []
        committed: list[str] = []
        held: list[str] = []
        oldest: datetime | None = None
        if self._retry:
            retry, self._retry = list(self._retry.values()), {}
            outcomes += self._handle(retry)
        if self.pending_sweep:
            self.pending_sweep = False  # set again by the sweep for what is still deferred
            outcomes += self.sweep()
        for feed in self.FEEDS:
            batch = self.source.poll(feed)
            results = self._handle(batch.events)
            outcomes += results
            for event in batch.events:
                oldest = event.time if oldest is None else min(oldest, event.time)
            if feed == "picking.ready" or not any(r.retry for r in results):
                self.source.commit(batch)
                committed.append(feed)
            else:
                held.append(feed)
        lag = (self.clock() - oldest).total_seconds() if oldest is not None else None
        return WorkerReport(
            outcomes=tuple(outcomes),
            round_trips=self.source.round_trips - start,
            committed=tuple(committed),
            held=tuple(held),
            lag_seconds=lag,
        )

    def sweep(self) -> list[BookingOutcome]:
        """Book every picking Odoo shows ready and unbooked (after an outage or a crash).

        What it could not finish is remembered like a polled booking: one Odoo did not fully
        take is retried from memory by the next run (its tracking number, already written,
        hides it from the next sweep), one the carrier deferred by the next sweep.
        """
        return self._handle(self.source.ready_pickings().events)
