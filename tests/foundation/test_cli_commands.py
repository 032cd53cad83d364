"""``shipsync --help`` lists every command, and none is unavailable when its extra is installed."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.cli._extras import missing_extra

SHIPSYNC = str(Path(sys.executable).with_name("shipsync"))
EXPECTED = {"carriers", "demo", "dlq", "fake-carrier", "reconcile", "schema", "webhook"}


def _listed() -> dict[str, str]:
    out = subprocess.run(
        [SHIPSYNC, "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    section = out.split("Commands:", 1)[1]
    return dict(re.findall(r"^  (\S+)\s+(.*)$", section, re.M))


def test_help_lists_every_command_and_none_is_unavailable() -> None:
    """Every registered command is listed by the executable, and none says '(unavailable'."""
    listed = _listed()
    assert set(main.commands) <= set(listed)
    assert set(listed) >= EXPECTED
    unavailable = {name: text for name, text in listed.items() if "unavailable" in text}
    assert unavailable == {}


def test_every_command_marked_with_an_extra_names_modules_that_are_installed() -> None:
    """Commands that need an extra find its modules here (dev installs every extra)."""
    for name, command in main.commands.items():
        assert isinstance(command, click.Command)
        assert missing_extra(command) is None, name
    assert importlib.util.find_spec("uvicorn") is not None


def test_every_command_s_help_runs() -> None:
    """``shipsync <command> --help`` exits 0 for each command and sub-command (top-level group;
    the docs tests run the shown ones through the executable)."""

    def paths(command: click.Command, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [prefix]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += paths(sub, (*prefix, name))
        return found

    for path in paths(main, ())[1:]:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "unavailable" not in result.output, path


def test_help_imports_no_database_driver_or_server() -> None:
    """``shipsync --help`` loads the command modules but not psycopg, redis or uvicorn."""
    code = (
        "import sys; from shipsync.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('psycopg', 'redis', 'uvicorn', 'starlette', 'aio_pika', "
        "'odoorpc', 'shipsync.flows', 'shipsync.settlement') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
