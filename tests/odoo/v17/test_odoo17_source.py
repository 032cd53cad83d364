"""Odoo as the source, and the fake carrier end to end, on Odoo 17 over JSON-RPC.

The very tests of ``tests/odoo/test_odoo_source.py`` and ``test_odoo_end_to_end.py`` (recorded
on Odoo 18), collected here a second time to replay this folder's Odoo 17 cassettes.
"""

from test_odoo_end_to_end import fake_carrier, test_fake_carrier_events_update_the_odoo_picking
from test_odoo_source import (
    test_a_confirmed_order_is_booked_once_and_written_back_then_voided_on_cancel,
    test_a_return_created_in_odoo_gets_a_return_label_on_its_return_picking,
    test_a_settled_claim_drafts_one_carrier_credit_note_in_odoo,
)

__all__ = [
    "fake_carrier",
    "test_a_confirmed_order_is_booked_once_and_written_back_then_voided_on_cancel",
    "test_a_return_created_in_odoo_gets_a_return_label_on_its_return_picking",
    "test_a_settled_claim_drafts_one_carrier_credit_note_in_odoo",
    "test_fake_carrier_events_update_the_odoo_picking",
]
