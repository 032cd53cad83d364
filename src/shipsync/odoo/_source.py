"""Odoo as a source of canonical events: change feeds read, records turned into events.

:class:`OdooSource` polls the built-in feeds (:data:`~shipsync.odoo.FEEDS`) and turns each
change into its canonical event: ``picking.ready`` carries the shipment built from the picking
(recipient from the picking's partner, shipper from its company, one parcel per package or one
for the picking, weights in kg, customs commodities valued from the sale lines when the parcel
crosses a border), ``picking.cancelled`` and ``return.initiated`` name the pickings and their
tracking numbers, ``order.confirmed`` the order and its customer.

Round trips are per batch, never per record: one ``search_read`` per feed page, then for a
batch of pickings one read of the partners, one of the move lines and one of the packages, and
for a cross-border batch one of the moves, one of the sale lines and one of the products.

Event ids are stable per change (the feed, the record and its ``write_date``), so a change
handed out twice (a restart before the commit) is the same event, deduplicated downstream.
A record that cannot become an event (a partner without a country) is reported in
``SourceBatch.rejected`` with its reason, never dropped silently; it comes out again once fixed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from shipsync.canonical import (
    COUNTRY_CODES,
    CURRENCY_EXPONENTS,
    Address,
    CancelledPicking,
    Commodity,
    ConfirmedOrder,
    Contact,
    Customs,
    ErpReference,
    Event,
    Incoterm,
    InitiatedReturn,
    Money,
    OrderConfirmed,
    Package,
    Parcel,
    PickingCancelled,
    PickingReady,
    ReadyPicking,
    ReturnInitiated,
    Shipment,
    Weight,
)
from shipsync.errors import CanonicalValidationError, InvalidInputError
from shipsync.odoo._answers import rows
from shipsync.odoo._batch import IN_CHUNK, chunked
from shipsync.odoo._cursors import EPOCH, CursorStore
from shipsync.odoo._feed import (
    ORDERS_CONFIRMED,
    PICKINGS_CANCELLED,
    PICKINGS_READY,
    RETURNS_CREATED,
    Change,
    ChangeBatch,
    ChangeFeed,
    FeedFilter,
)
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._render import m2o_id, m2o_name

__all__ = ["OdooSource", "SourceBatch", "picking_shipment_id"]

_PARTNER_FIELDS = [
    "name",
    "is_company",
    "commercial_company_name",
    "street",
    "street2",
    "city",
    "zip",
    "state_id",
    "country_code",
    "phone",
    "email",
]
_MIN_KG = Decimal("0.1")


def picking_shipment_id(database: str, picking_id: int) -> str:
    """The stable shipment id of an Odoo picking: every retry of its booking names it."""
    return f"odoo:{database}:stock.picking:{picking_id}"


def _event_id(change: Change, database: str) -> str:
    raw = f"{database}\n{change.feed}\n{change.record_id}\n{change.write_date}"
    return str(uuid.UUID(bytes=hashlib.sha256(raw.encode()).digest()[:16], version=5))


def _odoo_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _odoo_date(value: object) -> date | None:
    moment = _odoo_time(value)
    if moment is not None:
        return moment.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(value: object) -> Decimal | None:
    """A finite number Odoo holds as an int or float; ``None`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    amount = Decimal(str(value))
    return amount if amount.is_finite() else None


def _kg(value: object) -> Decimal:
    """A weight Odoo holds as a float, as kilograms; anything else (``False``, NaN) is 0."""
    amount = _number(value)
    return amount if amount is not None and amount > 0 else Decimal(0)


def _hs_code(value: str | None) -> str | None:
    """Odoo's free-text HS code as the canonical 6, 8 or 10 digits, or ``None``."""
    digits = (value or "").replace(".", "").replace(" ", "")
    return digits if digits.isdigit() and len(digits) in (6, 8, 10) else None


@attrs.frozen
class SourceBatch:
    """Events read by one poll of one feed, and the feed batch to commit once they are handled.

    ``rejected`` maps a record id to why it could not become an event.
    """

    events: tuple[Event, ...]
    rejected: Mapping[int, str]
    feed_batch: ChangeBatch
    round_trips: int

    @property
    def more(self) -> bool:
        """True when the feed has more changes waiting."""
        return self.feed_batch.more


class OdooSource:
    """Polls Odoo's change feeds and turns changes into canonical events.

    Args:
        gateway: where to read.
        cursors: where each feed's cursor is kept.
        database: the database name, part of every shipment id and event source.
        carriers: Odoo delivery method name -> shipsync driver name (unknown ones pass as is).
        services: Odoo delivery method name -> carrier service (default ``default_service``).
        lookback, batch, page, companies, start: as for :class:`~shipsync.odoo.ChangeFeed`.
        domain: leaves added to every feed's filter (``[("partner_id", "=", 7)]``): one
            warehouse, one customer, or a test's own records.
        clock: gives "now" for events that Odoo does not date.
    """

    def __init__(
        self,
        gateway: OdooGateway,
        cursors: CursorStore,
        *,
        database: str,
        carriers: Mapping[str, str] | None = None,
        services: Mapping[str, str] | None = None,
        default_service: str = "standard",
        lookback: timedelta = timedelta(seconds=60),
        batch: int = 200,
        page: int = 200,
        companies: Sequence[int] = (),
        start: str = EPOCH,
        domain: Sequence[tuple[str, str, Any]] = (),
        clock: Any = None,
    ) -> None:
        self._gw = gateway
        self.database = database
        self.source = f"odoo/{database}"
        self._carriers = dict(carriers or {})
        self._services = dict(services or {})
        self._default_service = default_service
        self._clock = clock or (lambda: datetime.now(UTC))
        self._company_partner: dict[int, int] | None = None
        extra = tuple(tuple(leaf) for leaf in domain)
        self.feeds: dict[str, ChangeFeed] = {
            spec.name: ChangeFeed(
                gateway,
                attrs.evolve(spec, domain=spec.domain + extra) if extra else spec,
                cursors,
                lookback=lookback,
                batch=batch,
                page=page,
                companies=companies,
                start=start,
            )
            for spec in (PICKINGS_READY, PICKINGS_CANCELLED, RETURNS_CREATED, ORDERS_CONFIRMED)
        }

    @property
    def round_trips(self) -> int:
        """Requests the gateway sent so far."""
        return self._gw.round_trips

    # -- public ---------------------------------------------------------------------------------

    def poll(self, feed: str) -> SourceBatch:
        """Read the next changes of ``feed`` (``"picking.ready"``, ...) as canonical events."""
        start = self._gw.round_trips
        batch = self.feeds[feed].poll()
        events, rejected = self.events_for(self.feeds[feed].spec, batch.changes)
        return SourceBatch(tuple(events), rejected, batch, self._gw.round_trips - start)

    def commit(self, batch: SourceBatch) -> None:
        """Mark ``batch`` handled: its changes will not come out again."""
        self.feeds[batch.feed_batch.feed.split("@")[0]].commit(batch.feed_batch)

    def ready_pickings(self, *, limit: int = 500) -> SourceBatch:
        """Every picking ready to book *now*, whatever the cursor (a sweep after an outage).

        The booking flow is idempotent, so a sweep repeating what the feed handed out is safe;
        it finds what a crash, a cut feed or a deferred booking left behind. Nothing to commit.
        """
        start = self._gw.round_trips
        spec = self.feeds[PICKINGS_READY.name].spec
        found = rows(
            self._gw.call(
                spec.model,
                "search_read",
                [[list(leaf) for leaf in spec.domain]],
                {
                    "fields": sorted({*spec.fields, "write_date"}),
                    "order": "id",
                    "limit": limit,
                },
            ),
            f"{spec.model}.search_read",
        )
        changes = [Change(spec.name, int(r["id"]), str(r.get("write_date")), r) for r in found]
        events, rejected = self.events_for(spec, changes)
        empty = ChangeBatch(spec.name, (), self.feeds[spec.name].cursor(), 0, False)
        return SourceBatch(tuple(events), rejected, empty, self._gw.round_trips - start)

    def events_for(
        self, spec: FeedFilter, changes: Sequence[Change]
    ) -> tuple[list[Event], dict[int, str]]:
        """The canonical event of each change (and why those that have none were rejected)."""
        if not changes:
            return [], {}
        if spec.name == PICKINGS_READY.name:
            return self._ready(changes)
        events: list[Event] = []
        rejected: dict[int, str] = {}
        for change in changes:
            try:
                events.append(self._simple_event(spec.name, change))
            except (CanonicalValidationError, InvalidInputError) as exc:
                rejected[change.record_id] = str(exc)
        return events, rejected

    # -- building events ------------------------------------------------------------------------

    def _ref(self, model: str, row: Mapping[str, Any]) -> ErpReference:
        return ErpReference(
            database=self.database,
            model=model,
            record_id=int(row["id"]),
            name=str(row.get("name") or row["id"]),
            company_id=m2o_id(row.get("company_id")),
        )

    def _m2o_ref(self, model: str, value: object, company: int | None) -> ErpReference | None:
        record_id = m2o_id(value)
        if record_id is None:
            return None
        return ErpReference(
            database=self.database,
            model=model,
            record_id=record_id,
            name=m2o_name(value) or str(record_id),
            company_id=company,
        )

    def _simple_event(self, feed: str, change: Change) -> Event:
        row = change.row
        when = _odoo_time(change.write_date) or self._clock()
        company = m2o_id(row.get("company_id"))
        event_id = _event_id(change, self.database)
        refs = tuple(
            r.strip() for r in str(row.get("carrier_tracking_ref") or "").split(",") if r.strip()
        )
        if feed == PICKINGS_CANCELLED.name:
            data: Any = CancelledPicking(
                picking=self._ref("stock.picking", row),
                order=self._m2o_ref("sale.order", row.get("sale_id"), company),
                cancelled_at=when,
                tracking_numbers=refs,
            )
            subject = picking_shipment_id(self.database, change.record_id)
            return PickingCancelled.of(
                data, source=self.source, time=when, id=event_id, subject=subject
            )
        if feed == RETURNS_CREATED.name:
            origin = self._m2o_ref("stock.picking", row.get("return_id"), company)
            if origin is None:
                raise InvalidInputError("a return picking without return_id")
            data = InitiatedReturn(
                return_picking=self._ref("stock.picking", row),
                origin_picking=origin,
                order=self._m2o_ref("sale.order", row.get("sale_id"), company),
                initiated_at=_odoo_time(row.get("create_date")) or when,
                reason=_text(row.get("origin")),
                tracking_numbers=refs,
            )
            subject = picking_shipment_id(self.database, origin.record_id)
            return ReturnInitiated.of(
                data, source=self.source, time=when, id=event_id, subject=subject
            )
        currency = m2o_name(row.get("currency_id"))
        amount = _number(row.get("amount_total"))
        total = None
        if currency in CURRENCY_EXPONENTS and amount is not None:
            total = Money.of(amount, currency)
        data = ConfirmedOrder(
            order=self._ref("sale.order", row),
            confirmed_at=_odoo_time(row.get("date_order")) or when,
            amount_total=total,
            promised_date=_odoo_date(row.get("commitment_date")),
            carrier=m2o_name(row.get("carrier_id")),
        )
        return OrderConfirmed.of(
            data, source=self.source, time=when, id=event_id, subject=str(row.get("name") or "")
        )

    def _company_partners(self) -> dict[int, int]:
        if self._company_partner is None:
            companies = rows(
                self._gw.call("res.company", "search_read", [[]], {"fields": ["partner_id"]}),
                "res.company.search_read",
            )
            self._company_partner = {
                int(c["id"]): pid for c in companies if (pid := m2o_id(c.get("partner_id")))
            }
        return self._company_partner

    def _ready(self, changes: Sequence[Change]) -> tuple[list[Event], dict[int, str]]:
        company_partner = self._company_partners()
        partner_ids = {m2o_id(c.row.get("partner_id")) for c in changes}
        partner_ids |= set(company_partner.values())
        partners = self._read("res.partner", sorted(p for p in partner_ids if p), _PARTNER_FIELDS)
        packages = self._packages([c.record_id for c in changes])
        events: list[Event] = []
        rejected: dict[int, str] = {}
        built: dict[int, Shipment] = {}
        for change in changes:
            try:
                built[change.record_id] = self._shipment(change, partners, packages)
            except (CanonicalValidationError, InvalidInputError) as exc:
                rejected[change.record_id] = str(exc)
        crossing = {
            pid: s.shipper.country
            for pid, s in built.items()
            if s.shipper.country != s.recipient.country
        }
        customs, problems = self._customs(crossing) if crossing else ({}, {})
        rejected.update(problems)
        for change in changes:
            shipment = built.get(change.record_id)
            if shipment is None or change.record_id in rejected:
                continue
            try:
                if change.record_id in customs:
                    shipment = shipment.model_copy(update={"customs": customs[change.record_id]})
                    shipment = Shipment.model_validate(shipment.model_dump())
                events.append(self._ready_event(change, shipment))
            except (CanonicalValidationError, InvalidInputError) as exc:
                rejected[change.record_id] = str(exc)
        return events, rejected

    def _ready_event(self, change: Change, shipment: Shipment) -> Event:
        row = change.row
        company = m2o_id(row.get("company_id"))
        when = _odoo_time(change.write_date) or self._clock()
        carrier_name = m2o_name(row.get("carrier_id"))
        data = ReadyPicking(
            picking=self._ref("stock.picking", row),
            order=self._m2o_ref("sale.order", row.get("sale_id"), company),
            carrier=self._carriers.get(carrier_name or "", carrier_name),
            ready_at=when,
            promised_date=_odoo_date(row.get("date_deadline")),
            shipment=shipment,
        )
        return PickingReady.of(
            data,
            source=self.source,
            time=when,
            id=_event_id(change, self.database),
            subject=shipment.shipment_id,
        )

    def _address(self, partner: Mapping[str, Any] | None, what: str) -> Address:
        if partner is None:
            raise InvalidInputError(f"the {what} has no partner")
        country = partner.get("country_code")
        if not isinstance(country, str) or country.upper() not in COUNTRY_CODES:
            raise InvalidInputError(f"the {what} partner {partner.get('id')} has no country")
        street = tuple(
            s for s in (_text(partner.get("street")), _text(partner.get("street2"))) if s
        )
        contact = None
        if _text(partner.get("phone")) or _text(partner.get("email")):
            contact = Contact(
                name=_text(partner.get("name")),
                phone=_text(partner.get("phone")),
                email=_text(partner.get("email")),
            )
        is_company = partner.get("is_company") is True
        return Address(
            name=None if is_company else _text(partner.get("name")),
            company=_text(partner.get("commercial_company_name"))
            or (_text(partner.get("name")) if is_company else None),
            street=street,
            city=_text(partner.get("city")),
            state=m2o_name(partner.get("state_id")),
            postal_code=_text(partner.get("zip")),
            country=country.upper(),
            contact=contact,
        )

    def _shipment(
        self,
        change: Change,
        partners: Mapping[int, Mapping[str, Any]],
        packages: Mapping[int, list[tuple[str, Decimal]]],
    ) -> Shipment:
        row = change.row
        company = m2o_id(row.get("company_id")) or 0
        recipient = self._address(partners.get(m2o_id(row.get("partner_id")) or 0), "picking")
        shipper = self._address(partners.get(self._company_partners().get(company, 0)), "company")
        total = max(_kg(row.get("shipping_weight")) or _kg(row.get("weight")), _MIN_KG)
        parcels = [
            Parcel(weight=Weight.of(max(kg, _MIN_KG), "kg"), reference=name)
            for name, kg in packages.get(change.record_id, [])
        ] or [Parcel(weight=Weight.of(total, "kg"), reference=str(row.get("name") or ""))]
        carrier_name = m2o_name(row.get("carrier_id")) or ""
        return Shipment(
            shipment_id=picking_shipment_id(self.database, change.record_id),
            order_reference=m2o_name(row.get("sale_id")) or _text(row.get("origin")),
            picking_reference=str(row.get("name") or ""),
            carrier=self._carriers.get(carrier_name, carrier_name or "unknown"),
            service=self._services.get(carrier_name, self._default_service),
            shipper=shipper,
            recipient=recipient,
            packages=tuple(Package(parcel=p) for p in parcels),
        )

    def _read(
        self, model: str, ids: Sequence[int], fields: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunked(list(ids), IN_CHUNK):
            answer = self._gw.call(model, "read", [list(chunk)], {"fields": list(fields)})
            found.update({int(r["id"]): r for r in rows(answer, f"{model}.read")})
        return found

    def _packages(self, picking_ids: Sequence[int]) -> dict[int, list[tuple[str, Decimal]]]:
        """``{picking: [(package name, kg)]}`` for pickings packed into packages."""
        lines: list[dict[str, Any]] = []
        for chunk in chunked(list(picking_ids), IN_CHUNK):
            answer = self._gw.call(
                "stock.move.line",
                "search_read",
                [[["picking_id", "in", list(chunk)], ["result_package_id", "!=", False]]],
                {"fields": ["picking_id", "result_package_id"]},
            )
            lines += rows(answer, "stock.move.line.search_read")
        package_ids = sorted({p for line in lines if (p := m2o_id(line.get("result_package_id")))})
        if not package_ids:
            return {}
        info = self._read("stock.quant.package", package_ids, ["name", "shipping_weight"])
        result: dict[int, list[tuple[str, Decimal]]] = {}
        for line in lines:
            picking, package = m2o_id(line.get("picking_id")), m2o_id(line.get("result_package_id"))
            if picking is None or package not in info:
                continue
            name = str(info[package].get("name") or package)
            entry = (name, _kg(info[package].get("shipping_weight")))
            if entry not in result.setdefault(picking, []):
                result[picking].append(entry)
        return result

    def _customs(self, origin_of: Mapping[int, str]) -> tuple[dict[int, Customs], dict[int, str]]:
        """Commodities of cross-border pickings: one per move, valued at the sale line's price.

        The origin country is the shipper's (Odoo's ``country_of_origin``, when set, is a name
        here, not a code).
        """
        picking_ids = sorted(origin_of)
        problems: dict[int, str] = {}
        moves: list[dict[str, Any]] = []
        for chunk in chunked(list(picking_ids), IN_CHUNK):
            answer = self._gw.call(
                "stock.move",
                "search_read",
                [[["picking_id", "in", list(chunk)], ["state", "!=", "cancel"]]],
                {"fields": ["picking_id", "product_id", "product_uom_qty", "sale_line_id"]},
            )
            moves += rows(answer, "stock.move.search_read")
        product_ids = sorted({p for m in moves if (p := m2o_id(m.get("product_id")))})
        line_ids = sorted({s for m in moves if (s := m2o_id(m.get("sale_line_id")))})
        products = self._read(
            "product.product",
            product_ids,
            ["display_name", "hs_code", "list_price"],
        )
        lines = self._read("sale.order.line", line_ids, ["price_unit", "currency_id"])
        commodities: dict[int, list[Commodity]] = {}
        for move in moves:
            picking = m2o_id(move.get("picking_id"))
            product = products.get(m2o_id(move.get("product_id")) or 0)
            if picking is None or product is None:
                continue
            line = lines.get(m2o_id(move.get("sale_line_id")) or 0, {})
            currency = m2o_name(line.get("currency_id")) or "EUR"
            price = _number(line.get("price_unit", product.get("list_price"))) or Decimal(0)
            quantity = max(int(_number(move.get("product_uom_qty")) or 1), 1)
            try:
                commodity = Commodity(
                    description=str(product.get("display_name") or "goods")[:200],
                    hs_code=_hs_code(_text(product.get("hs_code"))),
                    quantity=quantity,
                    value=Money.of(price * quantity, currency),
                    origin_country=origin_of[picking],
                )
            except (CanonicalValidationError, InvalidInputError) as exc:
                problems[picking] = f"customs: {exc}"
                continue
            commodities.setdefault(picking, []).append(commodity)
        return {
            pid: Customs(incoterm=Incoterm.DAP, commodities=tuple(items))
            for pid, items in commodities.items()
        }, problems
