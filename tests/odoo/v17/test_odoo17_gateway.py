"""The JSON-RPC gateway and the version table against a real Odoo 17 (replayed from ./cassettes
unless ODOO_* is set): Odoo's errors become typed errors, a wrong password or database is
refused, a portal user gets OdooAccessError, and every fact of the version table holds on the
server."""

from __future__ import annotations

from test_odoo_gateway_live import (
    test_a_user_without_rights_gets_an_access_error,
    test_a_wrong_password_is_an_auth_error,
    test_an_unknown_database_is_an_auth_error,
    test_odoo_exceptions_become_typed_errors_with_odoos_message,
)
from test_odoo_versions_live import test_the_version_table_matches_the_server

from shipsync.odoo import RpcGateway

__all__ = [
    "test_a_user_without_rights_gets_an_access_error",
    "test_a_wrong_password_is_an_auth_error",
    "test_an_unknown_database_is_an_auth_error",
    "test_odoo_exceptions_become_typed_errors_with_odoos_message",
    "test_the_version_table_matches_the_server",
]


def test_connecting_to_odoo_17_takes_three_requests(gateway: RpcGateway) -> None:
    """Connecting reads the server version (17.0) and logs in: three requests, no more."""
    assert gateway.server_version == (17, 0)
    assert gateway.round_trips == 3
    assert gateway.uid > 0
