"""Hypothesis strategies for the canonical model, shared by shipsync's tests and by yours.

Every strategy builds valid canonical values: amounts already quantised to their currency,
non-negative weights, real country codes, UTC times. Pools are kept small on purpose (a few
tracking numbers, times on a minute grid inside two days) so that collections collide: two
events of one package at the same minute, the same event id drawn twice. That is where order-
and duplicate-sensitive bugs hide.

Needs ``hypothesis`` (installed with the ``dev`` extra)::

    from hypothesis import given
    from shipsync.testing import strategies as sst

    @given(sst.tracking_histories())
    def test_fold_is_total(events): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shipsync.errors import MissingDependencyError

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - hypothesis comes with the testing extra
    raise MissingDependencyError("shipsync.testing.strategies", "testing") from exc

from shipsync.canonical import (
    COUNTRY_CODES,
    CURRENCY_EXPONENTS,
    Accrual,
    AccrualKind,
    Address,
    BatchCompleted,
    CancelledPicking,
    ChargeType,
    Claim,
    ClaimOpened,
    ClaimSettled,
    ClaimStatus,
    ConfirmedOrder,
    Contact,
    Dimensions,
    Discrepancy,
    ErpReference,
    Event,
    FreightCharge,
    FreightChargeAccrued,
    FreightDiscrepancyFound,
    FreightInvoice,
    FreightInvoiceLine,
    FreightInvoiceMatched,
    FreightInvoiceReceived,
    FreightRateQuoted,
    InitiatedReturn,
    InvoiceMatch,
    LabelBatch,
    LengthUnit,
    LineClass,
    Location,
    Manifest,
    ManifestCreated,
    ManifestDocument,
    ManifestFormat,
    Milestone,
    MilestoneEvent,
    Money,
    OrderConfirmed,
    Package,
    Parcel,
    PickingCancelled,
    PickingReady,
    PodCaptured,
    ProofOfDelivery,
    Rate,
    RateQuote,
    ReadyPicking,
    Reason,
    ReturnInitiated,
    RiskAssessment,
    RiskKind,
    RiskLevel,
    Settlement,
    SettlementCompleted,
    Shipment,
    ShipmentCreated,
    ShipmentDelayPredicted,
    ShipmentExceptionPredicted,
    ShipmentSlaBreached,
    SlaBreach,
    SlaKind,
    TrackingEvent,
    Weight,
    WeightUnit,
    event_for_tracking,
)

__all__ = [
    "EPOCH",
    "accruals",
    "addresses",
    "any_events",
    "cancelled_pickings",
    "claims",
    "confirmed_orders",
    "contacts",
    "country_codes",
    "currency_codes",
    "decimal_amounts",
    "dimensions",
    "discrepancies",
    "erp_references",
    "event_ids",
    "event_types",
    "freight_charges",
    "freight_invoices",
    "identifiers",
    "initiated_returns",
    "invoice_matches",
    "label_batches",
    "locations",
    "manifests",
    "milestone_events",
    "milestones",
    "money",
    "packages",
    "parcels",
    "proofs_of_delivery",
    "rate_quotes",
    "rates",
    "ready_pickings",
    "reasons",
    "risk_assessments",
    "settlements",
    "shipment_created_events",
    "shipments",
    "tracking_events",
    "tracking_histories",
    "tracking_numbers",
    "utc_datetimes",
    "weights",
]

EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
"""The start of the window :func:`utc_datetimes` draws from."""

_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-"
_SORTED_COUNTRIES = tuple(sorted(COUNTRY_CODES))
_SORTED_CURRENCIES = tuple(sorted(CURRENCY_EXPONENTS))
_COMMON_CURRENCIES = ("EUR", "USD", "GBP", "JPY", "KWD", "CHF", "CLF")


# --- scalars -----------------------------------------------------------------------------------


def identifiers(*, min_size: int = 1, max_size: int = 24) -> st.SearchStrategy[str]:
    """Identifiers as carriers print them: upper-case letters, digits and dashes."""
    return st.text(alphabet=_ID_ALPHABET, min_size=min_size, max_size=max_size)


def utc_datetimes(*, span: timedelta = timedelta(days=2)) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes on a one-minute grid within ``span`` after :data:`EPOCH`.

    The grid makes equal times likely, which tests of tie-breaking need.
    """
    minutes = int(span.total_seconds() // 60)
    return st.integers(min_value=0, max_value=minutes).map(lambda m: EPOCH + timedelta(minutes=m))


def country_codes() -> st.SearchStrategy[str]:
    """ISO 3166-1 alpha-2 codes, shrinking towards the alphabetically first."""
    return st.sampled_from(_SORTED_COUNTRIES)


def currency_codes(*, common_only: bool = False) -> st.SearchStrategy[str]:
    """ISO 4217 codes that have a minor unit; ``common_only`` limits to a few with 0, 2, 3, 4
    decimal places (JPY, EUR, KWD, CLF...)."""
    return st.sampled_from(_COMMON_CURRENCIES if common_only else _SORTED_CURRENCIES)


def decimal_amounts(
    *,
    min_value: Decimal | int = -(10**12),
    max_value: Decimal | int = 10**12,
    places: int | None = None,
) -> st.SearchStrategy[Decimal]:
    """Finite decimals; with ``places`` None, any of 0 to 6 decimal places (so rounding is
    exercised when they are turned into money)."""
    if places is not None:
        return st.decimals(
            min_value=min_value,
            max_value=max_value,
            places=places,
            allow_nan=False,
            allow_infinity=False,
        )
    return st.integers(min_value=0, max_value=6).flatmap(
        lambda p: decimal_amounts(min_value=min_value, max_value=max_value, places=p)
    )


@st.composite
def money(
    draw: st.DrawFn,
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    min_value: Decimal | int = -(10**12),
    max_value: Decimal | int = 10**12,
    exact: bool = True,
) -> Money:
    """:class:`Money` in ``currency`` (a code, a strategy of codes, or any common currency).

    With ``exact`` the amount already has the currency's places, so nothing is rounded; without
    it the amount has up to 6 places and construction rounds it half-even.
    """
    if currency is None:
        code = draw(currency_codes(common_only=True))
    elif isinstance(currency, str):
        code = currency
    else:
        code = draw(currency)
    places = CURRENCY_EXPONENTS[code] if exact else None
    amount = draw(decimal_amounts(min_value=min_value, max_value=max_value, places=places))
    return Money.of(amount, code)


def weights(
    *, units: Sequence[WeightUnit] = tuple(WeightUnit), max_value: int = 100_000
) -> st.SearchStrategy[Weight]:
    """Non-negative :class:`Weight` values with up to 3 decimal places."""
    return st.builds(
        Weight.of,
        decimal_amounts(min_value=0, max_value=max_value, places=3),
        st.sampled_from(tuple(units)),
    )


def dimensions(
    *, units: Sequence[LengthUnit] = tuple(LengthUnit), max_value: int = 10_000
) -> st.SearchStrategy[Dimensions]:
    """Non-negative :class:`Dimensions` with up to 2 decimal places per side."""
    side = decimal_amounts(min_value=0, max_value=max_value, places=2)
    return st.builds(Dimensions.of, side, side, side, st.sampled_from(tuple(units)))


# --- parties -----------------------------------------------------------------------------------

_short_text = st.text(max_size=40)


def contacts() -> st.SearchStrategy[Contact]:
    """Contacts; any field may be missing. Names, phones and e-mails are arbitrary text."""
    return st.builds(
        Contact,
        name=st.none() | _short_text,
        company=st.none() | _short_text,
        phone=st.none() | _short_text,
        email=st.none() | _short_text,
    )


def addresses(*, countries: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Address]:
    """Addresses with 0 to 3 street lines and a real country code."""
    return st.builds(
        Address,
        name=st.none() | _short_text,
        company=st.none() | _short_text,
        street=st.lists(_short_text, max_size=3).map(tuple),
        city=st.none() | _short_text,
        state=st.none() | _short_text,
        postal_code=st.none() | identifiers(max_size=10),
        country=countries if countries is not None else country_codes(),
        residential=st.none() | st.booleans(),
        contact=st.none() | contacts(),
    )


def locations() -> st.SearchStrategy[Location]:
    """Event locations, from empty to fully known."""
    return st.builds(
        Location,
        city=st.none() | _short_text,
        state=st.none() | _short_text,
        postal_code=st.none() | identifiers(max_size=10),
        country=st.none() | country_codes(),
        facility=st.none() | _short_text,
    )


# --- tracking ----------------------------------------------------------------------------------


_scan_locations: st.SearchStrategy[Location | None] = st.none() | st.sampled_from(
    (
        Location(city="Leipzig", country="DE", facility="hub"),
        Location(city="Louisville", state="KY", postal_code="40209", country="US"),
        Location(country="FR"),
    )
)


def milestones(*, include_unknown: bool = True) -> st.SearchStrategy[Milestone]:
    """Canonical milestones (optionally without ``unknown``)."""
    values = [m for m in Milestone if include_unknown or m is not Milestone.UNKNOWN]
    return st.sampled_from(values)


def reasons() -> st.SearchStrategy[Reason]:
    """Canonical reasons."""
    return st.sampled_from(tuple(Reason))


def tracking_numbers(*, pool: int = 3) -> st.SearchStrategy[str]:
    """Tracking numbers from a pool of ``pool`` (``1Z000…1``, ``1Z000…2``...) so they repeat."""
    return st.integers(min_value=1, max_value=pool).map(lambda n: f"1Z{n:012d}")


def event_ids(*, pool: int | None = None) -> st.SearchStrategy[str]:
    """Event ids; from a pool of ``pool`` ids (``evt-1``...) when given, so ids collide."""
    if pool is None:
        return st.integers(min_value=0, max_value=10**12).map(lambda n: f"evt-{n:012d}")
    return st.integers(min_value=1, max_value=pool).map(lambda n: f"evt-{n}")


@st.composite
def tracking_events(
    draw: st.DrawFn,
    *,
    shipment_id: str = "SHP-1",
    carrier: str = "fake",
    event_id: st.SearchStrategy[str] | None = None,
    tracking_number: st.SearchStrategy[str] | None = None,
    milestone: st.SearchStrategy[Milestone] | None = None,
    reason: st.SearchStrategy[Reason] | None = None,
    occurred_at: st.SearchStrategy[datetime] | None = None,
    location: st.SearchStrategy[Location | None] | None = None,
) -> TrackingEvent:
    """One :class:`TrackingEvent`; each part can be pinned by passing a strategy for it.

    ``recorded_at`` is ``occurred_at`` plus zero to a few hours (events are learned late). The
    carrier code is the milestone name in upper case, unless the milestone is ``unknown``. The
    location is none or one of a few scan locations; pass ``location=locations()`` for arbitrary
    ones (slower to generate).
    """
    ms = draw(milestone if milestone is not None else milestones())
    when = draw(occurred_at if occurred_at is not None else utc_datetimes())
    delay = draw(st.integers(min_value=0, max_value=360))
    code = "??" if ms is Milestone.UNKNOWN else ms.value.upper()
    return TrackingEvent(
        event_id=draw(event_id if event_id is not None else event_ids()),
        shipment_id=shipment_id,
        tracking_number=draw(
            tracking_number if tracking_number is not None else tracking_numbers()
        ),
        carrier=carrier,
        milestone=ms,
        reason=draw(reason if reason is not None else st.just(Reason.NORMAL) | reasons()),
        occurred_at=when,
        recorded_at=when + timedelta(minutes=delay),
        carrier_code=code,
        carrier_description=draw(st.sampled_from(("", "scan", "status update"))),
        location=draw(location if location is not None else _scan_locations),
    )


@st.composite
def tracking_histories(
    draw: st.DrawFn,
    *,
    shipment_id: str = "SHP-1",
    packages: int = 3,
    min_size: int = 0,
    max_size: int = 20,
    unique_ids: bool = True,
) -> list[TrackingEvent]:
    """A collection of tracking events of one shipment with up to ``packages`` packages.

    Events are in random order with random milestones, so some are stale or illegal for the
    state machine. With ``unique_ids`` every event has its own id; without it ids are drawn from
    a small pool, so two *different* events may share an id (a carrier bug the fold must flag).
    """
    ids = event_ids() if unique_ids else event_ids(pool=max(2, max_size // 2))
    return draw(
        st.lists(
            tracking_events(
                shipment_id=shipment_id,
                event_id=ids,
                tracking_number=tracking_numbers(pool=packages),
            ),
            min_size=min_size,
            max_size=max_size,
            unique_by=(lambda e: e.event_id) if unique_ids else None,
        )
    )


# --- shipments and envelopes ------------------------------------------------------------------


def parcels() -> st.SearchStrategy[Parcel]:
    """Parcels with a weight and maybe dimensions."""
    return st.builds(
        Parcel,
        weight=weights(),
        dimensions=st.none() | dimensions(),
        description=st.none() | _short_text,
        reference=st.none() | identifiers(max_size=12),
    )


def packages() -> st.SearchStrategy[Package]:
    """Packages without label or events (a label is bytes; add one yourself when needed)."""
    return st.builds(
        Package,
        parcel=parcels(),
        tracking_number=st.none() | tracking_numbers(pool=99),
    )


def shipments(*, shipment_id: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Shipment]:
    """Shipments of one to three packages between two addresses."""
    return st.builds(
        Shipment,
        shipment_id=shipment_id
        if shipment_id is not None
        else identifiers().map(lambda s: f"S{s}"),
        order_reference=st.none() | identifiers(max_size=12),
        carrier=st.sampled_from(("fake", "ups", "dhl")),
        service=st.sampled_from(("ground", "express")),
        shipper=addresses(),
        recipient=addresses(),
        packages=st.lists(packages(), min_size=1, max_size=3).map(tuple),
        created_at=st.none() | utc_datetimes(),
    )


def milestone_events(
    *, source: str = "shipsync/test", tracking: st.SearchStrategy[TrackingEvent] | None = None
) -> st.SearchStrategy[MilestoneEvent]:
    """Envelopes of tracking milestones (``shipment.delivered``...), never of ``unknown``."""
    inner = (
        tracking
        if tracking is not None
        else tracking_events(milestone=milestones(include_unknown=False))
    )
    return inner.filter(lambda e: e.milestone is not Milestone.UNKNOWN).map(
        lambda e: event_for_tracking(e, source=source)
    )


def shipment_created_events(*, source: str = "shipsync/test") -> st.SearchStrategy[ShipmentCreated]:
    """``shipment.created`` envelopes around :func:`shipments`."""
    return st.builds(
        lambda shipment, time: ShipmentCreated.of(shipment, source=source, time=time),
        shipments(),
        utc_datetimes(),
    )


# --- every event type of the catalogue ---------------------------------------------------------
# Added for the envelope, schema and CloudEvents tests of the canonical model; each strategy
# builds a valid value (totals add up, one currency per document) so every type can round-trip.


def event_types() -> st.SearchStrategy[str]:
    """The ``type`` names of the built-in catalogue."""
    from shipsync.canonical import default_catalogue

    return st.sampled_from(sorted(default_catalogue.types))


def freight_charges(currency: str = "EUR") -> st.SearchStrategy[FreightCharge]:
    """Freight charges in ``currency``, credits included."""
    return st.builds(
        FreightCharge,
        type=st.sampled_from(tuple(ChargeType)),
        amount=money(currency, min_value=-1000, max_value=10_000),
        description=st.none() | _short_text,
        carrier_code=st.none() | identifiers(max_size=6),
    )


@st.composite
def rates(draw: st.DrawFn, currency: str | None = None) -> Rate:
    """Rates whose charges, when there are any, add up to the total."""
    code = currency or draw(currency_codes(common_only=True))
    charges = tuple(draw(st.lists(freight_charges(code), max_size=4)))
    total = (
        Money.sum((c.amount for c in charges), code)
        if charges
        else draw(money(code, min_value=0, max_value=10_000))
    )
    return Rate(
        carrier=draw(st.sampled_from(("fake", "ups", "dhl"))),
        service=draw(st.sampled_from(("ground", "express"))),
        total=total,
        charges=charges,
        transit_days=draw(st.none() | st.integers(min_value=0, max_value=30)),
        quote_id=draw(st.none() | identifiers(max_size=12)),
    )


def rate_quotes() -> st.SearchStrategy[RateQuote]:
    """Rate quotes of a shipment."""
    return st.builds(
        RateQuote,
        shipment_id=identifiers().map(lambda s: f"S{s}"),
        rate=rates(),
        quoted_at=utc_datetimes(),
    )


def accruals() -> st.SearchStrategy[Accrual]:
    """Accruals of every kind."""
    return st.builds(
        Accrual,
        accrual_id=identifiers(),
        shipment_id=identifiers().map(lambda s: f"S{s}"),
        kind=st.sampled_from(tuple(AccrualKind)),
        amount=money(),
        booked_at=utc_datetimes(),
        charge_type=st.sampled_from(tuple(ChargeType)),
    )


@st.composite
def freight_invoices(draw: st.DrawFn, *, max_lines: int = 4) -> FreightInvoice:
    """Invoices in one currency whose lines add up to the total."""
    code = draw(currency_codes(common_only=True))
    numbers = draw(st.lists(tracking_numbers(pool=99), min_size=0, max_size=max_lines))
    lines = tuple(
        FreightInvoiceLine(
            line_number=index,
            tracking_number=number,
            charges=tuple(draw(st.lists(freight_charges(code), min_size=1, max_size=3))),
        )
        for index, number in enumerate(numbers, start=1)
    )
    total = Money.sum((c.amount for line in lines for c in line.charges), code)
    return FreightInvoice(
        invoice_number=draw(identifiers()),
        carrier="fake",
        issued_at=draw(utc_datetimes()),
        currency=code,
        lines=lines,
        total=total,
    )


@st.composite
def invoice_matches(draw: st.DrawFn) -> InvoiceMatch:
    """An invoice line matched within tolerance."""
    code = draw(currency_codes(common_only=True))
    return InvoiceMatch(
        invoice_number=draw(identifiers()),
        line_number=draw(st.integers(min_value=1, max_value=999)),
        tracking_number=draw(tracking_numbers(pool=99)),
        shipment_id=draw(identifiers()),
        billed=draw(money(code)),
        expected=draw(money(code)),
    )


@st.composite
def discrepancies(draw: st.DrawFn) -> Discrepancy:
    """A discrepancy of any kind but ``matched``; ``difference`` is billed minus expected."""
    code = draw(currency_codes(common_only=True))
    billed = draw(money(code))
    expected = draw(st.none() | money(code))
    return Discrepancy(
        invoice_number=draw(identifiers()),
        line_number=draw(st.integers(min_value=1, max_value=999)),
        tracking_number=draw(tracking_numbers(pool=99)),
        kind=draw(st.sampled_from([k for k in LineClass if k is not LineClass.MATCHED])),
        billed=billed,
        expected=expected,
        difference=None if expected is None else billed - expected,
        charge_type=draw(st.none() | st.sampled_from(tuple(ChargeType))),
        explanation=draw(st.text(max_size=60)),
    )


@st.composite
def settlements(draw: st.DrawFn) -> Settlement:
    """Settlements whose matched, disputed and unknown parts add up to the invoice total."""
    code = draw(currency_codes(common_only=True))
    matched, disputed, unknown = (draw(money(code)) for _ in range(3))
    return Settlement(
        invoice_number=draw(identifiers()),
        carrier="fake",
        settled_at=draw(utc_datetimes()),
        invoice_total=matched + disputed + unknown,
        matched_total=matched,
        disputed_total=disputed,
        unknown_total=unknown,
        line_count=draw(st.integers(min_value=0, max_value=10_000)),
    )


@st.composite
def claims(draw: st.DrawFn, *, settled: bool | None = None) -> Claim:
    """Claims; settled ones (``settled`` True, or drawn) carry a settled amount and time."""
    is_settled = draw(st.booleans()) if settled is None else settled
    code = draw(currency_codes(common_only=True))
    opened = draw(utc_datetimes())
    return Claim(
        claim_id=draw(identifiers()),
        shipment_id=draw(identifiers()),
        carrier="fake",
        status=ClaimStatus.SETTLED if is_settled else ClaimStatus.OPEN,
        reason=draw(st.text(min_size=1, max_size=60)),
        amount=draw(money(code, min_value=0)),
        opened_at=opened,
        settled_amount=draw(money(code, min_value=0)) if is_settled else None,
        settled_at=opened + timedelta(days=draw(st.integers(0, 90))) if is_settled else None,
        tracking_number=draw(st.none() | tracking_numbers(pool=99)),
    )


def proofs_of_delivery() -> st.SearchStrategy[ProofOfDelivery]:
    """Proofs of delivery; the signer's name is personal data."""
    return st.builds(
        ProofOfDelivery,
        shipment_id=identifiers().map(lambda s: f"S{s}"),
        tracking_number=tracking_numbers(pool=99),
        delivered_at=utc_datetimes(),
        signed_by=st.none() | _short_text,
        location=st.none() | locations(),
        photo_reference=st.none() | identifiers(),
        notes=st.text(max_size=60),
    )


def risk_assessments() -> st.SearchStrategy[RiskAssessment]:
    """Risk assessments of the insight models, with or without predicted dates."""
    optional_time = st.none() | utc_datetimes()
    return st.builds(
        RiskAssessment,
        shipment_id=identifiers().map(lambda s: f"S{s}"),
        risk=st.sampled_from(RiskKind),
        level=st.sampled_from(RiskLevel),
        probability=st.decimals(min_value=0, max_value=1, places=3),
        scored_at=utc_datetimes(),
        likely_exception=st.none() | st.sampled_from(["failed_attempt", "returned", "lost"]),
        promised_delivery=optional_time,
        predicted_delivery=optional_time,
        reasons=st.lists(_short_text, max_size=3).map(tuple),
        missing=st.lists(st.sampled_from(["promised_by", "lane", "profile"]), max_size=2).map(
            tuple
        ),
    )


def label_batches() -> st.SearchStrategy[LabelBatch]:
    """Finished label batches, with or without the carrier's link to them."""
    return st.builds(
        LabelBatch,
        carrier=st.sampled_from(["shipengine", "fake"]),
        batch_id=identifiers(),
        resource_url=st.none() | identifiers().map(lambda i: f"https://api.example.com/{i}"),
    )


def manifests() -> st.SearchStrategy[Manifest]:
    """End-of-day manifests, with or without their document."""
    return st.builds(
        Manifest,
        carrier=identifiers(max_size=12),
        manifest_id=identifiers(),
        ship_date=utc_datetimes().map(lambda moment: moment.date()),
        carrier_shipment_ids=st.lists(identifiers(), max_size=3).map(tuple),
        document=st.none()
        | st.builds(
            ManifestDocument,
            format=st.sampled_from(ManifestFormat),
            data=st.binary(min_size=1, max_size=64),
        ),
        pending=st.booleans(),
    )


def sla_breaches() -> st.SearchStrategy[SlaBreach]:
    """Service level breaches the monitor raises."""
    return st.builds(
        SlaBreach,
        shipment_id=identifiers().map(lambda s: f"S{s}"),
        kind=st.sampled_from(SlaKind),
        status=st.sampled_from(["label_created", "picked_up", "in_transit", "delivered"]),
        since=utc_datetimes(),
        detected_at=utc_datetimes(),
        threshold_seconds=st.integers(0, 30 * 86400),
        carrier=st.none() | identifiers(),
    )


def erp_references(model: str = "stock.picking") -> st.SearchStrategy[ErpReference]:
    """References to ERP records of ``model``."""
    return st.builds(
        ErpReference,
        model=st.just(model),
        record_id=st.integers(1, 2**31 - 1),
        name=identifiers(),
        company_id=st.none() | st.integers(1, 50),
    )


def confirmed_orders() -> st.SearchStrategy[ConfirmedOrder]:
    """Confirmed sale orders."""
    return st.builds(
        ConfirmedOrder,
        order=erp_references("sale.order"),
        confirmed_at=utc_datetimes(),
        customer=st.none() | addresses(),
        amount_total=st.none() | money("EUR", min_value=0),
    )


def ready_pickings() -> st.SearchStrategy[ReadyPicking]:
    """Ready pickings with the shipment built from them."""
    return st.builds(
        ReadyPicking,
        picking=erp_references(),
        order=st.none() | erp_references("sale.order"),
        carrier=st.none() | st.just("fake"),
        ready_at=utc_datetimes(),
        shipment=shipments(),
    )


def cancelled_pickings() -> st.SearchStrategy[CancelledPicking]:
    """Cancelled pickings."""
    return st.builds(
        CancelledPicking,
        picking=erp_references(),
        cancelled_at=utc_datetimes(),
        tracking_numbers=st.lists(tracking_numbers(pool=99), max_size=3).map(tuple),
    )


def initiated_returns() -> st.SearchStrategy[InitiatedReturn]:
    """Return pickings created for outgoing pickings."""
    return st.builds(
        InitiatedReturn,
        return_picking=erp_references(),
        origin_picking=erp_references(),
        initiated_at=utc_datetimes(),
        reason=st.none() | st.text(max_size=60),
    )


_DATA: dict[str, tuple[type[Event], st.SearchStrategy[object]]] = {}


def _data_strategies() -> dict[str, tuple[type[Event], st.SearchStrategy[object]]]:
    if not _DATA:
        _DATA.update(
            {
                "shipment.created": (ShipmentCreated, shipments()),
                "pod.captured": (PodCaptured, proofs_of_delivery()),
                "freight.rate_quoted": (FreightRateQuoted, rate_quotes()),
                "freight.charge_accrued": (FreightChargeAccrued, accruals()),
                "freight.invoice_received": (FreightInvoiceReceived, freight_invoices()),
                "freight.invoice_matched": (FreightInvoiceMatched, invoice_matches()),
                "freight.discrepancy_found": (FreightDiscrepancyFound, discrepancies()),
                "settlement.completed": (SettlementCompleted, settlements()),
                "claim.opened": (ClaimOpened, claims(settled=False)),
                "claim.settled": (ClaimSettled, claims(settled=True)),
                "shipment.delay_predicted": (ShipmentDelayPredicted, risk_assessments()),
                "shipment.exception_predicted": (ShipmentExceptionPredicted, risk_assessments()),
                "manifest.created": (ManifestCreated, manifests()),
                "batch.completed": (BatchCompleted, label_batches()),
                "sla.breached": (ShipmentSlaBreached, sla_breaches()),
                "order.confirmed": (OrderConfirmed, confirmed_orders()),
                "picking.ready": (PickingReady, ready_pickings()),
                "picking.cancelled": (PickingCancelled, cancelled_pickings()),
                "return.initiated": (ReturnInitiated, initiated_returns()),
            }
        )
    return _DATA


@st.composite
def any_events(
    draw: st.DrawFn, event_type: str | None = None, *, source: str = "shipsync/test"
) -> Event:
    """An envelope of ``event_type`` (default: any built-in type), with optional attributes
    (subject, correlation id, partition key) present or not."""
    name = event_type if event_type is not None else draw(event_types())
    if name.startswith("shipment.") and name not in _data_strategies():
        milestone = Milestone(name.removeprefix("shipment."))
        tracking = draw(tracking_events(milestone=st.just(milestone)))
        event: Event = event_for_tracking(
            tracking,
            source=source,
            correlationid=draw(st.none() | identifiers(max_size=12)),
        )
        return event
    cls, data = _data_strategies()[name]
    return cls.of(
        draw(data),
        source=source,
        time=draw(utc_datetimes()),
        correlationid=draw(st.none() | identifiers(max_size=12)),
        partitionkey=draw(st.none() | identifiers(max_size=12)),
    )
