"""``shipsync --help`` lists every command, and none is unavailable when its extra is installed."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.cli._extras import missing_extra
from shipsync.cli._main import _LAZY_COMMANDS, _NEEDS, _SHORT_HELP

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
    assert set(main.list_commands(click.Context(main))) == set(listed)
    assert set(_LAZY_COMMANDS) | {"schema"} == set(listed)
    assert set(listed) >= EXPECTED
    unavailable = {name: text for name, text in listed.items() if "unavailable" in text}
    assert unavailable == {}


def test_every_command_marked_with_an_extra_names_modules_that_are_installed() -> None:
    """Commands that need an extra find its modules here (dev installs every extra)."""
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
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

    ctx = click.Context(main)
    top = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    found = [path for name, sub in top.items() if sub is not None for path in paths(sub, (name,))]
    assert {path[0] for path in found} == set(_LAZY_COMMANDS) | {"schema"}
    for path in found:
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


def _loaded(name: str) -> click.Command:
    command = main.get_command(click.Context(main), name)
    assert command is not None, name
    return command


@pytest.mark.parametrize("name", sorted(_LAZY_COMMANDS))
def test_the_help_table_says_what_the_command_says(name: str) -> None:
    """``--help`` lists each lazy command with its own short help at any width, without loading it,
    and ``_NEEDS`` names the extra its ``requires()`` mark names."""
    command = _loaded(name)
    assert name in _SHORT_HELP, f"add {name!r} to _SHORT_HELP in shipsync/cli/_main.py"
    stand_in = click.Command(name, help=_SHORT_HELP[name])
    for limit in (20, 45, 74, 1000):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), limit
    mark = getattr(command, "_shipsync_requires", None)
    assert _NEEDS.get(name) == (None if mark is None else (mark[0], tuple(mark[1])))


def test_help_lists_the_table_without_importing_any_command_module() -> None:
    """``shipsync --help`` imports click and the group, not one command module nor the library
    they use; invoking a command then imports its module and runs it."""
    code = (
        "import sys; from shipsync.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('MODULES', sorted(m for m in sys.modules if m.startswith('shipsync.')))\n"
        "try:\n    main(['carriers', 'list'])\nexcept SystemExit as exit:\n"
        "    print('AFTER', exit.code, 'shipsync.cli._carriers' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    help_modules = next(line for line in lines if line.startswith("MODULES "))
    assert help_modules == "MODULES " + str(
        [
            "shipsync._version",
            "shipsync.cli",
            "shipsync.cli._extras",
            "shipsync.cli._main",
            "shipsync.errors",
        ]
    )
    for name in _LAZY_COMMANDS:
        assert name in result.stdout
    assert lines[-1] == "AFTER 0 True"


def test_each_lazy_command_loads_once_and_runs_through_the_top_level_group() -> None:
    """The group imports a command on first use and hands back the same object afterwards;
    ``shipsync reconcile --help`` (a plain command) and ``shipsync carriers list`` run."""
    assert _loaded("carriers") is _loaded("carriers")
    result = CliRunner().invoke(main, ["carriers", "list"])
    assert result.exit_code == 0, result.output
    assert "fake" in result.output
    result = CliRunner().invoke(main, ["reconcile", "--help"])
    assert result.exit_code == 0, result.output
    assert "INVOICE" in result.output


def test_schema_export_in_a_fresh_interpreter_writes_every_event_type_s_schema(
    tmp_path: Path,
) -> None:
    """``shipsync schema export`` run cold (the group, then canonical, loaded lazily on first
    use) writes one schema per event type, each equal to the in-process ``event_schemas()``."""
    from shipsync.canonical import default_catalogue, event_schemas
    from shipsync.canonical._schemas import schema_file_name

    code = "import sys; from shipsync.cli import main; main(['schema', 'export', sys.argv[1]])"
    out = tmp_path / "schemas"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = event_schemas()
    assert set(expected) == set(default_catalogue.types)
    names = {
        schema_file_name(t, s["properties"]["schemaversion"]["const"]): s
        for t, s in expected.items()
    }
    assert {p.name for p in out.glob("*.schema.json")} == set(names)
    for name, schema in names.items():
        written = json.loads((out / name).read_text(encoding="utf-8"))
        assert written == json.loads(json.dumps(schema)), name


def test_help_marks_a_table_command_unavailable_when_its_extra_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command whose ``_NEEDS`` modules are absent is listed as unavailable (naming the extra)
    by ``--help`` without importing it; the others keep their short help."""
    from shipsync.cli import _main

    monkeypatch.setitem(_main._NEEDS, "status", ("monitor", ("shipsync_no_such_module",)))
    monkeypatch.delitem(main.commands, "status", raising=False)  # not loaded yet: table only
    result = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ")}
    assert "(unavailable: needs the 'monitor' extra" in lines["status"]
    assert "unavailable" not in lines["webhook"]
