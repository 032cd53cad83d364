"""``shipsync status`` prints the store's indicators, as a table and as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from shipsync.cli import main
from shipsync.flows import SQLiteDeadLetters
from shipsync.monitor import MonitorStore, SlaPolicy

from .conftest import Populated


def _at(populated: Populated) -> str:
    return datetime.fromtimestamp(populated.now, UTC).isoformat()


def test_status_json_equals_the_store_indicators(populated: Populated) -> None:
    """``--json`` prints exactly what ``MonitorStore.indicators`` computes for the same moment."""
    result = CliRunner().invoke(
        main,
        [
            "status",
            "--store",
            str(populated.store),
            "--dead-letters",
            str(populated.events),
            "--at",
            _at(populated),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    store = MonitorStore(populated.store)
    letters = SQLiteDeadLetters(populated.events)
    try:
        expected = store.indicators(SlaPolicy(), now=populated.now, dead_letters=letters)
    finally:
        store.close()
        letters.close()
    assert printed == json.loads(json.dumps(expected.as_json()))
    assert printed["shipments"] == populated.shipments
    assert printed["dead_letters"]["open"] > 0


def test_status_table_lists_every_status_and_service_level(populated: Populated) -> None:
    """The table names each status with its count and each service level."""
    result = CliRunner().invoke(
        main, ["status", "--store", str(populated.store), "--at", _at(populated)]
    )
    assert result.exit_code == 0, result.output
    store = MonitorStore(populated.store)
    try:
        counts = store.status_counts()
    finally:
        store.close()
    for name, count in counts.items():
        assert any(line.split() == [name, str(count)] for line in result.output.splitlines())
    for kind in ("label_wait", "stale_feed", "late_delivery", "missing_pod"):
        assert kind in result.output


def test_status_refuses_bad_input_with_a_clear_message(
    populated: Populated, tmp_path: Path
) -> None:
    """A missing store, a naive time and a bad policy file each end with a message, not a trace."""
    runner = CliRunner()
    missing = runner.invoke(main, ["status", "--store", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1
    assert "no monitor store" in missing.output
    naive = runner.invoke(main, ["status", "--store", str(populated.store), "--at", "2026-01-01"])
    assert naive.exit_code == 2
    assert "offset" in naive.output
    bad = tmp_path / "policy.json"
    bad.write_text('{"stale_feed": "soon"}')
    refused = runner.invoke(main, ["status", "--store", str(populated.store), "--policy", str(bad)])
    assert refused.exit_code == 1
    assert "stale_feed" in refused.output
