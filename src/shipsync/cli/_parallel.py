"""``shipsync parallel-run``: compare shipsync's shadow record with a legacy integration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from shipsync.odoo import OdooGateway

__all__ = ["parallel_run_command"]

_FORMATS = ("table", "json", "csv", "html")


@click.command("parallel-run")
@click.option(
    "--shadow",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The SQLite shadow record shipsync wrote in shadow mode.",
)
@click.option("--run", "run_id", default=None, help="Only this shadow run (default: all).")
@click.option(
    "--legacy-export",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The legacy side as CSV or JSON (default columns, see docs/migration.md).",
)
@click.option(
    "--legacy-odoo",
    is_flag=True,
    help="Read the legacy side from Odoo itself (ODOO_URL, ODOO_DB, ODOO_USER, ODOO_PASSWORD).",
)
@click.option(
    "--currency",
    "currencies",
    multiple=True,
    metavar="ID=CODE",
    help="Without Odoo: the ISO code of a res.currency id the bills use (repeatable).",
)
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def parallel_run_command(
    shadow: Path,
    run_id: str | None,
    legacy_export: Path | None,
    legacy_odoo: bool,
    currencies: tuple[str, ...],
    days: int,
    fmt: str,
    out: Path | None,
) -> None:
    """Where shipsync (in shadow mode) and the legacy integration disagree, and why.

    Picking names are read from Odoo when the ODOO_* variables are set; without them pickings
    are keyed by their id (the export's picking column then holds ids). Exits 0 when the
    cutover criteria are met, 3 when they are not.
    """
    from shipsync.errors import ShipsyncError
    from shipsync.migration import legacy_side_from_odoo, parallel_run, read_export, shipsync_side
    from shipsync.odoo import SQLiteShadowRecorder

    if (legacy_export is None) == (not legacy_odoo):
        raise click.UsageError("give exactly one of --legacy-export and --legacy-odoo")
    names: dict[int, str] = {}
    for item in currencies:
        key, _, code = item.partition("=")
        if not key.isascii() or not key.isdigit() or not code:
            raise click.BadParameter(f"{item!r} is not ID=CODE", param_hint="--currency")
        names[int(key)] = code.upper()
    try:
        gateway = _odoo_from_env(required=legacy_odoo)
        with SQLiteShadowRecorder(shadow) as recorder:
            ours = shipsync_side(recorder.writes(run_id), gateway, currency_names=names)
        if legacy_export is not None:
            theirs = read_export(legacy_export)
        else:
            assert gateway is not None  # required above
            until = datetime.now(UTC)
            theirs = legacy_side_from_odoo(gateway, since=until - timedelta(days=days), until=until)
        report = parallel_run(ours, theirs)
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    text = {
        "table": report.table,
        "json": report.to_json,
        "csv": report.to_csv,
        "html": report.to_html,
    }[fmt]()
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{len(report.divergences)} divergence(s) written to {out}", err=True)
    raise SystemExit(0 if report.ready else 3)


def _odoo_from_env(*, required: bool) -> OdooGateway | None:
    """The Odoo of the parallel run, from the ODOO_* variables (None when unset and optional)."""
    import os

    from shipsync.errors import ConfigurationError
    from shipsync.odoo import RpcGateway

    names = ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD")
    missing = [n for n in names if not os.environ.get(n)]
    if len(missing) == len(names) and not required:
        return None
    if missing:
        raise ConfigurationError(f"set {', '.join(missing)} to reach the Odoo of the parallel run")
    return RpcGateway(
        os.environ["ODOO_URL"],
        os.environ["ODOO_DB"],
        os.environ["ODOO_USER"],
        os.environ["ODOO_PASSWORD"],
    )
