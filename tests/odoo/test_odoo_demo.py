"""The Odoo demo on cassettes recorded against a real Odoo 18 (live with ``ODOO_*`` set)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.cli._demo_odoo import run_odoo_demo
from shipsync.odoo import OdooLogistics, RpcGateway

LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))
TAG_FILE = Path(__file__).parent / "cassettes" / "demo_run_tag.txt"


@pytest.fixture(scope="module")
def tag() -> str:
    """This module's run tag: new when recording, the recorded one in replay."""
    if LIVE:
        value = "demo" + time.strftime("%m%d%H%M%S")
        TAG_FILE.write_text(value + "\n", encoding="utf-8")
        return value
    return TAG_FILE.read_text(encoding="utf-8").strip()


def test_the_demo_takes_its_orders_through_every_stage_in_odoo(
    gateway: RpcGateway, tag: str
) -> None:
    """Two orders: confirmed, booked, notified, tracked, validated, proven, billed."""
    lines: list[str] = []
    report = run_odoo_demo(gateway, orders=2, tag=tag, database="odoo-db", echo=lines.append)
    assert report.stages["sale orders confirmed in Odoo"] == 2
    assert report.stages["order.confirmed events"] == 2
    assert report.stages["pickings booked (label + tracking)"] == 2
    assert report.stages["customers notified (shipment.created)"] == 2
    assert report.stages["deliveries validated in Odoo"] == 2
    assert report.stages["proofs of delivery attached"] == 2
    assert report.stages["invoice lines matched"] >= 1
    assert report.stages["freight charges accrued"] >= 1
    assert report.stages["draft vendor bills"] >= 1
    assert len(lines) == len(report.stages)
    pickings = OdooLogistics(gateway).read_pickings(report.pickings)
    assert [p.state for p in pickings] == ["done", "done"]


def test_the_demo_command_says_which_odoo_variables_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`shipsync demo --odoo` without the ODOO_* variables is a usage error naming them."""
    for name in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["demo", "--odoo"])
    assert result.exit_code == 2
    assert "ODOO_URL" in result.output
