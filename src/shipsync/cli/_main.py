"""The ``shipsync`` command: the top-level click group and the table of its commands.

Built on click: subcommands nest (``shipsync schema export``, ``shipsync dlq replay``), options are
typed and tested through ``click.testing.CliRunner``, and click ships the progress bar the long
commands show.

How commands are organised (the convention every new command follows):

- Each command lives in its own module of this package, ``shipsync/cli/_<topic>.py``, and imports
  the library *inside* the command function, like any application would.
- Every command is registered by one line ``"name": "shipsync.cli._topic:object"`` in
  ``_LAZY_COMMANDS`` and its one-line help in ``_SHORT_HELP`` (click's lazy-group pattern). The
  group lists the names and short help from those tables, so ``shipsync --help`` imports no
  command module; a module is imported when its command runs (or shows its own help). A command
  missing from ``_SHORT_HELP`` still works, at the price of importing its module for ``--help``;
  ``tests/foundation/test_cli_commands.py`` checks both tables against the real commands.
- A module that fails to import is listed as unavailable with its error when it is invoked.
- A command that needs an optional extra says so with :func:`shipsync.cli._extras.requires`, and
  repeats the extra in ``_NEEDS`` so ``--help`` can show ``(unavailable: needs the 'server'
  extra ...)`` without importing the command; running it prints that reason.
  ``tests/foundation/test_layers.py`` reads the ``_LAZY_COMMANDS`` strings as import edges.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from shipsync._version import __version__
from shipsync.cli._extras import missing_extra, requires

__all__ = ["main"]

# name -> "module:attribute" of a click command or group in another module of this package.
_LAZY_COMMANDS: dict[str, str] = {
    # "name": "shipsync.cli._topic:object",  (one line per command, kept sorted by name)
    "carriers": "shipsync.cli._carriers:carriers",
    "control-tower": "shipsync.cli._tower:control_tower",
    "demo": "shipsync.cli._demo:demo",
    "dlq": "shipsync.cli._dlq:dlq",
    "endpoints": "shipsync.cli._endpoints:endpoints",
    "fake-carrier": "shipsync.cli._carriers:fake_carrier",
    "insight": "shipsync.cli._insight:insight",
    "notify": "shipsync.cli._notify:notify",
    "parallel-run": "shipsync.cli._parallel:parallel_run_command",
    "reconcile": "shipsync.cli._reconcile:reconcile_command",
    "status": "shipsync.cli._status:status",
    "webhook": "shipsync.cli._webhook:webhook",
}

# name -> the first sentence of the command's help, which ``shipsync --help`` lists (shortened to
# the terminal the way click shortens any help) without importing the command's module.
_SHORT_HELP: dict[str, str] = {
    "carriers": "Installed carrier drivers.",
    "control-tower": "The control tower: a read-only web page over the monitor's indicators.",
    "demo": "Run the end-to-end demo: fake carrier, signed webhooks, event log, handlers, checks.",
    "dlq": "Dead letters: events a handler could not take after its last attempt.",
    "endpoints": "Outbound webhook endpoints: list, add, disable, enable, attempts, replay.",
    "fake-carrier": "The fake carrier for tests in any language.",
    "insight": (
        "Exception intelligence: predict late and failed deliveries (the 'ml' extra trains)."
    ),
    "notify": "Customer notifications: preview, demo.",
    "parallel-run": (
        "Where shipsync (in shadow mode) and the legacy integration disagree, and why."
    ),
    "reconcile": "Reconcile the carrier invoice file INVOICE against the shipments file.",
    "status": (
        "Print the monitor's indicators: shipments by status, SLAs, exceptions, finance, DLQ, lag."
    ),
    "webhook": "Sign, verify and send webhook deliveries.",
}

# name -> (extra, modules) of the commands marked with ``requires()``, for ``--help``.
_NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fake-carrier": ("server", ("uvicorn", "starlette")),
}


class _Group(click.Group):
    """The top-level group: lazy commands from the table; a missing extra becomes its reason."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None:
            target = self.lazy.get(cmd_name)
            if target is None:
                return None
            command = _load(cmd_name, target)
            self.commands[cmd_name] = command  # import once per process
        reason = missing_extra(command)
        return command if reason is None else _unavailable(cmd_name, reason)

    def _listed(self, ctx: click.Context, name: str) -> click.Command | None:
        """What ``--help`` shows for ``name``: a stand-in from the tables, or the loaded command."""
        if name in self.commands or name not in _SHORT_HELP:
            return self.get_command(ctx, name)
        stand_in = click.Command(name, help=_SHORT_HELP[name])
        if name in _NEEDS:
            extra, modules = _NEEDS[name]
            reason = missing_extra(requires(extra, *modules)(stand_in))
            if reason is not None:
                return _unavailable(name, reason)
        return stand_in

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list (as click formats it) from the tables, importing no command module."""
        listed = [(name, self._listed(ctx, name)) for name in self.list_commands(ctx)]
        commands = [(name, cmd) for name, cmd in listed if cmd is not None and not cmd.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])


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


@click.group(
    cls=_Group, lazy=_LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
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


if __name__ == "__main__":  # pragma: no cover
    main()
