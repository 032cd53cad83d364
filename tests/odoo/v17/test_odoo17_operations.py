"""The logistics operations' live tests, run on Odoo 17 over JSON-RPC (fixtures: ./conftest.py).

Each name below is the very test of ``tests/odoo/test_odoo_operations.py`` (recorded on Odoo 18
over JSON-RPC), collected here a second time so that it replays this folder's Odoo 17 cassettes.
"""

from test_odoo_operations import (
    test_a_base_field_keeps_what_oca_incident_forgets_in_the_same_requests,
    test_a_later_batch_never_moves_a_picking_back_but_a_return_after_delivery_moves_it,
    test_a_missing_module_is_reported_by_name,
    test_a_picking_odoo_refuses_to_validate_is_reported_and_the_others_are_validated,
    test_a_value_odoo_refuses_in_load_is_an_error_with_its_message_and_a_repeat_recovers,
    test_apply_events_posts_one_note_per_event_in_a_bounded_number_of_requests,
    test_each_package_gets_its_own_tracking_number_when_a_field_is_mapped,
    test_non_ascii_numbers_names_and_texts_are_stored_and_read_back_unchanged,
    test_oca_delivery_state_values_follow_the_canonical_mapping_without_regressing,
    test_proof_of_delivery_is_attached_once,
    test_record_shipment_in_another_currency_keeps_the_price_out_of_the_float_field,
    test_record_shipment_writes_tracking_price_labels_and_one_note_once,
    test_sale_order_pickings_are_found_by_order_name_picking_name_and_tracking,
    test_status_goes_to_a_configured_field_and_delivery_validates_the_picking,
    test_vendor_bill_has_one_line_per_charge_and_is_created_once,
)

__all__ = [
    "test_a_base_field_keeps_what_oca_incident_forgets_in_the_same_requests",
    "test_a_later_batch_never_moves_a_picking_back_but_a_return_after_delivery_moves_it",
    "test_a_missing_module_is_reported_by_name",
    "test_a_picking_odoo_refuses_to_validate_is_reported_and_the_others_are_validated",
    "test_a_value_odoo_refuses_in_load_is_an_error_with_its_message_and_a_repeat_recovers",
    "test_apply_events_posts_one_note_per_event_in_a_bounded_number_of_requests",
    "test_each_package_gets_its_own_tracking_number_when_a_field_is_mapped",
    "test_non_ascii_numbers_names_and_texts_are_stored_and_read_back_unchanged",
    "test_oca_delivery_state_values_follow_the_canonical_mapping_without_regressing",
    "test_proof_of_delivery_is_attached_once",
    "test_record_shipment_in_another_currency_keeps_the_price_out_of_the_float_field",
    "test_record_shipment_writes_tracking_price_labels_and_one_note_once",
    "test_sale_order_pickings_are_found_by_order_name_picking_name_and_tracking",
    "test_status_goes_to_a_configured_field_and_delivery_validates_the_picking",
    "test_vendor_bill_has_one_line_per_charge_and_is_created_once",
]
