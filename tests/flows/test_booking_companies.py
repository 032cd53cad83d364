"""The booking flow with several Odoo companies: each picking only with its company's accounts.

Two fake carriers stand for two companies' accounts of the same carrier (``fake``); the memory
Odoo applies Odoo's multi-company record rule to pickings (a call scoped with
``allowed_company_ids`` neither sees nor writes another company's picking) and records the
companies every write was scoped to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipsync.canonical import Event, PickingReady
from shipsync.carriers import CarrierClient
from shipsync.errors import (
    ConfigurationError,
    NoCarrierAccountError,
    OdooAccessError,
    OdooCompanyAccessError,
)
from shipsync.flows import BookingFlow, CompanyCarriers, Outcome
from shipsync.idempotency import MemoryStore
from shipsync.odoo import MemoryCursorStore, OdooLogistics, OdooSource
from shipsync.testing.fake_carrier import FakeCarrier
from shipsync.testing.odoo import MemoryOdoo

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PICKING_FIELDS = ["name", "state", "company_id", "carrier_tracking_ref", "carrier_price", "sale_id"]
WRITES = {"create", "write", "message_post"}


class CompanyOdoo(MemoryOdoo):
    """The memory Odoo with companies 1, 2 and 3 (4 exists, the user may not work in it), the
    record rule on pickings, and a log of (model, method, allowed companies, picking ids)."""

    def __init__(self, now: Any) -> None:
        self.allowed: list[int] | None = None
        self.writes: list[tuple[str, str, tuple[int, ...] | None, tuple[int, ...]]] = []
        super().__init__(
            {"stock.picking": PICKING_FIELDS, "stock.quant.package": ["name"]}, now=now
        )
        self.insert("res.partner", {"id": 20, "name": "shipsync EU", "country_code": "DE"})
        self.insert(
            "res.company", {"id": 2, "name": "shipsync EU", "currency_id": 1, "partner_id": 20}
        )
        self.insert(
            "res.company", {"id": 3, "name": "Unconfigured", "currency_id": 1, "partner_id": 20}
        )
        self.insert("res.company", {"id": 4, "name": "Not the user's", "currency_id": 1})
        self.tables["res.users"][2]["company_ids"] = [1, 2, 3]

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        context = dict(kwargs or {}).get("context") or {}
        allowed = context.get("allowed_company_ids")
        self.allowed = list(allowed) if allowed is not None else None
        if method in WRITES:
            self.writes.append(
                (model, method, tuple(allowed) if allowed else None, _pickings(model, args))
            )
            if model == "stock.picking" and method == "write":
                for picking_id in args[0]:
                    if not self._visible(self.tables[model][picking_id]):
                        raise OdooAccessError(f"stock.picking {picking_id}: other company")
        try:
            return super().call(model, method, args, kwargs)
        finally:
            self.allowed = None

    def _visible(self, row: dict[str, Any]) -> bool:
        company = self._value(row, "company_id")
        return self.allowed is None or not company or company in self.allowed

    def _search(self, model: str, *args: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = super()._search(model, *args)
        if model != "stock.picking":
            return found
        return [row for row in found if self._visible(row)]

    def _m_read(self, model: str, args: list[Any], kw: dict[str, Any]) -> list[dict[str, Any]]:
        if model == "stock.picking":
            table = self.tables.get(model, {})
            args = [[i for i in args[0] if i in table and self._visible(table[i])], *args[1:]]
        return super()._m_read(model, args, kw)

    def company_of(self, picking_id: int) -> int:
        return int(self._value(self.tables["stock.picking"][picking_id], "company_id"))


def _pickings(model: str, args: Sequence[Any]) -> tuple[int, ...]:
    if model == "stock.picking" and args and isinstance(args[0], list):
        return tuple(int(i) for i in args[0])
    values = args[0] if args else None
    for row in values if isinstance(values, list) else [values]:
        about_picking = isinstance(row, dict) and row.get("res_model") in ("stock.picking", None)
        if about_picking and isinstance(row.get("res_id"), int):
            return (row["res_id"],)
    return ()


class World:
    """Two companies, one fake carrier account each, the source and the flow."""

    def __init__(self) -> None:
        self.now = T0
        self.odoo = CompanyOdoo(now=lambda: self.now)
        self.odoo.tables["res.partner"][1].update(
            {"street": "1 Rue de la République", "city": "Lyon", "zip": "69001"}
        )
        self.odoo.tables["res.partner"][20].update(
            {"street": "Hauptstraße 1", "city": "Köln", "zip": "50667"}
        )
        self.customer = self.odoo.insert(
            "res.partner",
            {
                "name": "Erika Mustermann",
                "street": "Unter den Linden 1",
                "city": "Berlin",
                "zip": "10117",
                "country_code": "DE",
            },
        )
        self.odoo.insert("delivery.carrier", {"id": 50, "name": "Fake Express"})
        self.accounts = {1: FakeCarrier(seed=3), 2: FakeCarrier(seed=4)}
        self.clients: dict[int, CarrierClient] = {c: f.client() for c, f in self.accounts.items()}
        self.store = MemoryStore()
        self.source = OdooSource(
            self.odoo, MemoryCursorStore(), database="test", carriers={"Fake Express": "fake"}
        )
        self.logistics = OdooLogistics(self.odoo)
        self.flow = BookingFlow(
            self.logistics,
            CompanyCarriers({c: {"fake": client} for c, client in self.clients.items()}),
            self.store,
        )
        self.count = 0

    def ready_picking(self, company: int) -> int:
        self.count += 1
        return self.odoo.insert(
            "stock.picking",
            {
                "name": f"C{company}/OUT/{self.count:05d}",
                "state": "assigned",
                "picking_type_code": "outgoing",
                "carrier_id": 50,
                "carrier_tracking_ref": False,
                "partner_id": self.customer,
                "company_id": company,
                "shipping_weight": 2.5,
            },
        )

    def events(self, feed: str = "picking.ready") -> list[Event]:
        batch = self.source.poll(feed)
        assert not batch.rejected
        self.source.commit(batch)
        return list(batch.events)

    def booked_at(self, company: int) -> set[str]:
        """Carrier shipment ids the company's account holds."""
        return set(self.accounts[company].service.shipments)

    def assert_writes_scoped(self) -> None:
        """Every write about a picking ran scoped to that picking's company only."""
        about = [w for w in self.odoo.writes if w[3]]
        assert about
        for model, method, allowed, pickings in about:
            for picking_id in pickings:
                assert allowed == (self.odoo.company_of(picking_id),), (model, method, pickings)

    def close(self) -> None:
        for carrier in self.accounts.values():
            carrier.close()


@pytest.fixture
def world() -> Iterator[World]:
    """Two companies' world per test."""
    made = World()
    yield made
    made.close()


def test_each_companys_pickings_are_booked_with_its_own_account(world: World) -> None:
    """Pickings of companies 1 and 2 in one feed: each booked once, at its company's account,
    and written to Odoo in its company only."""
    first, second = world.ready_picking(1), world.ready_picking(2)
    third = world.ready_picking(1)
    outcomes = world.flow.handle_many(world.events())
    assert [o.outcome for o in outcomes] == [Outcome.BOOKED] * 3
    ids = {o.picking_id: o.shipment.carrier_shipment_id for o in outcomes if o.shipment}
    assert world.booked_at(1) == {ids[first], ids[third]}
    assert world.booked_at(2) == {ids[second]}
    for picking_id in (first, second, third):
        assert world.odoo.tables["stock.picking"][picking_id]["carrier_tracking_ref"]
    world.assert_writes_scoped()


def test_a_batch_of_two_companies_is_booked_per_company_and_recorded_per_company(
    world: World,
) -> None:
    """book_many splits the Odoo recording by company: one scoped recording each."""
    pickings = [world.ready_picking(company) for company in (2, 1, 2, 1, 1)]
    ready = [e for e in world.events() if isinstance(e, PickingReady)]
    outcomes = world.flow.book_many(ready)
    assert [o.outcome for o in outcomes] == [Outcome.BOOKED] * 5
    assert len(world.booked_at(1)) == 3
    assert len(world.booked_at(2)) == 2
    for picking_id, outcome in zip(pickings, outcomes, strict=True):
        assert outcome.shipment is not None
        company = world.odoo.company_of(picking_id)
        assert outcome.shipment.carrier_shipment_id in world.booked_at(company)
    world.assert_writes_scoped()


def test_an_event_naming_no_company_gets_it_from_the_picking(world: World) -> None:
    """A ready event built without a company (by hand, another source) is booked at the
    account of the company Odoo gives the picking, and written in that company."""
    picking_id = world.ready_picking(2)
    [event] = world.events()
    assert isinstance(event, PickingReady)
    bare = event.data.picking.model_copy(update={"company_id": None})
    nameless = event.model_copy(update={"data": event.data.model_copy(update={"picking": bare})})
    for outcome in (world.flow.handle(nameless), world.flow.book_many([nameless])[0]):
        assert outcome.outcome in (Outcome.BOOKED, Outcome.ALREADY_BOOKED)
        assert outcome.shipment is not None
        assert world.booked_at(2) == {outcome.shipment.carrier_shipment_id}
    assert world.booked_at(1) == set()
    assert world.odoo.tables["stock.picking"][picking_id]["carrier_tracking_ref"]
    world.assert_writes_scoped()


def test_a_company_without_an_account_is_refused_typed_and_nothing_is_booked(
    world: World,
) -> None:
    """A picking of company 3 (no account) is rejected with NoCarrierAccountError naming the
    company and carrier; neither account books it, Odoo is not written; retried, the same."""
    picking_id = world.ready_picking(3)
    [event] = world.events()
    for outcome in (world.flow.handle(event), world.flow.book_many([event])[0]):
        assert outcome.outcome is Outcome.REJECTED
        assert isinstance(outcome.error, NoCarrierAccountError)
        assert (outcome.error.company, outcome.error.carrier) == (3, "fake")
        assert "company 3" in outcome.detail
        assert "'fake'" in outcome.detail
    assert world.booked_at(1) == world.booked_at(2) == set()
    assert not world.odoo.tables["stock.picking"][picking_id]["carrier_tracking_ref"]
    assert world.odoo.writes == []


def test_a_carrier_only_another_company_has_is_refused_naming_company_and_carrier() -> None:
    """Company 2 has no 'ups' account (company 1 has): its picking naming ups is refused,
    never booked with company 1's account nor rate-shopped elsewhere."""
    made = World()
    ups = FakeCarrier(seed=5)
    try:
        made.flow = BookingFlow(
            made.logistics,
            CompanyCarriers({1: {"ups": ups.client()}, 2: {"fake": made.clients[2]}}),
            made.store,
        )
        made.source = OdooSource(
            made.odoo, MemoryCursorStore(), database="test", carriers={"Fake Express": "ups"}
        )
        made.ready_picking(2)
        [event] = made.events()
        outcome = made.flow.handle(event)
        assert outcome.outcome is Outcome.REJECTED
        assert isinstance(outcome.error, NoCarrierAccountError)
        assert (outcome.error.company, outcome.error.carrier) == (2, "ups")
        assert ups.service.shipment_count() == 0
        assert made.booked_at(2) == set()
    finally:
        ups.close()
        made.close()


def test_rate_shopping_shops_among_the_companys_own_accounts_only(world: World) -> None:
    """With rate_shop=True a company-2 picking is booked at the cheapest of company 2's
    accounts (never company 1's), and a company with none is still refused typed."""
    world.flow = BookingFlow(
        world.logistics,
        CompanyCarriers({c: {"fake": client} for c, client in world.clients.items()}),
        world.store,
        rate_shop=True,
    )
    picking_id = world.ready_picking(2)
    world.ready_picking(3)
    booked, refused = world.flow.handle_many(world.events())
    assert booked.outcome is Outcome.BOOKED
    assert booked.picking_id == picking_id
    assert booked.shipment is not None
    assert world.booked_at(2) == {booked.shipment.carrier_shipment_id}
    assert world.booked_at(1) == set()
    assert isinstance(refused.error, NoCarrierAccountError)
    assert (refused.error.company, refused.error.carrier) == (3, None)
    world.assert_writes_scoped()


def test_configuration_refuses_what_it_can_before_any_event(world: World) -> None:
    """No company, a company without accounts, one client for two companies, a company the
    Odoo user may not work in: each refused when the flow is built, typed and named."""
    with pytest.raises(ConfigurationError):
        CompanyCarriers({})
    with pytest.raises(NoCarrierAccountError) as empty:
        CompanyCarriers({1: {"fake": world.clients[1]}, 2: {}})
    assert empty.value.company == 2
    assert empty.value.carrier is None
    with pytest.raises(ConfigurationError, match="companies 1 and 2") as shared:
        CompanyCarriers({1: {"fake": world.clients[1]}, 2: {"fake": world.clients[1]}})
    assert shared.value.path == "carriers[2].fake"
    other = FakeCarrier(seed=9)
    try:
        with pytest.raises(OdooCompanyAccessError) as foreign:
            BookingFlow(
                world.logistics,
                CompanyCarriers({1: {"fake": world.clients[1]}, 4: {"fake": other.client()}}),
                world.store,
            )
        assert foreign.value.company == "4"
    finally:
        other.close()


def test_cancel_and_return_use_the_pickings_company_account(world: World) -> None:
    """A company-2 picking is voided and its return booked at company 2's account, and the
    notes, labels and tracking go to company 2's pickings only."""
    world.ready_picking(1)
    picking_id = world.ready_picking(2)
    outcomes = world.flow.handle_many(world.events())
    booked = {o.picking_id: o.shipment for o in outcomes}
    shipment = booked[picking_id]
    assert shipment is not None
    world.now += timedelta(seconds=5)
    back = world.odoo.insert(
        "stock.picking",
        {
            "name": "C2/IN/00001",
            "state": "assigned",
            "picking_type_code": "incoming",
            "return_id": picking_id,
            "company_id": 2,
        },
    )
    [initiated] = world.events("return.initiated")
    returned = world.flow.handle(initiated)
    assert returned.outcome is Outcome.RETURN_BOOKED
    assert world.odoo.tables["stock.picking"][back]["carrier_tracking_ref"] == returned.detail
    world.odoo.call("stock.picking", "action_cancel", [[picking_id]])
    [cancelled] = world.events("picking.cancelled")
    voided = world.flow.handle(cancelled)
    assert voided.outcome is Outcome.VOIDED
    record = world.accounts[2].service.shipments[shipment.carrier_shipment_id or ""]
    assert record.cancelled_at is not None
    assert all(r.cancelled_at is None for r in world.accounts[1].service.shipments.values())
    world.assert_writes_scoped()


def test_a_void_for_a_company_without_the_account_is_flagged_not_voided_elsewhere(
    world: World,
) -> None:
    """Once company 2's account is no longer configured, cancelling its booked picking flags it
    (typed error kept, the note written in company 2) instead of voiding with company 1's
    account."""
    picking_id = world.ready_picking(2)
    [event] = world.events()
    assert world.flow.handle(event).outcome is Outcome.BOOKED
    writes = len(world.odoo.writes)
    narrowed = BookingFlow(
        world.logistics, CompanyCarriers({1: {"fake": world.clients[1]}}), world.store
    )
    world.odoo.call("stock.picking", "action_cancel", [[picking_id]])
    [cancelled] = world.events("picking.cancelled")
    outcome = narrowed.handle(cancelled)
    assert outcome.outcome is Outcome.FLAGGED
    assert isinstance(outcome.error, NoCarrierAccountError)
    assert (outcome.error.company, outcome.error.carrier) == (2, "fake")
    assert "void it by hand" in outcome.detail
    [(_, _, allowed, _)] = [w for w in world.odoo.writes[writes:] if w[3] == (picking_id,)]
    assert allowed == (2,)  # the flag note, written in company 2 only
    assert all(r.cancelled_at is None for r in world.accounts[2].service.shipments.values())
    assert world.accounts[1].service.shipment_count() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    companies=st.lists(st.sampled_from([1, 2]), min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
    batched=st.booleans(),
)
def test_any_interleaving_of_two_companies_books_each_once_at_its_own_account(
    companies: list[int], order: Any, batched: bool
) -> None:
    """Whatever order two companies' ready events (and their repeats) arrive in, one at a time
    or in a batch, each picking is booked once, at its own company's account, written in its
    own company only."""
    made = World()
    try:
        pickings = [made.ready_picking(company) for company in companies]
        events = made.events()
        events = events + order.sample(events, k=len(events) // 2)
        order.shuffle(events)
        ready = [e for e in events if isinstance(e, PickingReady)]
        outcomes = made.flow.book_many(ready) if batched else made.flow.handle_many(ready)
        assert {o.outcome for o in outcomes} <= {Outcome.BOOKED, Outcome.ALREADY_BOOKED}
        for company in (1, 2):
            assert made.accounts[company].service.shipment_count() == companies.count(company)
        booked = {o.picking_id: o.shipment for o in outcomes if o.shipment is not None}
        assert set(booked) == set(pickings)
        for picking_id, shipment in booked.items():
            company = made.odoo.company_of(picking_id)
            assert shipment.carrier_shipment_id in made.booked_at(company)
            assert made.odoo.tables["stock.picking"][picking_id]["carrier_tracking_ref"]
        made.assert_writes_scoped()
    finally:
        made.close()
