"""The shipsync command: version, lazy subsystem commands, schema export."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import shipsync
from shipsync.canonical import default_catalogue
from shipsync.cli import main
from shipsync.cli._extras import requires
from shipsync.cli._main import _load


def test_version_prints_the_package_version() -> None:
    """`shipsync --version` prints the installed version."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"shipsync, version {shipsync.__version__}"


def test_help_lists_every_command() -> None:
    """Subsystem commands are listed even though they load only when used."""
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("demo", "schema"):
        assert name in result.output


def test_unknown_command_fails_cleanly() -> None:
    """An unknown command is a usage error (exit 2), not a traceback."""
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_schema_export_writes_one_schema_per_event_type(tmp_path: Path) -> None:
    """`shipsync schema export DIR` writes a JSON Schema for every catalogued event type."""
    result = CliRunner().invoke(main, ["schema", "export", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "schemas").glob("*.schema.json"))
    assert len(written) == len(default_catalogue.types)
    for path in written:
        schema = json.loads(path.read_text())
        assert schema["$id"].startswith("https://")


def test_timeline_demo_prints_a_timeline_and_passes_its_checks() -> None:
    """`shipsync demo --timeline` folds messy feeds, prints timelines and a summary, and exits 0."""
    result = CliRunner().invoke(main, ["demo", "--timeline", "--shipments", "30", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "SHP-00001:" in result.output
    assert "partially_delivered" in result.output
    assert "[ok] shuffled feed folds to the same state as the clean feed" in result.output
    assert "FAILED" not in result.output


def test_a_command_that_cannot_load_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table command whose module fails to import is listed as unavailable, with the error."""
    monkeypatch.setitem(main.commands, "broken", _load("broken", "shipsync.no_such_module:cmd"))
    listing = CliRunner().invoke(main, ["--help"])
    assert listing.exit_code == 0
    assert "unavailable" in listing.output
    result = CliRunner().invoke(main, ["broken"])
    assert result.exit_code == 1
    assert "the 'broken' command cannot run: ModuleNotFoundError" in result.output


def test_a_command_whose_extra_is_missing_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command marked requires() is unavailable, naming the extra, when a module is absent."""

    @requires("server", "shipsync_no_such_module")
    @click.command("needy")
    def needy() -> None:
        """Never runs."""

    monkeypatch.setitem(main.commands, "needy", needy)
    listing = CliRunner().invoke(main, ["--help"])
    assert "(unavailable: needs the 'server' extra" in listing.output
    result = CliRunner().invoke(main, ["needy"])
    assert result.exit_code == 1
    assert "pip install 'shipsync[server]'" in result.output


def test_demo_runs_end_to_end_and_passes_its_checks() -> None:
    """`shipsync demo` (the README's first command) runs the whole loop and exits 0."""
    result = CliRunner().invoke(main, ["demo", "--shipments", "8", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "[ok] no event lost" in result.output
    assert "[ok] no event applied twice" in result.output
    assert "[FAIL]" not in result.output
