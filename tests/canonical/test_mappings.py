"""Status code tables: EDI X12 214 AT7 and OCA delivery_state, row by row, plus the docs page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipsync.canonical.mappings as mappings
from shipsync.canonical import SORT_RANK, TRANSITIONS, Milestone, Reason, ShipmentStatus
from shipsync.canonical._state import _PROGRESS
from shipsync.canonical.mappings import (
    EDI214_REASON_CODES,
    EDI214_STATUS_CODES,
    OCA_DELIVERY_STATES,
    STATUS_TO_OCA,
    CodeKind,
    MappedStatus,
    OcaIncidentSpelling,
    StatusScheme,
    count_unmapped,
    edi214_reason,
    edi214_status,
    oca_delivery_state,
    read_oca_delivery_state,
)

M = Milestone
R = Reason
S = ShipmentStatus
DOCS_PAGE = Path(__file__).parents[2] / "docs" / "status-transitions.md"


def test_mappings_all_is_pinned() -> None:
    """The public surface of shipsync.canonical.mappings is a deliberate list."""
    assert mappings.__all__ == [
        "EDI214_REASON_CODES",
        "EDI214_STATUS_CODES",
        "OCA_DELIVERY_STATES",
        "STATUS_TO_OCA",
        "CodeKind",
        "MappedStatus",
        "OcaIncidentSpelling",
        "StatusScheme",
        "count_unmapped",
        "edi214_reason",
        "edi214_status",
        "oca_delivery_state",
        "read_oca_delivery_state",
    ]


# --- EDI X12 214 AT701 -------------------------------------------------------------------------

# (AT701 code, milestone or None, kind, the status code's own reason)
EDI_STATUS_CASES: list[tuple[str, Milestone | None, CodeKind, Reason]] = [
    ("XB", M.LABEL_CREATED, CodeKind.MILESTONE, R.NORMAL),
    ("X3", None, CodeKind.INFORMATIONAL, R.NORMAL),
    ("AF", M.PICKED_UP, CodeKind.MILESTONE, R.NORMAL),
    ("CP", M.PICKED_UP, CodeKind.MILESTONE, R.NORMAL),
    ("P1", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("X4", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("R1", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("J1", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("K1", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("AM", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("AN", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("AI", M.IN_TRANSIT, CodeKind.MILESTONE, R.NORMAL),
    ("X6", M.OUT_FOR_DELIVERY, CodeKind.MILESTONE, R.NORMAL),
    ("AJ", M.OUT_FOR_DELIVERY, CodeKind.MILESTONE, R.NORMAL),
    ("AV", M.OUT_FOR_DELIVERY, CodeKind.MILESTONE, R.NORMAL),
    ("X1", M.OUT_FOR_DELIVERY, CodeKind.MILESTONE, R.NORMAL),
    ("X5", M.OUT_FOR_DELIVERY, CodeKind.MILESTONE, R.NORMAL),
    ("AH", M.DELIVERY_ATTEMPTED, CodeKind.MILESTONE, R.NORMAL),
    ("AP", M.DELIVERY_ATTEMPTED, CodeKind.MILESTONE, R.NORMAL),
    ("AW", M.AVAILABLE_FOR_PICKUP, CodeKind.MILESTONE, R.NORMAL),
    ("AU", M.AVAILABLE_FOR_PICKUP, CodeKind.MILESTONE, R.NORMAL),
    ("SD", M.EXCEPTION, CodeKind.MILESTONE, R.DELAYED),
    ("A9", M.EXCEPTION, CodeKind.MILESTONE, R.DAMAGED),
    ("PR", M.EXCEPTION, CodeKind.MILESTONE, R.CUSTOMS_HOLD),
    ("D1", M.DELIVERED, CodeKind.MILESTONE, R.NORMAL),
    ("A7", M.RETURNING_TO_SENDER, CodeKind.MILESTONE, R.REFUSED),
    ("A3", M.RETURNING_TO_SENDER, CodeKind.MILESTONE, R.NORMAL),
    ("CA", M.CANCELLED, CodeKind.MILESTONE, R.NORMAL),
    ("AG", None, CodeKind.ETA, R.NORMAL),
    ("X2", None, CodeKind.ETA, R.NORMAL),
    ("CD", None, CodeKind.INFORMATIONAL, R.NORMAL),
    ("PA", None, CodeKind.INFORMATIONAL, R.NORMAL),
    ("CB", None, CodeKind.INFORMATIONAL, R.NORMAL),
]


def test_every_at701_row_has_a_case() -> None:
    """The case table and the data table name the same codes: a new row needs a test row."""
    assert sorted(code for code, *_ in EDI_STATUS_CASES) == sorted(EDI214_STATUS_CODES)


@pytest.mark.parametrize(
    ("code", "milestone", "kind", "reason"), EDI_STATUS_CASES, ids=[c[0] for c in EDI_STATUS_CASES]
)
def test_at701_row(code: str, milestone: Milestone | None, kind: CodeKind, reason: Reason) -> None:
    """Each AT701 code reads as its milestone (or as no milestone), with its own reason."""
    result = edi214_status(code)
    assert (result.milestone, result.kind, result.reason) == (milestone, kind, reason)
    assert result.scheme is StatusScheme.EDI_214
    assert result.raw_code == code
    assert result.description
    assert result.is_milestone is (milestone is not None)
    assert not result.is_unmapped


def test_d1_is_delivered_and_x1_is_only_arrived() -> None:
    """D1 is the delivery; X1 (arrived at the delivery location) is not."""
    assert edi214_status("D1").milestone is M.DELIVERED
    assert edi214_status("X1").milestone is not M.DELIVERED
    assert edi214_status("X1").milestone in {M.IN_TRANSIT, M.OUT_FOR_DELIVERY}


def test_ag_is_an_eta_and_af_a_pickup() -> None:
    """AG is an estimated delivery, not a milestone; AF (often swapped with it) is the pick-up."""
    eta = edi214_status("AG")
    assert eta.kind is CodeKind.ETA
    assert eta.milestone is None
    assert not eta.is_milestone
    assert edi214_status("AF").milestone is M.PICKED_UP


@pytest.mark.parametrize("code", [" d1 ", "d1", "D1\n"], ids=["padded", "lower", "newline"])
def test_codes_match_case_and_space_insensitively_and_stay_verbatim(code: str) -> None:
    """Lookup forgives case and white space; the raw code is kept exactly as received."""
    result = edi214_status(code)
    assert result.milestone is M.DELIVERED
    assert result.raw_code == code


def test_unknown_at701_maps_to_unknown_with_raw_code_kept() -> None:
    """A code not in the table is unknown, never a guess, and keeps its raw form."""
    result = edi214_status("Q7", "NS")
    assert (result.milestone, result.kind, result.raw_code) == (M.UNKNOWN, CodeKind.UNMAPPED, "Q7")
    assert result.is_unmapped
    assert not result.is_milestone


# --- EDI X12 214 AT702 -------------------------------------------------------------------------

EDI_REASON_CASES: list[tuple[str, Reason]] = [
    ("NS", R.NORMAL),
    ("A1", R.MISSED_DELIVERY),
    ("A2", R.ADDRESS_ISSUE),
    ("A5", R.ADDRESS_ISSUE),
    ("AA", R.MIS_SORT),
    ("AD", R.CUSTOMER_REQUESTED_FUTURE_DELIVERY),
    ("AF", R.ACCIDENT),
    ("AG", R.CONSIGNEE_RELATED),
    ("AH", R.CARRIER_RELATED),
    ("AI", R.CARRIER_RELATED),
    ("AM", R.SHIPPER_RELATED),
    ("AN", R.HOLIDAY_OR_CLOSED),
    ("AO", R.WEATHER),
    ("AQ", R.RECIPIENT_ABSENT),
    ("AR", R.CUSTOMS_HOLD),
    ("AS", R.CUSTOMS_HOLD),
    ("B1", R.HOLIDAY_OR_CLOSED),
    ("B4", R.HELD_FOR_PAYMENT),
    ("B5", R.HELD_AT_REQUEST),
    ("BB", R.HELD_AT_REQUEST),
    ("BC", R.MISSING_DOCUMENTS),
    ("BD", R.CUSTOMS_HOLD),
    ("BG", R.OTHER),
    ("C1", R.AWAITING_PICKUP),
    ("C2", R.HELD_FOR_PAYMENT),
    ("C8", R.HELD_FOR_PAYMENT),
    ("CA", R.CUSTOMS_HOLD),
]


def test_every_at702_row_has_a_case() -> None:
    """The reason case table and the data table name the same codes."""
    assert sorted(code for code, _ in EDI_REASON_CASES) == sorted(EDI214_REASON_CODES)


@pytest.mark.parametrize(("code", "reason"), EDI_REASON_CASES, ids=[c[0] for c in EDI_REASON_CASES])
def test_at702_row(code: str, reason: Reason) -> None:
    """Each AT702 code reads as its reason, alone and beside a status code."""
    assert edi214_reason(code) is reason
    paired = edi214_status("AH", code)
    assert paired.milestone is M.DELIVERY_ATTEMPTED
    assert paired.reason is reason
    assert paired.raw_reason == code


def test_status_reason_applies_when_at702_is_normal_or_absent() -> None:
    """A9 is damaged by itself; NS or a blank AT702 does not hide that, a specific AT702 wins."""
    assert edi214_status("A9").reason is R.DAMAGED
    assert edi214_status("A9", "NS").reason is R.DAMAGED
    assert edi214_status("A9", "  ").reason is R.DAMAGED
    assert edi214_status("A9", "AO").reason is R.WEATHER


def test_unknown_at702_is_unknown_reason_and_counted() -> None:
    """An AT702 code not in the table gives Reason.UNKNOWN and is counted as unmapped."""
    result = edi214_status("SD", "ZZ")
    assert result.milestone is M.EXCEPTION
    assert result.reason is R.UNKNOWN
    assert result.raw_reason == "ZZ"
    assert result.is_unmapped
    assert edi214_reason("zz") is R.UNKNOWN


def test_count_unmapped() -> None:
    """count_unmapped tallies unknown status codes and unknown reason codes per scheme."""
    results = [
        edi214_status("D1"),
        edi214_status("Q7"),
        edi214_status("q7"),
        edi214_status("Q7"),
        edi214_status("SD", "ZZ"),
        edi214_status("AG"),
        read_oca_delivery_state("teleported"),
        read_oca_delivery_state("incidence"),
    ]
    assert count_unmapped(results) == {
        (StatusScheme.EDI_214, "Q7"): 2,
        (StatusScheme.EDI_214, "q7"): 1,
        (StatusScheme.EDI_214, "SD/ZZ"): 1,
        (StatusScheme.OCA_DELIVERY_STATE, "teleported"): 1,
    }


@given(st.text(max_size=300), st.none() | st.text(max_size=300))
def test_any_edi_input_maps_without_raising(status: str, reason: str | None) -> None:
    """Whatever a partner sends, reading it never raises and keeps the raw code."""
    result = edi214_status(status, reason)
    assert result.raw_code == status[:200]
    if result.kind is CodeKind.UNMAPPED:
        assert result.milestone is M.UNKNOWN


# --- OCA delivery_state ------------------------------------------------------------------------

# (delivery_state value, canonical status, direction): "both" rows are round-trip contracts.
OCA_CASES: list[tuple[str | None, ShipmentStatus, str]] = [
    ("shipping_recorded_in_carrier", S.LABEL_CREATED, "both"),
    ("in_transit", S.IN_TRANSIT, "both"),
    ("in_transit", S.PICKED_UP, "write"),
    ("in_transit", S.OUT_FOR_DELIVERY, "write"),
    ("in_transit", S.AVAILABLE_FOR_PICKUP, "write"),
    ("in_transit", S.PARTIALLY_DELIVERED, "write"),
    ("canceled_shipment", S.CANCELLED, "both"),
    ("incident", S.EXCEPTION, "both"),
    ("incidence", S.EXCEPTION, "read"),
    ("incident", S.DELIVERY_ATTEMPTED, "write"),
    ("incident", S.RETURNING_TO_SENDER, "write"),
    ("incident", S.LOST, "write"),
    ("customer_delivered", S.DELIVERED, "both"),
    ("warehouse_delivered", S.RETURNED, "both"),
    ("no_update", S.UNKNOWN, "read"),
    (None, S.UNKNOWN, "write"),
]
READ_CASES = [(v, s) for v, s, d in OCA_CASES if d in ("read", "both") and v is not None]
WRITE_CASES = [(v, s) for v, s, d in OCA_CASES if d in ("write", "both")]


def test_oca_case_table_covers_both_tables() -> None:
    """Every readable value and every writable status has a case row."""
    assert sorted(v for v, _ in READ_CASES) == sorted(OCA_DELIVERY_STATES)
    assert sorted(s.value for _, s in WRITE_CASES) == sorted(s.value for s in ShipmentStatus)
    assert set(STATUS_TO_OCA) == set(ShipmentStatus)


@pytest.mark.parametrize(("value", "status"), READ_CASES, ids=[v for v, _ in READ_CASES])
def test_read_oca(value: str, status: ShipmentStatus) -> None:
    """Each delivery_state value reads as its milestone, raw value kept."""
    result = read_oca_delivery_state(value)
    assert result.milestone is M(status.value)
    assert result.kind is CodeKind.MILESTONE
    assert result.scheme is StatusScheme.OCA_DELIVERY_STATE
    assert result.raw_code == value


@pytest.mark.parametrize(("value", "status"), WRITE_CASES, ids=[s.value for _, s in WRITE_CASES])
def test_write_oca(value: str | None, status: ShipmentStatus) -> None:
    """Each status writes its delivery_state (16.0+ spelling by default); milestones too."""
    assert oca_delivery_state(status) == value
    if status is not S.PARTIALLY_DELIVERED:
        assert oca_delivery_state(M(status.value)) == value


@pytest.mark.parametrize("spelling", ["incident", "incidence"])
def test_both_incident_spellings_read_as_exception(spelling: str) -> None:
    """16.0+ 'incident' and 15.0 'incidence' are both read, as exception."""
    assert read_oca_delivery_state(spelling).milestone is M.EXCEPTION


def test_incident_spelling_option_when_writing() -> None:
    """Writing uses 'incident' unless the host asks for the 15.0 spelling."""
    for status in (S.EXCEPTION, S.DELIVERY_ATTEMPTED, S.RETURNING_TO_SENDER, S.LOST):
        assert oca_delivery_state(status) == "incident"
        assert oca_delivery_state(status, spelling=OcaIncidentSpelling.INCIDENCE) == "incidence"
    assert oca_delivery_state(S.DELIVERED, spelling=OcaIncidentSpelling.INCIDENCE) == (
        "customer_delivered"
    )


def test_round_trip_rows_round_trip() -> None:
    """For every two-way row, write(read(value)) gives the value back, in either spelling."""
    for value, status in READ_CASES:
        if (value, status, "both") not in OCA_CASES:
            continue
        milestone = read_oca_delivery_state(value).milestone
        assert milestone is not None
        assert oca_delivery_state(milestone) == value
    legacy = read_oca_delivery_state("incidence").milestone
    assert legacy is M.EXCEPTION
    assert oca_delivery_state(legacy, spelling=OcaIncidentSpelling.INCIDENCE) == "incidence"


def test_unknown_oca_value_is_unknown_with_raw_kept() -> None:
    """A delivery_state value OCA may add later parses as unknown, never crashes."""
    result = read_oca_delivery_state("Teleported")
    assert (result.milestone, result.kind, result.raw_code) == (
        M.UNKNOWN,
        CodeKind.UNMAPPED,
        "Teleported",
    )
    assert read_oca_delivery_state(" Customer_Delivered ").milestone is M.DELIVERED


def test_mapped_status_is_a_frozen_canonical_model() -> None:
    """A mapping result serialises and reads back equal."""
    result = edi214_status("A7", "AQ")
    assert MappedStatus.model_validate_json(result.model_dump_json()) == result


# --- the docs page -----------------------------------------------------------------------------


def _transitions_markdown() -> str:
    lines = [
        "| current | progress rank | may be followed by |",
        "|---|---|---|",
    ]
    order = sorted(Milestone, key=lambda m: SORT_RANK[m])
    for current in order:
        targets = sorted(TRANSITIONS[current], key=lambda m: SORT_RANK[m])
        name = "(nothing yet)" if current is M.UNKNOWN else f"`{current.value}`"
        rank = "base's" if current is M.EXCEPTION else str(_PROGRESS[current])
        allowed = ", ".join(f"`{t.value}`" for t in targets) or "nothing"
        lines.append(f"| {name} | {rank} | {allowed} |")
    return "\n".join(lines)


def _edi_markdown() -> str:
    lines = ["| AT701 | meaning | milestone | reason |", "|---|---|---|---|"]
    for code, row in EDI214_STATUS_CODES.items():
        milestone = f"`{row.milestone.value}`" if row.milestone else f"none ({row.kind.value})"
        lines.append(f"| `{code}` | {row.description} | {milestone} | `{row.reason.value}` |")
    lines += ["", "| AT702 | reason |", "|---|---|"]
    lines += [f"| `{code}` | `{reason.value}` |" for code, reason in EDI214_REASON_CODES.items()]
    return "\n".join(lines)


def _oca_markdown() -> str:
    lines = ["| `delivery_state` | read as |", "|---|---|"]
    lines += [f"| `{value}` | `{m.value}` |" for value, m in OCA_DELIVERY_STATES.items()]
    lines += ["", "| shipsync status | written as (16.0+) |", "|---|---|"]
    for status, value in STATUS_TO_OCA.items():
        lines.append(f"| `{status.value}` | {f'`{value}`' if value else 'nothing'} |")
    return "\n".join(lines)


GENERATED = {
    "transitions": _transitions_markdown,
    "edi214": _edi_markdown,
    "oca": _oca_markdown,
}


def _render(page: str) -> str:
    for name, make in GENERATED.items():
        begin, end = f"<!-- BEGIN GENERATED {name} -->", f"<!-- END GENERATED {name} -->"
        head, rest = page.split(begin, 1)
        _, tail = rest.split(end, 1)
        page = f"{head}{begin}\n{make()}\n{end}{tail}"
    return page


def test_docs_page_matches_the_tables() -> None:
    """docs/status-transitions.md shows the tables as the code has them.

    Run with SHIPSYNC_UPDATE_DOCS=1 to rewrite the generated blocks.
    """
    page = DOCS_PAGE.read_text(encoding="utf-8")
    expected = _render(page)
    if os.environ.get("SHIPSYNC_UPDATE_DOCS") == "1":
        DOCS_PAGE.write_text(expected, encoding="utf-8")
    assert page == expected
