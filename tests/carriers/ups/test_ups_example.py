"""examples/ups_to_odoo.py runs in CI on its cassette, end to end."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from shipsync.canonical import Milestone

EXAMPLE = Path(__file__).parents[3] / "examples" / "ups_to_odoo.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ups_to_odoo", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_books_records_tracks_and_reconciles() -> None:
    """Two packages booked, labels on the picking, delivered and validated, invoice settled."""
    result = _load().run()
    assert len(result["tracking_numbers"]) == 2
    assert result["labels"] == 2
    assert result["events"][0] is Milestone.DELIVERED
    assert result["picking_state"] == "done"
    [summary] = result["reconciliation"].invoices
    assert summary.status.value == "settled"
    assert summary.matched_total == result["quoted"]
    assert result["bill"].total == result["invoiced"]


def test_the_example_runs_as_a_script() -> None:
    """``python examples/ups_to_odoo.py`` exits 0 and prints its story."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Odoo picking: done" in done.stdout
