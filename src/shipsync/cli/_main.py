"""The ``shipsync`` command: the top-level click group and the table of its commands.

Built on click: subcommands nest (``shipsync schema export``, ``shipsync dlq replay``), options are
typed and tested through ``click.testing.CliRunner``, and click ships the progress bar the long
commands show.

How commands are organised (the convention every new command follows):

- Each command lives in its own module of this package, ``shipsync/cli/_<topic>.py``. That module
  imports click (and the standard library) at its top and imports the library *inside* the command
  function, like any application would. Loading every command is therefore cheap, so
  ``shipsync --help`` stays fast, and a missing extra only affects the command that needs it.
- A command that needs an optional extra says so with :func:`shipsync.cli._extras.requires`;
  ``--help`` then shows it as ``(unavailable: needs the 'server' extra ...)`` when the extra is
  missing, and running it prints that reason.
- The commands that ship with shipsync are imported below with ordinary ``import`` statements, so
  the import graph shows every edge. Commands added by other work are registered by appending one
  line ``"name": "shipsync.cli._topic:object"`` to ``_LAZY_COMMANDS``; those modules are imported
  (for real, when this module loads) and a module that fails to import is listed as unavailable
  with its error. ``tests/foundation/test_cli_commands.py`` fails when any listed command is
  unavailable while its extra is installed, and ``tests/foundation/test_layers.py`` reads this
  table as import edges.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from shipsync._version import __version__
from shipsync.cli._carriers import carriers, fake_carrier
from shipsync.cli._demo import demo
from shipsync.cli._dlq import dlq
from shipsync.cli._extras import missing_extra
from shipsync.cli._reconcile import reconcile_command
from shipsync.cli._webhook import webhook

__all__ = ["main"]

# name -> "module:attribute" of a click command or group in another module of this package.
_LAZY_COMMANDS: dict[str, str] = {
    # "name": "shipsync.cli._topic:object",  (one line per command, kept sorted by name)
}


class _Group(click.Group):
    """The top-level group: a command whose extra is missing is replaced by its reason."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        reason = missing_extra(command)
        return command if reason is None else _unavailable(cmd_name, reason)


def _unavailable(name: str, reason: str) -> click.Command:
    """A stand-in that says why a command cannot run (a missing extra, usually)."""

    def fail() -> None:
        raise click.ClickException(f"the {name!r} command cannot run: {reason}")

    return click.Command(name, callback=fail, help=f"(unavailable: {reason})")


def _load(name: str, target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    try:
        loaded = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        return _unavailable(name, f"{type(exc).__name__}: {exc}")
    if not isinstance(loaded, click.Command):
        return _unavailable(name, f"{target} is not a click command")
    return loaded


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="shipsync")
def main() -> None:
    """shipsync: keep carrier execution, customer communication and freight settlement in sync."""


@main.group()
def schema() -> None:
    """JSON Schemas of the event catalogue."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write one JSON Schema per event type into DIRECTORY."""
    from shipsync.canonical import export_schemas

    written = export_schemas(directory)
    for path in written:
        click.echo(str(path))
    click.echo(f"{len(written)} schemas written to {directory}", err=True)


for _command in (carriers, demo, dlq, fake_carrier, reconcile_command, webhook):
    main.add_command(_command)
for _name, _target in _LAZY_COMMANDS.items():
    main.add_command(_load(_name, _target), _name)


if __name__ == "__main__":  # pragma: no cover
    main()
