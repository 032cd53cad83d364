"""Multi-company against a real Odoo 18 with two companies in different currencies.

Recorded on a database whose admin may work in both companies ("My Company" in USD and
"shipsync EU" in EUR, each with its warehouse and purchase journal); replayed from
``cassettes/`` in CI. Live: set the ``ODOO_*`` variables for such a database and run this
module only; its names carry their own tag (``companies_tag``: ``cassettes/companies_run_tag.txt``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from test_odoo_operations import _shipment

from shipsync.canonical import (
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Money,
)
from shipsync.errors import (
    OdooAccessError,
    OdooCompanyAccessError,
    OdooCompanyMismatchError,
    OdooMissingError,
)
from shipsync.odoo import OdooCompany, OdooLogistics, RetryPolicy, RpcGateway, version_facts

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Not imported from conftest: tests/odoo/v17 collects these tests again under its own conftest.
LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))
NO_WAIT = RetryPolicy(attempts=3, initial=0, jitter=0)


def _two_companies(odoo: OdooLogistics) -> tuple[OdooCompany, OdooCompany]:
    """The user's first company and the first one in another currency."""
    companies = odoo.companies()
    first = companies[0]
    other = [c for c in companies if c.currency != first.currency]
    if not other:
        pytest.skip("the database needs two companies in different currencies")
    return first, other[0]


def _customers(gw: Any) -> list[int]:
    """The customers location (Odoo 17's delivery types have no default destination)."""
    [row] = gw.call(
        "ir.model.data",
        "search_read",
        [[["module", "=", "stock"], ["name", "=", "stock_location_customers"]]],
        {"fields": ["res_id"]},
    )
    return [int(row["res_id"])]


def _picking(gw: Any, company: OdooCompany, companies_tag: str, n: int) -> int:
    """A confirmed outgoing picking of ``company``, created in that company."""
    context = {"context": {"allowed_company_ids": [company.id]}}
    [kind] = gw.call(
        "stock.picking.type",
        "search_read",
        [[["code", "=", "outgoing"], ["company_id", "=", company.id]]],
        {
            "fields": ["default_location_src_id", "default_location_dest_id"],
            "limit": 1,
            "order": "id",
            **context,
        },
    )
    src = kind["default_location_src_id"][0]
    dest = (kind["default_location_dest_id"] or _customers(gw))[0]
    product = gw.call(
        "product.product",
        "create",
        [{"name": f"Widget {company.id}-{n} {companies_tag}", "type": "consu", "list_price": 10}],
    )
    move = {"product_id": product, "product_uom_qty": 1, "location_id": src}
    if version_facts(gw.server_version).move_has_name:
        move["name"] = "Widget"
    [picking] = gw.call(
        "stock.picking",
        "create",
        [
            [
                {
                    "picking_type_id": kind["id"],
                    "location_id": src,
                    "location_dest_id": dest,
                    "origin": f"shipsync companies {companies_tag}",
                    "move_ids": [[0, 0, {**move, "location_dest_id": dest}]],
                }
            ]
        ],
        context,
    )
    gw.call("stock.picking", "action_confirm", [[picking]], context)
    return int(picking)


def _invoice(number: str, currency: str, refs: list[str]) -> FreightInvoice:
    lines = tuple(
        FreightInvoiceLine(
            line_number=i,
            tracking_number=ref,
            charges=(
                FreightCharge(type=ChargeType.BASE_FREIGHT, amount=Money.of("10.00", currency)),
            ),
        )
        for i, ref in enumerate(refs, start=1)
    )
    return FreightInvoice(
        invoice_number=number,
        carrier="fakecarrier",
        issued_at=T0,
        currency=currency,
        lines=lines,
        total=Money.of(str(10 * len(refs)), currency),
    )


def _journal(gw: Any, journal_id: int | None) -> tuple[str, int]:
    [journal] = gw.call(
        "account.journal", "read", [[journal_id]], {"fields": ["type", "company_id"]}
    )
    return str(journal["type"]), int(journal["company_id"][0])


def test_a_company_the_user_cannot_work_in_is_refused_when_configured(gateway: Any) -> None:
    """An unknown company name or id is an OdooCompanyAccessError naming it and the user's
    companies, raised by the constructor before any operation runs."""
    odoo = OdooLogistics(gateway)
    first, other = _two_companies(odoo)
    with pytest.raises(OdooCompanyAccessError, match="'No such company'") as by_name:
        OdooLogistics(gateway, company="No such company")
    assert by_name.value.company == "No such company"
    assert first.name in str(by_name.value)
    assert other.name in str(by_name.value)
    with pytest.raises(OdooCompanyAccessError, match="99999"):
        odoo.in_company(99999)
    scoped = OdooLogistics(gateway, company=other.name)
    assert scoped.company == other
    assert odoo.in_company(other.id).company == other


def test_a_scoped_instance_never_writes_on_another_companys_picking(
    gateway: Any, companies_tag: str
) -> None:
    """In company A, a picking of company B is an error naming the picking and B; nothing of
    the shipment is written on it. The instance for B writes it, in B's currency."""
    odoo = OdooLogistics(gateway)
    first, other = _two_companies(odoo)
    picking = _picking(gateway, other, companies_tag, 1)
    shipment = _shipment(f"MCA{companies_tag}")
    price = Money.of("12.34", other.currency)

    with pytest.raises(OdooCompanyAccessError, match=f"stock.picking {picking}") as refused:
        odoo.in_company(first.id).record_shipment(picking, shipment, price=price)
    assert refused.value.record == f"stock.picking {picking}"
    assert refused.value.company == str(other.id)
    [untouched] = odoo.read_pickings([picking])
    assert untouched.tracking_numbers == ()
    assert untouched.message_ids == ()

    done = odoo.in_company(other.id).record_shipment(picking, shipment, price=price)
    assert done.price_written  # the price is in B's own currency
    [record] = odoo.read_pickings([picking])
    assert record.carrier_price == price
    assert len(record.message_ids) == 1


def test_the_company_is_inferred_from_the_picking_and_what_is_created_belongs_to_it(
    gateway: Any, companies_tag: str
) -> None:
    """``for_picking`` scopes to the picking's company: the labels it attaches belong to that
    company, not to the user's current one."""
    odoo = OdooLogistics(gateway)
    _first, other = _two_companies(odoo)
    picking = _picking(gateway, other, companies_tag, 2)
    inferred = odoo.for_picking(picking)
    assert inferred.company == other
    done = inferred.record_shipment(picking, _shipment(f"MCI{companies_tag}"))
    labels = gateway.call(
        "ir.attachment", "read", [list(done.attachment_ids)], {"fields": ["company_id"]}
    )
    assert [row["company_id"][0] for row in labels] == [other.id, other.id]


def test_a_user_whose_companies_exclude_the_record_gets_the_typed_access_error(
    gateway: Any, companies_tag: str, target: tuple[str, str]
) -> None:
    """A stock user of company A only: B's picking is an OdooCompanyAccessError naming the
    picking (inferred or not), and configuring company B is refused naming B."""
    odoo = OdooLogistics(gateway)
    first, other = _two_companies(odoo)
    picking = _picking(gateway, other, companies_tag, 3)
    facts = version_facts(gateway.server_version)
    [group] = gateway.call(
        "ir.model.data",
        "search_read",
        [[["module", "=", "stock"], ["name", "=", "group_stock_user"]]],
        {"fields": ["res_id"]},
    )
    login, password = f"stock-{companies_tag}", f"pw-{companies_tag}-secret"
    gateway.call(
        "res.users",
        "create",
        [
            {
                "name": f"Stock user {companies_tag}",
                "login": login,
                "password": password,
                "company_id": first.id,
                "company_ids": [[6, 0, [first.id]]],
                facts.user_groups_field: [[6, 0, [group["res_id"]]]],
            }
        ],
    )
    url, db = target
    user_gw = RpcGateway(
        url,
        db,
        login if LIVE else "odoo-user",
        password if LIVE else "odoo-password",
        retry=NO_WAIT,
    )
    user = OdooLogistics(user_gw)
    assert [c.id for c in user.companies()] == [first.id]
    with pytest.raises(OdooCompanyAccessError, match=f"stock.picking {picking}") as inferred:
        user.for_picking(picking)
    assert isinstance(inferred.value, OdooAccessError)
    with pytest.raises(OdooCompanyAccessError, match=f"stock.picking {picking}"):
        user.record_shipment(picking, _shipment(f"MCU{companies_tag}"))
    with pytest.raises(OdooCompanyAccessError, match=other.name):
        OdooLogistics(user_gw, company=other.name)
    [untouched] = odoo.read_pickings([picking])
    assert untouched.tracking_numbers == ()


def test_vendor_bills_go_to_each_companys_purchase_journal_in_the_invoice_currency(
    gateway: Any, companies_tag: str
) -> None:
    """The same carrier invoice number billed in A and in B makes one bill per company, each
    in its company's purchase journal and the invoice's currency; a repeat creates nothing."""
    odoo = OdooLogistics(gateway)
    first, other = _two_companies(odoo)
    vendor = int(gateway.call("res.partner", "create", [{"name": f"Carrier {companies_tag}"}]))
    bills = {}
    for company, n in ((first, 4), (other, 5)):
        picking = _picking(gateway, company, companies_tag, n)
        ref = f"MCB{companies_tag}{n}"
        gateway.call("stock.picking", "write", [[picking], {"carrier_tracking_ref": ref}])
        invoice = _invoice(f"INV-{companies_tag}", company.currency, [ref])
        scoped = odoo.for_invoice(invoice)
        assert scoped.company == company
        bill = scoped.create_vendor_bill(invoice, vendor_id=vendor)
        assert bill.created
        assert bill.company_id == company.id
        assert bill.total == Money.of("10.00", company.currency)
        assert _journal(gateway, bill.journal_id) == ("purchase", company.id)
        assert scoped.create_vendor_bill(invoice, vendor_id=vendor).created is False
        bills[company.id] = bill
    assert bills[first.id].id != bills[other.id].id


def test_a_bill_in_another_currency_and_a_foreign_journal(gateway: Any, companies_tag: str) -> None:
    """Company B is billed in A's currency when the carrier invoiced in it (the bill keeps
    the invoice's currency); a journal of A given to B is refused naming it; an invoice
    covering pickings of both companies is refused naming them, before anything is created."""
    odoo = OdooLogistics(gateway)
    first, other = _two_companies(odoo)
    vendor = int(gateway.call("res.partner", "create", [{"name": f"Carrier X {companies_tag}"}]))
    in_other = odoo.in_company(other.id)
    bill = in_other.create_vendor_bill(
        _invoice(f"INVX-{companies_tag}", first.currency, [f"NOPICK{companies_tag}"]),
        vendor_id=vendor,
    )
    assert bill.company_id == other.id
    assert bill.total == Money.of("10.00", first.currency)

    [first_journal] = gateway.call(
        "account.journal",
        "search",
        [[["type", "=", "purchase"], ["company_id", "=", first.id]]],
        {"limit": 1},
    )
    with pytest.raises(OdooCompanyAccessError, match=f"account.journal {first_journal}"):
        in_other.create_vendor_bill(
            _invoice(f"INVJ-{companies_tag}", other.currency, [f"NOPICK{companies_tag}"]),
            vendor_id=vendor,
            journal_id=first_journal,
        )

    refs = []
    for company, n in ((first, 6), (other, 7)):
        picking = _picking(gateway, company, companies_tag, n)
        refs.append(f"MCM{companies_tag}{n}")
        gateway.call("stock.picking", "write", [[picking], {"carrier_tracking_ref": refs[-1]}])
    with pytest.raises(OdooCompanyMismatchError) as mixed:
        odoo.for_invoice(_invoice(f"INVM-{companies_tag}", first.currency, refs))
    assert mixed.value.companies == (first.id, other.id)
    assert odoo.read_vendor_bill(f"INVM-{companies_tag}", vendor_id=vendor) is None


def test_a_picking_that_does_not_exist_stays_a_missing_error(gateway: Any) -> None:
    """An id no company holds is OdooMissingError, scoped or not, not an access error."""
    odoo = OdooLogistics(gateway)
    _first, other = _two_companies(odoo)
    with pytest.raises(OdooMissingError):
        odoo.in_company(other.id).record_shipment(999999, _shipment("MCX"))
    with pytest.raises(OdooMissingError):
        odoo.for_picking(999999)
