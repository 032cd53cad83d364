"""What differs between Odoo versions, as data in one place.

Each supported major version has one :class:`OdooVersion` in :data:`ODOO_VERSIONS`: the gateway
it is spoken to with, the module that adds shipping fields to pickings, the picking states, how
a note is written in the chatter, the account move fields of a vendor bill, and the field names
that were renamed. Operations ask :func:`version_facts` for the server's entry instead of testing
version numbers. Each fact was read from that version's source (``odoo/addons`` and
``addons/``); a version shipsync has not been checked against raises
:class:`~shipsync.errors.ConfigurationError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from shipsync.errors import ConfigurationError
from shipsync.odoo._mapping import OdooFieldMap

__all__ = [
    "ODOO_VERSIONS",
    "OdooVersion",
    "fields_for_version",
    "gateway_protocol",
    "version_facts",
]

Protocol = Literal["jsonrpc", "json2"]

_STATES = frozenset({"draft", "waiting", "confirmed", "assigned", "done", "cancel"})


@attrs.frozen
class OdooVersion:
    """The facts shipsync's operations need about one Odoo major version."""

    major: int
    protocol: Protocol
    """The gateway spoken by :func:`~shipsync.odoo.connect`: ``jsonrpc`` or ``json2``."""
    jsonrpc_served: bool
    """Whether ``/jsonrpc`` still answers (deprecated in 19, to be removed in 20)."""
    delivery_module: str
    """The module that adds ``carrier_tracking_ref`` and ``carrier_id`` to ``stock.picking``."""
    picking_states: frozenset[str]
    """Every ``stock.picking.state``."""
    picking_ready_state: str
    """The state of a picking reserved and ready to ship."""
    picking_final_states: frozenset[str]
    """States after which a picking does not move on (no more carrier updates are written)."""
    note_message_type: str
    """``mail.message.message_type`` of an internal note."""
    note_subtype: tuple[str, str]
    """Module and xml id of the internal-note subtype."""
    bill_move_type: str
    """``account.move.move_type`` of a vendor bill."""
    refund_move_type: str
    """``account.move.move_type`` of a vendor credit note."""
    bill_line_display_type: str
    """``account.move.line.display_type`` of a bill's product line."""
    user_groups_field: str
    """The ``res.users`` field holding the user's groups (``group_ids`` from 19)."""
    storable_product: Mapping[str, object]
    """``product.product`` values of a product whose stock is tracked."""
    move_has_name: bool
    """Whether ``stock.move`` has a ``name`` field (removed in 19; its text is computed)."""
    package_model: str
    """The model of packages (``stock.quant.package``, renamed ``stock.package`` in 19)."""
    company_context_key: str
    """The context key naming the companies a request works in, the first being the company
    of what it creates (``allowed_company_ids``)."""
    bill_journal_type: str
    """``account.journal.type`` of the journal vendor bills go to (``purchase``)."""
    return_wizard_method: str
    """The ``stock.return.picking`` method that creates a return, as a user does
    (``create_returns`` in 17, ``action_create_returns`` from 18)."""


def _version(
    major: int,
    *,
    protocol: Protocol = "jsonrpc",
    jsonrpc_served: bool = True,
    delivery_module: str = "stock_delivery",
    user_groups_field: str = "groups_id",
    storable_product: Mapping[str, object] | None = None,
    move_has_name: bool = True,
    package_model: str = "stock.quant.package",
    return_wizard_method: str = "action_create_returns",
) -> OdooVersion:
    return OdooVersion(
        major=major,
        protocol=protocol,
        jsonrpc_served=jsonrpc_served,
        delivery_module=delivery_module,
        picking_states=_STATES,
        picking_ready_state="assigned",
        picking_final_states=frozenset({"done", "cancel"}),
        note_message_type="comment",
        note_subtype=("mail", "mt_note"),
        bill_move_type="in_invoice",
        refund_move_type="in_refund",
        bill_line_display_type="product",
        user_groups_field=user_groups_field,
        storable_product=storable_product or {"type": "consu", "is_storable": True},
        move_has_name=move_has_name,
        package_model=package_model,
        company_context_key="allowed_company_ids",
        bill_journal_type="purchase",
        return_wizard_method=return_wizard_method,
    )


ODOO_VERSIONS: Mapping[int, OdooVersion] = {
    # 16: shipping fields on pickings come with ``delivery``; stock_delivery does not exist yet.
    16: _version(
        16,
        delivery_module="delivery",
        storable_product={"type": "product"},
        return_wizard_method="create_returns",
    ),
    # 17: ``delivery`` split; pickings' carrier fields moved to ``stock_delivery``.
    17: _version(17, storable_product={"type": "product"}, return_wizard_method="create_returns"),
    # 18: ``type='product'`` gone: a storable product is a goods product with ``is_storable``.
    18: _version(18),
    # 19: JSON-2 (``/json/2``) with API keys; /jsonrpc deprecated; ``groups_id`` → ``group_ids``;
    # ``stock.move.name`` gone; ``stock.quant.package`` → ``stock.package``.
    19: _version(
        19,
        protocol="json2",
        user_groups_field="group_ids",
        move_has_name=False,
        package_model="stock.package",
    ),
}
"""Every Odoo major version shipsync knows, by major number."""


def version_facts(version: tuple[int, int]) -> OdooVersion:
    """The facts for a server reporting ``version`` (``(major, minor)``).

    Raises :class:`~shipsync.errors.ConfigurationError` for a major version not in
    :data:`ODOO_VERSIONS`, naming it and the known ones.
    """
    facts = ODOO_VERSIONS.get(version[0])
    if facts is None:
        known = ", ".join(f"{major}.0" for major in sorted(ODOO_VERSIONS))
        raise ConfigurationError(
            f"Odoo {version[0]}.{version[1]} is not a version shipsync knows ({known})",
            path="server_version",
        )
    return facts


def gateway_protocol(version: tuple[int, int]) -> Protocol:
    """Which gateway speaks to a server of ``version``; see :func:`version_facts`."""
    return version_facts(version).protocol


def fields_for_version(fields: OdooFieldMap, version: tuple[int, int]) -> OdooFieldMap:
    """``fields`` with the server's own names where the caller left the default.

    Only what the caller did not set is filled in (today: ``package_model``), so a field map
    written for one server keeps working on the next version. An unknown version keeps
    ``fields`` as given.
    """
    facts = ODOO_VERSIONS.get(version[0])
    if facts is None or "package_model" in fields.model_fields_set:
        return fields
    return fields.model_copy(update={"package_model": facts.package_model})
