"""Shadow mode and the parallel run: a faulty legacy connector beside shipsync on one feed.

The world: a memory Odoo with one picking per shipment of the synthetic parcel world, a carrier
feed whose deliveries arrive duplicated and out of order, and one invoice per day. The legacy
connector (with its faults) writes into Odoo for real; shipsync runs ``OdooLogistics`` unchanged
through a ``ShadowGateway``. The report must find exactly the divergences the faults injected.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipsync.canonical import (
    Money,
    TrackingEvent,
)
from shipsync.errors import MigrationInputError
from shipsync.migration import (
    Category,
    ColumnMapping,
    Explanation,
    ExportProblem,
    Readiness,
    legacy_side_from_odoo,
    legacy_side_from_rows,
    note_class,
    parallel_run,
    read_export,
    shipsync_side,
)
from shipsync.odoo import READ_METHODS, OdooLogistics, ShadowGateway, SQLiteShadowRecorder
from shipsync.testing.legacy import (
    FaultyLegacyConnector,
    LegacyFaults,
    feed,
    legacy_note,
    sample_invoices,
)
from shipsync.testing.odoo import MemoryOdoo

PICKING_FIELDS = ["name", "state", "company_id", "carrier_tracking_ref", "delivery_state"]


class Counting:
    """A gateway that counts the methods that reach the server."""

    def __init__(self, inner: MemoryOdoo) -> None:
        self.inner = inner
        self.methods: Counter[str] = Counter()

    @property
    def server_version(self) -> tuple[int, int]:
        return self.inner.server_version

    @property
    def uid(self) -> int:
        return self.inner.uid

    @property
    def round_trips(self) -> int:
        return sum(self.methods.values())

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        self.methods[method] += 1
        return self.inner.call(model, method, args, kwargs)


@pytest.fixture(scope="module")
def parallel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both systems run on the same feed and invoices; what each left, and the truth."""
    odoo = MemoryOdoo({"stock.picking": PICKING_FIELDS})
    vendor = odoo.insert("res.partner", {"name": "Swiftpost Ltd"})
    arrival, pickings = feed(5, 400)
    for number, name in sorted(pickings.items()):
        odoo.insert(
            "stock.picking",
            {"name": name, "state": "assigned", "carrier_tracking_ref": number, "company_id": 1},
        )
    invoices = sample_invoices(pickings, random.Random(9))
    since = datetime.now(UTC) - timedelta(minutes=1)

    legacy = FaultyLegacyConnector(odoo, LegacyFaults())
    for event in arrival:
        legacy.receive(event)
    for invoice in invoices:
        legacy.bill(invoice, vendor_id=vendor, currency_id=1)

    counting = Counting(odoo)
    recorder = SQLiteShadowRecorder(tmp_path_factory.mktemp("shadow") / "shadow.sqlite")
    shadow = ShadowGateway(counting, recorder, run="parallel-1")
    logistics = OdooLogistics(shadow)
    for start in range(0, len(arrival), 50):
        logistics.apply_events(arrival[start : start + 50])
    for invoice in invoices:
        logistics.create_vendor_bill(invoice, vendor_id=vendor)

    ours = shipsync_side(recorder.writes(run="parallel-1"), odoo)
    theirs = legacy_side_from_odoo(odoo, since=since, until=datetime.now(UTC) + timedelta(1))
    report = parallel_run(ours, theirs, readiness=Readiness(consecutive_days=1))
    return {
        "odoo": odoo,
        "counting": counting,
        "shadow": shadow,
        "legacy": legacy,
        "report": report,
        "ours": ours,
        "theirs": theirs,
        "recorder": recorder,
    }


def _found(report: Any) -> set[tuple[str, str]]:
    return {(d.category.value, d.key) for d in report.divergences}


def test_no_write_request_leaves_the_process_in_shadow_mode(parallel: dict[str, Any]) -> None:
    """Only read methods reached the server; every write became a recorded intention."""
    methods = parallel["counting"].methods
    assert set(methods) <= READ_METHODS
    assert methods["search_read"] + methods["read"] > 0
    assert parallel["shadow"].intended > 0
    kinds = Counter((w.model, w.method) for w in parallel["recorder"].writes())
    assert kinds[("mail.message", "create")] > 0
    assert kinds[("account.move", "create")] == len(parallel["ours"].bills)


def test_the_report_finds_exactly_the_injected_divergences(parallel: dict[str, Any]) -> None:
    """Precision and recall 1.0: every injected fault is found, nothing else is reported."""
    injected = parallel["legacy"].injected()
    found = {f for f in _found(parallel["report"]) if f[0] != "timing"}
    assert {c for c, _ in injected} == {"status", "notes", "amount"}  # every fault showed up
    assert found == injected


def test_divergences_carry_the_known_causes(parallel: dict[str, Any]) -> None:
    """Regressions, missed duplicates, missed events and float rounding are named as such."""
    report = parallel["report"]
    causes = {d.explanation for d in report.divergences}
    assert Explanation.LEGACY_REGRESSED in causes
    assert Explanation.LEGACY_MISSED_DUPLICATE in causes
    assert Explanation.LEGACY_MISSED_EVENT in causes
    amounts = [d for d in report.divergences if d.category is Category.AMOUNT]
    assert amounts
    assert all(d.explanation is Explanation.LEGACY_FLOAT_ROUNDING for d in amounts)
    assert not report.ready


def test_a_faultless_legacy_agrees_and_is_ready(tmp_path: Path) -> None:
    """With the faults switched off, the report is empty and cutover is ready."""
    odoo = MemoryOdoo({"stock.picking": PICKING_FIELDS})
    arrival, pickings = feed(6, 60)
    for number, name in sorted(pickings.items()):
        odoo.insert("stock.picking", {"name": name, "carrier_tracking_ref": number})
    since = datetime.now(UTC) - timedelta(minutes=1)
    legacy = FaultyLegacyConnector(
        odoo,
        LegacyFaults(
            regress_out_of_order=False, duplicate_notes=False, drop_every=None, float_amounts=False
        ),
    )
    for event in sorted(arrival, key=lambda e: e.occurred_at):
        legacy.receive(event)
    with SQLiteShadowRecorder(tmp_path / "s.sqlite") as recorder:
        OdooLogistics(ShadowGateway(odoo, recorder)).apply_events(arrival)
        ours = shipsync_side(recorder.writes(), odoo)
    theirs = legacy_side_from_odoo(odoo, since=since, until=datetime.now(UTC) + timedelta(1))
    report = parallel_run(ours, theirs, readiness=Readiness(consecutive_days=1))
    assert legacy.injected() == set()
    assert [d for d in report.divergences if d.category is not Category.TIMING] == []
    assert report.ready


def test_report_formats(parallel: dict[str, Any], tmp_path: Path) -> None:
    """Table, JSON, CSV and a static HTML page tell the same totals."""
    report = parallel["report"]
    data = json.loads(report.to_json())
    assert data["by_category"] == report.by_category
    assert len(data["divergences"]) == len(report.divergences)
    assert report.to_csv().count("\n") == len(report.divergences) + 1
    page = report.to_html()
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "NOT ready for cutover" in report.table()


def test_notes_are_compared_by_what_they_say() -> None:
    """shipsync's HTML note and the legacy's plain note about one scan are of one class."""
    event = TrackingEvent(
        event_id="e1",
        shipment_id="S1",
        tracking_number="T1",
        carrier="c",
        milestone="out_for_delivery",  # type: ignore[arg-type]
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        carrier_code="OD",
    )
    from shipsync.odoo._render import event_body

    assert note_class(event_body(event)) == note_class(legacy_note(event)) == "out_for_delivery"
    assert note_class("nothing here") == "other"


def test_exports_with_a_mapping_and_their_bad_rows(tmp_path: Path) -> None:
    """A CSV export is read through a column mapping; bad rows are typed errors or reported."""
    csv_file = tmp_path / "legacy.csv"
    csv_file.write_text(
        "name,state,when,inv,trk,what,amt,cur\n"
        "WH/OUT/1,in_transit,2026-01-02T10:00:00+00:00,,,,,\n"
        "WH/OUT/2,customer_delivered,2026-01-02T11:00:00+01:00,INV-1,T2,fuel,0.28,EUR\n"
        "WH/OUT/3,in_transit,2026-01-02T12:00:00,,,,,\n"
        ",,,INV-1,T3,fuel,1.0,USD\n"
        ",,,INV-1,T2,fuel,0.30,EUR\n"
        ",,,INV-2,T4,fuel,1e3,EUR\n"
    )
    mapping = ColumnMapping(
        picking="name",
        status="state",
        updated_at="when",
        tracking=None,
        notes=None,
        carrier=None,
        invoice="inv",
        line_tracking="trk",
        charge="what",
        amount="amt",
        currency="cur",
    )
    problems: list[ExportProblem] = []
    side = read_export(csv_file, mapping, problems=problems)
    assert side.pickings["WH/OUT/2"].updated_at == datetime(2026, 1, 2, 10, tzinfo=UTC)
    assert side.bills["INV-1"].lines[("T2", "fuel")] == Money.of("0.28", "EUR")
    assert [p.row for p in problems] == [3, 4, 5, 6]
    assert "no UTC offset" in problems[0].message
    assert "mixes EUR and USD" in problems[1].message
    assert "repeats the line" in problems[2].message
    assert "not a plain decimal" in problems[3].message
    with pytest.raises(MigrationInputError, match="no UTC offset"):
        read_export(csv_file, mapping)
    with pytest.raises(MigrationInputError, match="unknown column"):
        legacy_side_from_rows([{"picking": "A", "colour": "red"}])
    json_file = tmp_path / "legacy.json"
    json_file.write_text('{"not": "a list"}')
    with pytest.raises(MigrationInputError, match="list of objects"):
        read_export(json_file)
    json_file.write_text("[{")
    with pytest.raises(MigrationInputError, match="not valid JSON"):
        read_export(json_file)


def test_status_values_that_mean_the_same_agree_and_packages_are_explained() -> None:
    """OCA's in_transit agrees with shipsync's out-for-delivery value; a lost package is named."""
    from shipsync.migration import PickingSide, Side, compare

    ours, theirs = Side("shipsync"), Side("legacy")
    ours.pickings["P1"] = PickingSide(
        "P1", status=None, status_raw="in_transit", tracking_numbers=frozenset({"A", "B"})
    )
    theirs.pickings["P1"] = PickingSide("P1", status_raw="in_transit", tracking_numbers={"A"})  # type: ignore[arg-type]
    divergences, _ = compare(ours, theirs)
    assert [(d.category, d.explanation) for d in divergences] == [
        (Category.PACKAGES, Explanation.LEGACY_MISSED_PACKAGE)
    ]


def test_readiness_needs_enough_good_days() -> None:
    """Too few days compared, or agreement under the bar: not ready, and the report says why."""
    from shipsync.migration import build_report

    report = build_report([], {"pickings": 10}, status_days={date(2026, 1, 1): 10})
    assert not report.ready
    assert "only 1 day(s) compared" in report.reasons[0]


def test_parallel_run_command_through_the_shipsync_group(
    parallel: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`shipsync parallel-run` reads a shadow record and an export keyed by picking id."""
    from click.testing import CliRunner

    from shipsync.cli import main

    for name in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    odoo: MemoryOdoo = parallel["odoo"]
    theirs = parallel["theirs"]
    by_name = {row["name"]: pid for pid, row in odoo.tables["stock.picking"].items()}
    export = tmp_path / "legacy.csv"
    lines = ["picking,status,updated_at"]
    for name, picking in sorted(theirs.pickings.items()):
        lines.append(f"{by_name[name]},{picking.status_raw or ''},")
    export.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "parallel-run",
            "--shadow",
            str(parallel["recorder"].path),
            "--legacy-export",
            str(export),
            "--currency",
            "1=EUR",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 3, result.output  # not ready: the legacy side has faults
    data = json.loads(result.output)
    statuses = {k for c, k in parallel["legacy"].injected() if c == "status"}
    assert data["by_category"]["status"] == len(statuses)
    result = runner.invoke(main, ["parallel-run", "--shadow", str(parallel["recorder"].path)])
    assert result.exit_code == 2
    assert "exactly one of --legacy-export and --legacy-odoo" in result.output
    monkeypatch.setenv("ODOO_URL", "http://127.0.0.1:1")
    result = runner.invoke(
        main,
        ["parallel-run", "--shadow", str(parallel["recorder"].path), "--legacy-odoo"],
    )
    assert result.exit_code == 1
    assert "ODOO_DB, ODOO_USER, ODOO_PASSWORD" in result.output


@pytest.mark.services
def test_the_shadow_record_on_postgresql(postgres_dsn: str) -> None:
    """The PostgreSQL recorder keeps each intended write once, in order, per run."""
    import uuid

    from shipsync.odoo import PostgresShadowRecorder

    table = f"shadow_{uuid.uuid4().hex[:8]}"
    odoo = MemoryOdoo({"stock.picking": PICKING_FIELDS})
    picking = odoo.insert("stock.picking", {"name": "WH/OUT/1", "carrier_tracking_ref": "T1"})
    with PostgresShadowRecorder(postgres_dsn, table=table) as recorder:
        shadow = ShadowGateway(odoo, recorder, run="pg")
        shadow.call("stock.picking", "write", [[picking], {"delivery_state": "in_transit"}])
        shadow.call("stock.picking", "write", [[picking], {"delivery_state": "in_transit"}])
        shadow.call("stock.picking", "write", [[picking], {"delivery_state": "customer_delivered"}])
        writes = list(recorder.writes("pg"))
        assert [w.args[1]["delivery_state"] for w in writes] == ["in_transit", "customer_delivered"]
        assert list(recorder.writes("other")) == []
        recorder._conn.execute(f"DROP TABLE {table}")
    assert odoo.tables["stock.picking"][picking].get("delivery_state") in (None, False)
