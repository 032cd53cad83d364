"""The gateways against a real Odoo 19 (replayed from ./cassettes unless ODOO_* is set): JSON-2
connects, maps Odoo's errors, refuses a wrong key; JSON-RPC still works on 19."""

from __future__ import annotations

from typing import Any

import pytest
from test_odoo_gateway_live import test_odoo_exceptions_become_typed_errors_with_odoos_message
from test_odoo_versions_live import test_the_version_table_matches_the_server

from conftest import rpc19
from shipsync.errors import OdooAccessError, OdooAuthError, OdooError
from shipsync.odoo import Json2Gateway, OdooGateway, RetryPolicy, RpcGateway, version_facts

__all__ = [
    "test_odoo_exceptions_become_typed_errors_with_odoos_message",
    "test_the_version_table_matches_the_server",
]

NO_WAIT = RetryPolicy(initial=0, maximum=0)


def test_json2_connects_in_two_requests_and_counts_each_call(gateway: Json2Gateway) -> None:
    """JSON-2 reads the version and the key's user (two requests); each call is one more."""
    assert isinstance(gateway, OdooGateway)
    assert gateway.server_version == (19, 0)
    assert gateway.round_trips == 2
    assert gateway.uid > 0
    gateway.call("res.partner", "search", [[["id", "=", 0]]])
    assert gateway.round_trips == 3


def test_a_wrong_api_key_is_an_auth_error(cassette: Any, target: tuple[str, str]) -> None:
    """Odoo 19 answers 401 to a key it does not know: OdooAuthError, the key not shown."""
    url, db = target
    with pytest.raises(OdooAuthError) as caught:
        Json2Gateway(url, db, "certainly-wrong-key", retry=NO_WAIT)
    assert "certainly-wrong-key" not in str(caught.value)
    assert caught.value.odoo_message == "Invalid apikey"


def test_an_unknown_database_is_an_error_naming_it(cassette: Any, target: tuple[str, str]) -> None:
    """A database the server does not serve is refused before any model call succeeds."""
    url, _ = target
    with pytest.raises(OdooError, match="database"):
        Json2Gateway(url, "no_such_db_shipsync", "certainly-wrong-key", retry=NO_WAIT)


def test_jsonrpc_still_works_on_odoo_19(cassette: Any) -> None:
    """Odoo 19 still serves /jsonrpc (deprecated): the RPC gateway reads and writes there."""
    rpc = rpc19()
    assert rpc.server_version == (19, 0)
    assert version_facts(rpc.server_version).jsonrpc_served
    partner = rpc.call("res.partner", "create", [{"name": "JSON-RPC on 19"}])
    [row] = rpc.call("res.partner", "read", [[partner]], {"fields": ["name"]})
    assert row["name"] == "JSON-RPC on 19"


def test_a_user_without_rights_gets_an_access_error(gateway: Json2Gateway, run_tag: str) -> None:
    """A portal user (groups in 19's ``group_ids``) listing warehouses gets OdooAccessError."""
    [portal] = gateway.call(
        "ir.model.data",
        "search_read",
        [[["module", "=", "base"], ["name", "=", "group_portal"]]],
        {"fields": ["res_id"]},
    )
    login = f"portal-{run_tag}@example.com"
    groups = version_facts(gateway.server_version).user_groups_field
    gateway.call(
        "res.users",
        "create",
        [
            {
                "name": f"Portal {run_tag}",
                "login": login,
                "password": f"portal-{run_tag}-pw",
                groups: [[6, 0, [portal["res_id"]]]],
            }
        ],
    )
    outsider: RpcGateway = rpc19(login, f"portal-{run_tag}-pw")
    with pytest.raises(OdooAccessError) as caught:
        outsider.call("stock.warehouse", "search", [[]])
    assert caught.value.odoo_message
