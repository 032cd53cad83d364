"""Where canonical values live in Odoo: field and model names as configuration.

The defaults fit a standard Odoo 16-18 with ``stock`` and ``delivery`` (and OCA's
``delivery_state`` for the status, when installed). A host with custom fields or another model
passes its own :class:`OdooFieldMap`; nothing needs subclassing.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints

from shipsync.canonical import ShipmentStatus
from shipsync.canonical.mappings import OcaIncidentSpelling
from shipsync.errors import ConfigurationError

__all__ = ["FieldName", "OdooFieldMap"]

FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$", max_length=63)]
"""A technical Odoo field name."""

ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_.]*$", max_length=128)]

StatusValue = Annotated[str, StringConstraints(max_length=200)]


class OdooFieldMap(BaseModel):
    """Models and fields the logistics operations read and write.

    Set a field to ``None`` to leave that fact out of Odoo. The status written into
    ``picking_status`` (a selection or char field) is the canonical shipment status of the
    events, as OCA ``delivery_state`` values by default
    (:func:`~shipsync.canonical.mappings.oca_delivery_state`, with ``oca_incident_spelling``:
    ``incident`` for Odoo 16+, ``incidence`` for 15 and earlier). ``status_values`` replaces
    that mapping with one of your own, from shipment statuses (milestones are accepted as keys)
    onto your field's values; a status without an entry leaves the field alone. When
    ``picking_status`` names a field the server does not have (the default ``delivery_state``
    without OCA's module), the status is skipped and reported, not raised.
    ``picking_status_base`` names a char field that keeps, beside the status, the milestone
    the picking's fold stands at (for an ``exception``, the milestone it branched from): read in
    the same request as the status and written in the same one, it lets a later batch fold on
    exactly where a shared value (OCA's ``incident``) or an exception would forget it. OCA's
    module has no such field, so it is None by default.
    ``package_tracking`` names a field of ``package_model`` that takes one tracking number per
    package; without it, a multi-package shipment is written as one joined string on the
    picking, as Odoo itself does.
    ``note_subtype`` is the subtype of the chatter notes: the internal Note by default;
    ``mail.mt_comment`` makes them public (portal) messages. Notes are created without
    notification, so no subtype sends e-mail.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    picking_model: ModelName = "stock.picking"
    picking_tracking: FieldName = "carrier_tracking_ref"
    picking_carrier_price: FieldName | None = "carrier_price"
    picking_price_currency: FieldName | None = None
    picking_status: FieldName | None = "delivery_state"
    picking_sale_order: FieldName | None = "sale_id"
    picking_status_base: FieldName | None = None
    status_values: dict[ShipmentStatus, StatusValue] | None = None
    oca_incident_spelling: OcaIncidentSpelling = OcaIncidentSpelling.INCIDENT
    package_model: ModelName = "stock.quant.package"
    package_tracking: FieldName | None = None
    tracking_separator: Annotated[str, StringConstraints(min_length=1, max_length=3)] = ","
    note_subtype: Annotated[str, StringConstraints(pattern=r"^[a-z_0-9]+\.[a-z_0-9]+$")] = (
        "mail.mt_note"
    )
    validate_on_delivery: bool = False

    def __init__(self, **values: Any) -> None:
        """Validate the mapping; a bad entry raises :class:`~shipsync.errors.ConfigurationError`."""
        try:
            super().__init__(**values)
        except pydantic.ValidationError as exc:
            problems = exc.errors(include_url=False, include_input=False, include_context=False)
            paths = [".".join(str(p) for p in problem["loc"]) for problem in problems]
            shown = "; ".join(
                f"{path}: {problem['msg']}" for path, problem in zip(paths, problems, strict=True)
            )
            raise ConfigurationError(
                f"invalid OdooFieldMap: {shown}", path=paths[0] if paths else None
            ) from None
