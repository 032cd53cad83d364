"""``shipsync demo --tenants N`` runs several tenants at once and proves they stay apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from shipsync.cli import main

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")


def test_two_tenants_run_at_once_and_every_check_passes() -> None:
    """Through the top-level group: two tenants book the same ids under the same keys, their
    webhooks arrive duplicated and reordered, and every per-tenant check passes (exit 0)."""
    result = CliRunner().invoke(main, ["demo", "--tenants", "2", "--shipments", "6"])
    assert result.exit_code == 0, result.output
    assert "2 tenants x 6 shipments" in result.output
    assert "[FAIL]" not in result.output
    for check in (
        "nothing crossed over",
        "a delivery signed for one tenant is refused on another's (400)",
        "an unknown tenant is refused (404)",
    ):
        assert f"[ok] {check}" in result.output


def test_the_work_directory_holds_each_tenants_own_tables(tmp_path: Path) -> None:
    """With --work-dir the directory is kept, and the one SQLite file holds an event log and a
    dead letter table per tenant, and a monitor file per tenant."""
    import sqlite3

    work = tmp_path / "work"
    args = ["demo", "--tenants", "2", "-n", "3", "--work-dir", str(work)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"work directory kept: {work.resolve()}" in result.output
    with sqlite3.connect(work / "flows.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    for tenant_id in ("acme", "globex"):
        assert f"shipsync_events_{tenant_id}" in tables
        assert f"shipsync_dlq_{tenant_id}" in tables
        assert (work / f"monitor_{tenant_id}.db").exists()


def test_a_tenant_count_out_of_range_is_a_usage_error() -> None:
    """--tenants 0 is refused by the option itself."""
    result = CliRunner().invoke(main, ["demo", "--tenants", "0"])
    assert result.exit_code == 2
    assert "--tenants" in result.output
