"""Pure parts of the Odoo client: error mapping, batching helpers, field map, public names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipsync.odoo as odoo_pkg
from shipsync.canonical import Location, Milestone, Money, Reason, TrackingEvent
from shipsync.errors import (
    ConfigurationError,
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooMissingError,
    OdooUnavailableError,
    OdooUserError,
    OdooValidationError,
)
from shipsync.odoo import (
    OdooFieldMap,
)
from shipsync.odoo._batch import chunked, group_by_value, message_id_for, or_domain, split_refs
from shipsync.odoo._faults import error_from_fault
from shipsync.odoo._render import event_body, m2o_id, m2o_name, money_from_float
from shipsync.odoo._rpc import parse_server_version


def test_public_names_are_pinned() -> None:
    """The package exports exactly these names, sorted."""
    assert odoo_pkg.__all__ == [
        "CREATE_CHUNK",
        "EPOCH",
        "FEEDS",
        "IN_CHUNK",
        "MODEL_METHODS",
        "ODOO_VERSIONS",
        "ORDERS_CONFIRMED",
        "PICKINGS_CANCELLED",
        "PICKINGS_READY",
        "READ_METHODS",
        "RECORD_METHODS",
        "RETURNS_CREATED",
        "SAFE_METHODS",
        "SHADOW_ID_BASE",
        "ApplyReport",
        "Change",
        "ChangeBatch",
        "ChangeFeed",
        "CursorStore",
        "EnvGateway",
        "FeedCursor",
        "FeedFilter",
        "IntendedWrite",
        "Json2Gateway",
        "MemoryCursorStore",
        "OdooCompany",
        "OdooFieldMap",
        "OdooGateway",
        "OdooLogistics",
        "OdooSource",
        "OdooVersion",
        "PickingRecord",
        "PostgresCursorStore",
        "PostgresShadowRecorder",
        "RecordedDocument",
        "RetryPolicy",
        "RpcGateway",
        "SQLiteCursorStore",
        "SQLiteShadowRecorder",
        "ShadowGateway",
        "ShadowRecorder",
        "SourceBatch",
        "VendorBillLineRecord",
        "VendorBillRecord",
        "connect",
        "event_message_id",
        "fields_for_version",
        "gateway_protocol",
        "message_id_for",
        "parse_server_version",
        "picking_shipment_id",
        "server_version",
        "version_facts",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("odoo.exceptions.AccessDenied", OdooAuthError),
        ("odoo.exceptions.AccessError", OdooAccessError),
        ("odoo.exceptions.ValidationError", OdooValidationError),
        ("odoo.exceptions.MissingError", OdooMissingError),
        ("odoo.exceptions.UserError", OdooUserError),
        ("odoo.exceptions.RedirectWarning", OdooUserError),
        ("odoo.http.SessionExpiredException", OdooAuthError),
        ("psycopg2.errors.SerializationFailure", OdooUnavailableError),
        ("builtins.ValueError", OdooError),
        ("", OdooError),
    ],
    ids=lambda value: value if isinstance(value, str) and value else None,
)
def test_odoo_error_paths_map_to_the_most_specific_error(
    name: str, expected: type[OdooError]
) -> None:
    """Each Odoo exception path becomes exactly the expected shipsync error class."""
    error = error_from_fault(name, "Odoo says no", model="stock.picking", method="write")
    assert type(error) is expected
    assert error.odoo_message == "Odoo says no"
    assert "stock.picking.write" in str(error)


def test_transient_database_conflicts_are_retryable_and_others_are_not() -> None:
    """Only conflicts Odoo itself would retry are marked retryable."""
    assert error_from_fault("psycopg2.errors.SerializationFailure", "x").retryable
    assert not error_from_fault("odoo.exceptions.UserError", "x").retryable


def test_odoo_messages_are_cut_to_a_bounded_length() -> None:
    """A huge Odoo message is kept only up to 2,000 characters."""
    error = error_from_fault("odoo.exceptions.UserError", "x" * 10_000)
    assert len(error.odoo_message or "") == 2000


@pytest.mark.parametrize(
    ("text", "version"),
    [("18.0-20250722", (18, 0)), ("17.0", (17, 0)), ("saas~17.4", (17, 4)), ("16.0+e", (16, 0))],
)
def test_server_versions_are_parsed(text: str, version: tuple[int, int]) -> None:
    """Community, enterprise and SaaS version strings give major and minor."""
    assert parse_server_version(text) == version


def test_an_unreadable_server_version_is_a_response_error() -> None:
    """A version without digits is reported as something Odoo sent wrong."""
    with pytest.raises(OdooError):
        parse_server_version("unknown")


@given(st.lists(st.integers(), max_size=50), st.integers(min_value=1, max_value=20))
def test_chunks_cover_the_items_in_order_and_respect_the_size(items: list[int], size: int) -> None:
    """Chunks concatenate back to the input and none is larger than the size."""
    chunks = list(chunked(items, size))
    assert [x for chunk in chunks for x in chunk] == items
    assert all(0 < len(chunk) <= size for chunk in chunks)


@given(st.dictionaries(st.integers(min_value=1), st.sampled_from(["a", "b", "c"])))
def test_grouping_by_value_inverts_the_mapping(values: dict[int, str]) -> None:
    """Every record id lands under its value exactly once."""
    groups = group_by_value(values)
    assert {i: v for v, ids in groups.items() for i in ids} == values
    assert all(ids == sorted(ids) for ids in groups.values())


@given(st.lists(st.text(alphabet="ABC123-", min_size=1, max_size=8), max_size=5))
def test_split_refs_reads_back_what_a_join_wrote(refs: list[str]) -> None:
    """Joining references with the separator and splitting gives them back."""
    clean = [r for r in refs if r.strip()]
    assert split_refs(", ".join(clean)) == [r.strip() for r in clean]


def test_split_refs_ignores_odoos_false() -> None:
    """An empty Odoo field arrives as ``False`` and holds no reference."""
    assert split_refs(False) == []


def test_or_domain_uses_prefix_operators() -> None:
    """Three leaves need two ``|``; no leaf matches nothing."""
    leaves = [["a", "=", 1], ["b", "=", 2], ["c", "=", 3]]
    assert or_domain(leaves) == ["|", "|", *leaves]
    assert or_domain([]) == [["id", "=", 0]]


@given(st.text(max_size=300), st.text(max_size=300))
def test_message_ids_are_short_stable_and_distinct(first: str, second: str) -> None:
    """Any event id gives a short valid Message-Id; different ids give different ones."""
    a = message_id_for("event", "carrier", first)
    assert a == message_id_for("event", "carrier", first)
    assert a.startswith("<shipsync.event.")
    assert a.endswith("@shipsync>")
    assert len(a) < 80
    if first != second:
        assert a != message_id_for("event", "carrier", second)


def test_field_map_defaults_follow_odoo_and_oca() -> None:
    """The defaults name Odoo's delivery fields and OCA's delivery_state, mapped canonically."""
    fields = OdooFieldMap()
    assert fields.picking_tracking == "carrier_tracking_ref"
    assert fields.picking_status == "delivery_state"
    assert fields.status_values is None
    assert fields.oca_incident_spelling == "incident"


def test_field_map_rejects_names_that_are_not_odoo_identifiers() -> None:
    """A field name with a domain operator or spaces in it is refused."""
    with pytest.raises(ConfigurationError) as caught:
        OdooFieldMap(picking_status="state', '=', 'done")
    assert caught.value.path == "picking_status"
    assert "done" not in str(caught.value)


def _tracking_event(**extra: object) -> TrackingEvent:
    values: dict[str, object] = {
        "event_id": "e1",
        "shipment_id": "s1",
        "tracking_number": "T<1>",
        "carrier": "acme & co",
        "milestone": Milestone.DELIVERY_ATTEMPTED,
        "occurred_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "recorded_at": datetime(2026, 3, 1, 9, 31, tzinfo=UTC),
        "carrier_code": "DA",
        "carrier_description": "<script>alert(1)</script>",
    }
    values.update(extra)
    return TrackingEvent.model_validate(values)


def test_event_notes_escape_everything_the_carrier_sent() -> None:
    """Carrier text is escaped, so a note can never carry markup from outside."""
    body = event_body(
        _tracking_event(
            reason=Reason.RECIPIENT_ABSENT, location=Location(city="Köln", country="DE")
        )
    )
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert "acme &amp; co T&lt;1&gt;" in body
    assert "Delivery attempted</strong> (recipient absent)" in body
    assert "Köln, DE · 2026-03-01 09:30 UTC" in body


def test_odoo_floats_become_money_in_the_currencys_places() -> None:
    """A float amount is read at the currency's precision; ``False`` is no amount."""
    assert money_from_float(12.3, "USD") == Money.of("12.30", "USD")
    assert money_from_float(1000.0, "JPY") == Money.of("1000", "JPY")
    assert money_from_float(False, "USD") is None
    assert m2o_id([7, "Name"]) == 7
    assert m2o_id(False) is None
    assert m2o_name([7, "Name"]) == "Name"
