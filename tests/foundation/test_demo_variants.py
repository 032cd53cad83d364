"""The demo's variants run through the top-level ``shipsync`` group."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from shipsync.cli import main


def test_demo_parallel_run_finds_exactly_the_injected_divergences() -> None:
    """`shipsync demo --parallel-run` prints the report and checks it against the faults."""
    result = CliRunner().invoke(main, ["demo", "--parallel-run", "-n", "60", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "shipsync in shadow mode" in result.output
    assert "check: the report found exactly the" in result.output
    assert "NOT ready for cutover" in result.output


def test_demo_notify_delivers_every_notification_once_across_an_outage() -> None:
    """`shipsync demo --notify` sends through a local endpoint and SMTP server, outage included."""
    result = CliRunner().invoke(main, ["demo", "--notify", "-n", "6"])
    assert result.exit_code == 0, result.output


def test_demo_control_tower_serves_and_fills_the_monitor(tmp_path: Path) -> None:
    """`shipsync demo --control-tower` serves the tower and its monitor sees every shipment."""
    from shipsync.monitor import MonitorStore

    work = tmp_path / "work"
    result = CliRunner().invoke(
        main, ["demo", "--control-tower", "-n", "8", "--work-dir", str(work)]
    )
    assert result.exit_code == 0, result.output
    assert "control tower: http://127.0.0.1:" in result.output
    assert "carrier health (fake): " in result.output  # the tower's health tile was fed
    assert "breaker closed" in result.output
    store = MonitorStore(work / "monitor.db")
    try:
        assert store.indicators().shipments == 8
    finally:
        store.close()
