"""Multi-company without a server: the configuration-time check and the scoped gateway."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import OdooAccessError, OdooCompanyAccessError
from shipsync.odoo import OdooCompany, OdooGateway, OdooLogistics
from shipsync.odoo._companies import CompanyGateway, resolve_company

COMPANIES = {
    1: OdooCompany(id=1, name="My Company", currency="USD"),
    2: OdooCompany(id=2, name="shipsync EU", currency="EUR"),
}


class TwoCompanies:
    """A gateway whose user may work in companies 1 and 2; it records every call."""

    server_version = (18, 0)
    uid = 7
    round_trips = 0

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, dict[str, Any]]] = []

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        self.calls.append((model, method, list(args), dict(kwargs or {})))
        if (model, method) == ("res.users", "read"):
            return [{"id": self.uid, "company_ids": [1, 2]}]
        if (model, method) == ("res.company", "read"):
            return [
                {"id": c.id, "name": c.name, "currency_id": [c.id, c.currency]}
                for c in COMPANIES.values()
            ]
        return []


@given(st.one_of(st.text(max_size=30), st.integers()))
def test_a_company_not_among_the_users_is_refused_naming_it(company: int | str) -> None:
    """Any id or name but the user's companies' raises OdooCompanyAccessError naming it."""
    if company in {1, 2, "My Company", "shipsync EU"}:
        assert resolve_company(company, COMPANIES).id in {1, 2}
        return
    with pytest.raises(OdooCompanyAccessError) as refused:
        resolve_company(company, COMPANIES)
    assert refused.value.company == str(company)
    assert repr(company) in str(refused.value)
    assert isinstance(refused.value, OdooAccessError)


def test_a_refused_company_stops_the_constructor_after_asking_only_the_users_companies() -> None:
    """Configuring a company the user lacks reads the user's companies and nothing else."""
    gateway = TwoCompanies()
    with pytest.raises(OdooCompanyAccessError, match="'Acme'"):
        OdooLogistics(gateway, company="Acme")
    assert [(model, method) for model, method, _, _ in gateway.calls] == [
        ("res.users", "read"),
        ("res.company", "read"),
    ]


def test_the_scoped_gateway_adds_the_company_and_keeps_the_calls_context() -> None:
    """Every call of a scoped instance carries allowed_company_ids=[company] beside the
    context the call had; the caller's kwargs are left as they were."""
    gateway = TwoCompanies()
    scoped = CompanyGateway(gateway, COMPANIES[2])
    assert isinstance(scoped, OdooGateway)
    kwargs = {"fields": ["name"], "context": {"active_test": False}}
    scoped.call("res.currency", "search_read", [[]], kwargs)
    assert gateway.calls[-1][3] == {
        "fields": ["name"],
        "context": {"active_test": False, "allowed_company_ids": [2]},
    }
    assert kwargs == {"fields": ["name"], "context": {"active_test": False}}
    odoo = OdooLogistics(gateway).in_company("shipsync EU")
    assert odoo.company == COMPANIES[2]
    odoo.gateway.call("stock.picking", "search", [[]])
    assert gateway.calls[-1][3] == {"context": {"allowed_company_ids": [2]}}
