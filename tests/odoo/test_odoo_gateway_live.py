"""The RPC gateway against a real Odoo 18: version, login, round trips and Odoo's errors."""

from __future__ import annotations

from typing import Any

import pytest

from shipsync.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooMissingError,
    OdooUserError,
    OdooValidationError,
)
from shipsync.odoo import OdooGateway, RetryPolicy, RpcGateway

NO_WAIT = RetryPolicy(attempts=3, initial=0, jitter=0)  # retries without sleeping


def test_connecting_detects_the_version_and_takes_three_requests(gateway: RpcGateway) -> None:
    """Connecting reads the server version and logs in: three requests, no more."""
    assert isinstance(gateway, OdooGateway)
    assert gateway.server_version == (18, 0)
    assert gateway.round_trips == 3
    assert gateway.uid > 0
    assert "password" not in repr(gateway)
    gateway.call("res.partner", "search", [[["id", "=", 0]]])
    assert gateway.round_trips == 4


def test_a_wrong_password_is_an_auth_error(
    cassette: Any, target: tuple[str, str], login: str
) -> None:
    """Odoo answers ``false`` to a wrong password; the gateway raises OdooAuthError."""
    url, db = target
    with pytest.raises(OdooAuthError) as caught:
        RpcGateway(url, db, login, "certainly-wrong", retry=NO_WAIT)
    assert "certainly-wrong" not in str(caught.value)


@pytest.mark.parametrize(
    ("model", "method", "args", "error", "odoo_text"),
    [
        pytest.param(
            "res.partner",
            "write",
            [[2_000_000_000], {"name": "x"}],
            OdooMissingError,
            "does not exist",
            id="missing-record",
        ),
        pytest.param(
            "res.partner",
            "create",
            [{"name": False}],
            OdooValidationError,
            "require a name",
            id="constraint",
        ),
        pytest.param(
            "account.move",
            "action_post",
            None,
            OdooUserError,
            # 17: "The Bill/Refund date is required to validate this document."
            # 18: "You need to add a line before posting"; 19: "... can't post nothing!"
            "post|validate this document",
            id="business-rule",
        ),
        pytest.param(
            "res.partner", "message_post", [[1, 2]], OdooError, "Expected singleton", id="singleton"
        ),
    ],
)
def test_odoo_exceptions_become_typed_errors_with_odoos_message(
    gateway: RpcGateway,
    model: str,
    method: str,
    args: list[Any] | None,
    error: type[OdooError],
    odoo_text: str,
) -> None:
    """Each Odoo exception class maps onto its shipsync error and keeps Odoo's text."""
    if args is None:  # an empty draft bill: posting it is refused by a business rule
        partner = gateway.call("res.partner", "create", [{"name": "Empty bill vendor"}])
        bill = gateway.call(
            "account.move", "create", [{"move_type": "in_invoice", "partner_id": partner}]
        )
        args = [[bill]]
    with pytest.raises(error) as caught:
        gateway.call(model, method, args)
    assert any(text in (caught.value.odoo_message or "") for text in odoo_text.split("|"))
    assert f"{model}.{method}" in str(caught.value)


def test_a_user_without_rights_gets_an_access_error(
    gateway: RpcGateway, run_tag: str, target: tuple[str, str]
) -> None:
    """A portal user listing warehouses gets OdooAccessError, not a generic failure."""
    [portal] = gateway.call(
        "ir.model.data",
        "search_read",
        [[["module", "=", "base"], ["name", "=", "group_portal"]]],
        {"fields": ["res_id"]},
    )
    login = f"portal-{run_tag}@example.com"
    gateway.call(
        "res.users",
        "create",
        [
            {
                "name": f"Portal {run_tag}",
                "login": login,
                "password": f"portal-{run_tag}-pw",
                "groups_id": [[6, 0, [portal["res_id"]]]],
            }
        ],
    )
    url, db = target
    outsider = RpcGateway(url, db, login, f"portal-{run_tag}-pw")
    with pytest.raises(OdooAccessError) as caught:
        outsider.call("stock.warehouse", "search", [[]])
    assert caught.value.odoo_message


def test_an_unknown_database_is_an_auth_error(
    cassette: Any, target: tuple[str, str], login: str
) -> None:
    """Logging in to a database that does not exist raises OdooAuthError with Odoo's text."""
    url, _ = target
    with pytest.raises(OdooAuthError) as caught:
        RpcGateway(
            url,
            "no_such_db_shipsync",
            login,
            "x",
            retry=NO_WAIT,
        )
    assert caught.value.odoo_message
