"""``shipsync dlq``: list, show, replay and purge dead letters.

The store is named by ``--store`` (or ``SHIPSYNC_DLQ_STORE``): a SQLite file path (optionally
``sqlite:///path``) or a ``postgresql://`` DSN. Replaying needs the host's handlers: ``--app
module:attribute`` names a :class:`~shipsync.flows.Dispatcher` (or a callable returning one); its
dead letters are read from ``--store``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path
from typing import Any

import click

from shipsync.errors import ShipsyncError

from ._deadletters import DeadLetterFilter, DeadLetterStore, SQLiteDeadLetters
from ._dispatcher import Dispatcher

__all__ = ["dlq", "open_dead_letters"]

DEFAULT_TABLE = "shipsync_dead_letters"


def open_dead_letters(url: str, *, table: str = DEFAULT_TABLE) -> DeadLetterStore:
    """Open the dead letter store ``url`` names (a SQLite path or a ``postgresql://`` DSN)."""
    if url.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresDeadLetters

        return PostgresDeadLetters(url, table=table)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SQLiteDeadLetters(path, table=table)


def _open(url: str, table: str) -> DeadLetterStore:
    """Open an existing store: a mistyped SQLite path is an error, not a new empty file."""
    if not url.startswith(("postgresql://", "postgres://")):
        path = url.removeprefix("sqlite:///")
        if not Path(path).is_file():
            raise click.ClickException(f"no dead letter store at {path!r}")
    return open_dead_letters(url, table=table)


def _load_dispatcher(target: str) -> Dispatcher:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter("use module:attribute", param_hint="--app")
    try:
        obj: Any = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # the host's module may fail in any way while importing
        raise click.BadParameter(
            f"cannot load {target}: {type(exc).__name__}: {exc}", param_hint="--app"
        ) from exc
    if callable(obj) and not isinstance(obj, Dispatcher | type):
        try:
            obj = obj()
        except Exception as exc:  # the host's factory may fail in any way
            raise click.BadParameter(
                f"cannot call {target}: {type(exc).__name__}: {exc}", param_hint="--app"
            ) from exc
    if not isinstance(obj, Dispatcher):
        raise click.BadParameter(f"{target} is not a shipsync.flows.Dispatcher", param_hint="--app")
    return obj


def _filter(
    ids: tuple[int, ...],
    handler: str | None,
    event_type: str | None,
    partition: str | None,
    resolved: bool | None,
) -> DeadLetterFilter:
    return DeadLetterFilter(
        ids=list(ids) if ids else None,
        handler=handler,
        event_type=event_type,
        partition=partition,
        resolved=resolved,
    )


_ID = click.IntRange(min=1, max=2**63 - 1)

_store_option = click.option(
    "--store",
    envvar="SHIPSYNC_DLQ_STORE",
    required=True,
    help="SQLite file or postgresql:// DSN of the dead letters (env SHIPSYNC_DLQ_STORE).",
)
_table_option = click.option("--table", default=DEFAULT_TABLE, show_default=True)
_filters = [
    click.option("--handler", help="Only letters of this handler."),
    click.option("--type", "event_type", help="Only letters of this event type."),
    click.option("--partition", help="Only letters of this partition (shipment)."),
]


def _with_filters(fn: Any) -> Any:
    for option in reversed(_filters):
        fn = option(fn)
    return fn


class _Group(click.Group):
    """Turns shipsync errors into a clean message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShipsyncError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


@click.group(cls=_Group)
def dlq() -> None:
    """Dead letters: events a handler could not take after its last attempt."""


@dlq.command("list")
@_store_option
@_table_option
@_with_filters
@click.option(
    "--state",
    type=click.Choice(["open", "resolved", "all"]),
    default="open",
    show_default=True,
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(
    store: str,
    table: str,
    handler: str | None,
    event_type: str | None,
    partition: str | None,
    state: str,
    limit: int,
    as_json: bool,
) -> None:
    """List dead letters, oldest first."""
    resolved = {"open": False, "resolved": True, "all": None}[state]
    letters = _open(store, table)
    try:
        found = letters.list(_filter((), handler, event_type, partition, resolved), limit=limit)
    finally:
        letters.close()
    for letter in found:
        if as_json:
            click.echo(json.dumps(letter.summary()))
        else:
            state_text = "resolved" if letter.resolved_at else "open"
            click.echo(
                f"{letter.id}\t{letter.handler}\t{letter.event_type}\t{letter.partition}\t"
                f"{letter.attempts}\t{state_text}\t{letter.error_type}: {letter.error[:80]}"
            )
    click.echo(f"{len(found)} dead letter(s)", err=True)


@dlq.command()
@click.argument("letter_id", type=_ID)
@_store_option
@_table_option
def show(letter_id: int, store: str, table: str) -> None:
    """Show one dead letter with its event, as JSON."""
    letters = _open(store, table)
    try:
        letter = letters.get(letter_id)
    finally:
        letters.close()
    out = letter.summary()
    try:
        out["event"] = json.loads(letter.body)
    except ValueError:
        out["event"] = letter.body.decode("utf-8", "replace")
    click.echo(json.dumps(out, indent=2))


@dlq.command()
@click.argument("letter_ids", type=_ID, nargs=-1)
@_store_option
@_table_option
@_with_filters
@click.option("--all", "everything", is_flag=True, help="Replay every open letter.")
@click.option("--app", required=True, help="module:attribute of the host's Dispatcher.")
def replay(
    letter_ids: tuple[int, ...],
    store: str,
    table: str,
    handler: str | None,
    event_type: str | None,
    partition: str | None,
    everything: bool,
    app: str,
) -> None:
    """Replay dead letters through the idempotency guard (by id, by filter or --all)."""
    if not (letter_ids or handler or event_type or partition or everything):
        raise click.UsageError("name letter ids, a filter, or --all")
    dispatcher = _load_dispatcher(app)
    letters = _open(store, table)
    dispatcher.dead_letters = letters
    try:
        report = asyncio.run(
            dispatcher.replay(_filter(letter_ids, handler, event_type, partition, False))
        )
    finally:
        letters.close()
    click.echo(
        f"succeeded {len(report.succeeded)}, already done {len(report.already_done)}, "
        f"failed {len(report.failed)}, skipped {len(report.skipped)}"
    )
    matched = report.succeeded + report.already_done + report.failed + report.skipped
    missing = sorted(set(letter_ids) - set(matched))
    if missing:
        click.echo(f"no open dead letter has id {', '.join(map(str, missing))}", err=True)
    if report.failed or report.skipped or missing:
        raise SystemExit(1)


@dlq.command()
@click.argument("letter_ids", type=_ID, nargs=-1)
@_store_option
@_table_option
@_with_filters
@click.option(
    "--state",
    type=click.Choice(["open", "resolved", "all"]),
    default="all",
    show_default=True,
)
@click.option("--all", "everything", is_flag=True, help="Purge every letter in --state.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(
    letter_ids: tuple[int, ...],
    store: str,
    table: str,
    handler: str | None,
    event_type: str | None,
    partition: str | None,
    state: str,
    everything: bool,
    yes: bool,
) -> None:
    """Delete dead letters (by id, by filter or --all)."""
    if not (letter_ids or handler or event_type or partition or everything):
        raise click.UsageError("name letter ids, a filter, or --all")
    if not yes:
        click.confirm("Delete the matching dead letters for good?", abort=True)
    resolved = {"open": False, "resolved": True, "all": None}[state]
    letters = _open(store, table)
    try:
        count = letters.purge(_filter(letter_ids, handler, event_type, partition, resolved))
    finally:
        letters.close()
    click.echo(f"purged {count} dead letter(s)")
