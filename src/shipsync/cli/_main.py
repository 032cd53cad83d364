"""The ``shipsync`` command.

Built on click: subcommands nest (``shipsync schema export``, ``shipsync dlq replay``), options are
typed and tested through ``click.testing.CliRunner``, and click ships the progress bar the long
commands show. Subsystem commands load lazily, so ``shipsync --version`` imports no database
driver and a broken optional extra only affects the command that needs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import click

from shipsync._version import __version__
from shipsync.errors import ShipsyncError

__all__ = ["main"]

# name -> "module:attribute" of a click command or group, imported on first use.
_LAZY_COMMANDS: dict[str, str] = {
    "carriers": "shipsync.carriers._cli:carriers",
    "dlq": "shipsync.flows._cli:dlq",
    "endpoints": "shipsync.cli._endpoints:endpoints",
    "fake-carrier": "shipsync.carriers._cli:fake_carrier",
    "notify": "shipsync.cli._notify:notify",
    "reconcile": "shipsync.settlement._cli:reconcile",
    "webhook": "shipsync.webhooks._cli:webhook",
}


class _LazyGroup(click.Group):
    """A group whose subsystem commands are imported only when they run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._available()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            loaded: Any = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            return _unavailable(cmd_name, exc)
        if not isinstance(loaded, click.Command):
            return _unavailable(cmd_name, TypeError(f"{target} is not a click command"))
        return loaded

    @staticmethod
    def _available() -> list[str]:
        names = []
        for name, target in _LAZY_COMMANDS.items():
            module_name = target.partition(":")[0]
            if importlib.util.find_spec(module_name) is not None:
                names.append(name)
        return names


def _unavailable(name: str, exc: Exception) -> click.Command:
    """A stand-in that says why a subsystem command cannot load (a missing extra, usually)."""
    reason = f"{type(exc).__name__}: {exc}"

    def fail() -> None:
        raise click.ClickException(f"the {name!r} command cannot load ({reason})")

    return click.Command(name, callback=fail, help=f"(unavailable: {reason})")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="shipsync")
def main() -> None:
    """shipsync: keep carrier execution, customer communication and freight settlement in sync."""


@main.command()
@click.option("--shipments", "-n", default=200, show_default=True, help="Shipments to create.")
@click.option("--seed", default=7, show_default=True, help="Seed of the fake carrier.")
@click.option(
    "--timeline",
    is_flag=True,
    help="Only fold messy event feeds into timelines, in-process (no server, no network).",
)
def demo(shipments: int, seed: int, timeline: bool) -> None:
    """Run the end-to-end demo: fake carrier, signed webhooks, event log, handlers, checks.

    The fake carrier serves on a real localhost port; its webhooks arrive duplicated, reordered
    and now and then refused. Exits 1 if any check (nothing lost, nothing applied twice) fails.
    """
    if timeline:
        from shipsync._demo import run

        raise SystemExit(run(shipments=shipments, seed=seed, echo=click.echo))
    from shipsync.flows._demo import run_demo

    try:
        status = run_demo(shipments=shipments, seed=seed, echo=click.echo)
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    raise SystemExit(status)


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
