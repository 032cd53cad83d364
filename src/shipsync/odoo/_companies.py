"""Multi-company: operations scoped to one company, which is checked when it is configured.

Theory of operation. Odoo decides which companies a request works in from the context's
``allowed_company_ids``: a subset of the user's allowed companies (anything else is refused
with an AccessError), the first of which is the company of the records the request creates.
Record rules then hide every record of another company from reads and refuse writes to them.
Without that context a request sees all the user's companies and creates records in the user's
current company, which is what an unscoped :class:`~shipsync.odoo.OdooLogistics` does.

A scoped instance sends ``allowed_company_ids=[company]`` on every call (:class:`CompanyGateway`),
so Odoo itself keeps it inside the company: another company's picking is not found, a note or
an attachment is created in the company, a vendor bill takes the company's purchase journal.
When a record the caller names is not found in the company, :func:`explain_absence` asks once
more without the scope and turns the answer into
:class:`~shipsync.errors.OdooCompanyAccessError` naming the record and the company it belongs
to (or saying the user may not see it at all), instead of a bare "does not exist".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from shipsync.errors import (
    OdooAccessError,
    OdooCompanyAccessError,
    OdooCompanyMismatchError,
    OdooMissingError,
    OdooResponseError,
)
from shipsync.odoo._answers import rows
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._render import m2o_id, m2o_name
from shipsync.odoo._versions import version_facts

__all__ = [
    "CompanyGateway",
    "OdooCompany",
    "explain_absence",
    "resolve_company",
    "single_company",
    "user_companies",
]


@attrs.frozen
class OdooCompany:
    """One of the Odoo user's companies: id, name and currency code."""

    id: int
    name: str
    currency: str

    def __str__(self) -> str:
        return f"{self.name!r} (id {self.id}, {self.currency})"


def user_companies(gateway: OdooGateway) -> dict[int, OdooCompany]:
    """The companies the gateway's user may work in, by id (two requests)."""
    users = rows(
        gateway.call("res.users", "read", [[gateway.uid]], {"fields": ["company_ids"]}),
        "res.users.read",
    )
    if len(users) != 1 or not isinstance(users[0].get("company_ids"), list):
        raise OdooResponseError("Odoo answered res.users.read without the user's companies")
    ids = [int(i) for i in users[0]["company_ids"]]
    found = rows(
        gateway.call("res.company", "read", [ids], {"fields": ["name", "currency_id"]}),
        "res.company.read",
    )
    return {
        int(row["id"]): OdooCompany(
            id=int(row["id"]),
            name=str(row.get("name") or ""),
            currency=m2o_name(row.get("currency_id")) or "",
        )
        for row in found
    }


def resolve_company(company: int | str, allowed: Mapping[int, OdooCompany]) -> OdooCompany:
    """The user's company with that id or exact name, or
    :class:`~shipsync.errors.OdooCompanyAccessError` naming it and the companies allowed."""
    for candidate in allowed.values():
        if company == candidate.id or company == candidate.name:
            return candidate
    shown = ", ".join(str(c) for c in sorted(allowed.values(), key=lambda c: c.id))
    raise OdooCompanyAccessError(
        f"company {company!r} is not one of the Odoo user's companies ({shown})",
        company=str(company),
    )


class CompanyGateway:
    """A gateway whose every call runs in one company (``allowed_company_ids=[company]``).

    It adds the company to the context of each call, keeping whatever context the call has.
    """

    def __init__(self, gateway: OdooGateway, company: OdooCompany) -> None:
        self._inner = gateway
        self._company = company
        self._key = version_facts(gateway.server_version).company_context_key

    @property
    def inner(self) -> OdooGateway:
        """The unscoped gateway underneath."""
        return self._inner

    @property
    def company(self) -> OdooCompany:
        """The company every call runs in."""
        return self._company

    @property
    def server_version(self) -> tuple[int, int]:
        return self._inner.server_version

    @property
    def uid(self) -> int:
        return self._inner.uid

    @property
    def round_trips(self) -> int:
        return self._inner.round_trips

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        named = dict(kwargs or {})
        named["context"] = {**dict(named.get("context") or {}), self._key: [self._company.id]}
        return self._inner.call(model, method, args, named)


def record_company(gateway: OdooGateway, model: str, record_id: int) -> tuple[str, int | None]:
    """The display name and company id of one record, read as ``gateway`` sees it.

    A record the user may not read (another company's, outside the user's companies) raises
    :class:`~shipsync.errors.OdooCompanyAccessError` naming it; a record that does not exist
    raises :class:`~shipsync.errors.OdooMissingError`.
    """
    try:
        found = rows(
            gateway.call(model, "read", [[record_id]], {"fields": ["display_name", "company_id"]}),
            f"{model}.read",
        )
    except OdooAccessError as exc:
        raise OdooCompanyAccessError(
            f"{model} {record_id} belongs to a company the Odoo user may not access",
            record=f"{model} {record_id}",
            odoo_message=exc.odoo_message,
        ) from exc
    if not found:
        raise OdooMissingError(f"{model} {record_id} does not exist")
    return str(found[0].get("display_name") or ""), m2o_id(found[0].get("company_id"))


def explain_absence(scoped: CompanyGateway, model: str, record_id: int) -> None:
    """Raise the right error for a record the scoped gateway did not find.

    Asked once more without the scope: a record of another company raises
    :class:`~shipsync.errors.OdooCompanyAccessError` naming the record and its company; one
    the user may not see at all raises it too; one that does not exist raises
    :class:`~shipsync.errors.OdooMissingError`. A record found in the scope's own company (a
    record rule other than the company's hid it) is refused as an access error as well.
    """
    name, company_id = record_company(scoped.inner, model, record_id)
    label = f"{model} {record_id} ({name})" if name else f"{model} {record_id}"
    if company_id is None or company_id == scoped.company.id:
        raise OdooCompanyAccessError(
            f"{label} is not visible to the Odoo user in company {scoped.company}",
            record=f"{model} {record_id}",
            company=scoped.company.name,
        )
    raise OdooCompanyAccessError(
        f"{label} belongs to company id {company_id}, not to {scoped.company}; "
        "shipsync does not write across companies",
        record=f"{model} {record_id}",
        company=str(company_id),
    )


def single_company(rows_by_ref: Mapping[str, Mapping[str, Any]], what: str) -> int | None:
    """The one company of the pickings found for ``what``; ``None`` when none were found.

    Pickings of several companies raise :class:`~shipsync.errors.OdooCompanyMismatchError`
    naming each company and its pickings: one document is never written across companies.
    """
    by_company: dict[int, set[str]] = {}
    for row in rows_by_ref.values():
        company = m2o_id(row.get("company_id"))
        if company is not None:
            by_company.setdefault(company, set()).add(str(row.get("name") or row.get("id")))
    if len(by_company) > 1:
        shown = "; ".join(
            f"company id {company}: {', '.join(sorted(names))}"
            for company, names in sorted(by_company.items())
        )
        raise OdooCompanyMismatchError(
            f"{what} covers pickings of several companies ({shown})",
            companies=tuple(sorted(by_company)),
        )
    return next(iter(by_company), None)
