"""Multi-company on Odoo 17: the very tests of ``tests/odoo/test_odoo_companies.py`` (recorded
on a two-company Odoo 18), collected here a second time to replay this folder's cassettes."""

from test_odoo_companies import (
    test_a_bill_in_another_currency_and_a_foreign_journal,
    test_a_company_the_user_cannot_work_in_is_refused_when_configured,
    test_a_picking_that_does_not_exist_stays_a_missing_error,
    test_a_scoped_instance_never_writes_on_another_companys_picking,
    test_a_user_whose_companies_exclude_the_record_gets_the_typed_access_error,
    test_the_company_is_inferred_from_the_picking_and_what_is_created_belongs_to_it,
    test_vendor_bills_go_to_each_companys_purchase_journal_in_the_invoice_currency,
)

__all__ = [
    "test_a_bill_in_another_currency_and_a_foreign_journal",
    "test_a_company_the_user_cannot_work_in_is_refused_when_configured",
    "test_a_picking_that_does_not_exist_stays_a_missing_error",
    "test_a_scoped_instance_never_writes_on_another_companys_picking",
    "test_a_user_whose_companies_exclude_the_record_gets_the_typed_access_error",
    "test_the_company_is_inferred_from_the_picking_and_what_is_created_belongs_to_it",
    "test_vendor_bills_go_to_each_companys_purchase_journal_in_the_invoice_currency",
]
