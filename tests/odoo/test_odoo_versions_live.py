"""The version table against a real server: every fact shipsync holds for the server's version
is what the server itself says (replayed from cassettes; Odoo 18 here, Odoo 19 in ``v19/``)."""

from __future__ import annotations

from typing import Any

from shipsync.odoo import version_facts


def _selection(gw: Any, model: str, field: str) -> set[str]:
    found = gw.call(model, "fields_get", [[field]], {"attributes": ["selection"]})
    return {str(value) for value, _label in found[field]["selection"]}


def _has_field(gw: Any, model: str, field: str) -> bool:
    return field in gw.call(model, "fields_get", [[field]], {"attributes": ["type"]})


def test_the_version_table_matches_the_server(gateway: Any) -> None:
    """Module, models, fields and selection values of the version's entry exist on the server."""
    facts = version_facts(gateway.server_version)
    installed = gateway.call(
        "ir.module.module",
        "search_read",
        [[["name", "=", facts.delivery_module], ["state", "=", "installed"]]],
        {"fields": ["name"]},
    )
    assert [row["name"] for row in installed] == [facts.delivery_module]
    assert _has_field(gateway, "stock.picking", "carrier_tracking_ref")
    assert _selection(gateway, "stock.picking", "state") == facts.picking_states
    assert gateway.call("ir.model", "search_count", [[["model", "=", facts.package_model]]]) == 1
    assert _has_field(gateway, "stock.move", "name") is facts.move_has_name
    assert _has_field(gateway, "res.users", facts.user_groups_field)
    moves = _selection(gateway, "account.move", "move_type")
    assert {facts.bill_move_type, facts.refund_move_type} <= moves
    assert facts.bill_line_display_type in _selection(gateway, "account.move.line", "display_type")
    assert facts.note_message_type in _selection(gateway, "mail.message", "message_type")
    module, name = facts.note_subtype
    subtype = gateway.call(
        "ir.model.data",
        "search_read",
        [[["module", "=", module], ["name", "=", name]]],
        {"fields": ["model"]},
    )
    assert [row["model"] for row in subtype] == ["mail.message.subtype"]
    storable = dict(facts.storable_product)
    assert str(storable["type"]) in _selection(gateway, "product.product", "type")
    assert _has_field(gateway, "product.product", "is_storable") is ("is_storable" in storable)
