"""``shipsync dlq``: list, show, replay and purge dead letters.

The store is named by ``--store`` (or ``SHIPSYNC_DLQ_STORE``): a SQLite file path (optionally
``sqlite:///path``) or a ``postgresql://`` DSN. It must already hold the dead letter table: a
mistyped path or an unrelated database is refused rather than given a new table, unless
``--create`` says to make one. Replaying needs the host's handlers: ``--app module:attribute``
names a :class:`~shipsync.flows.Dispatcher` (or a callable returning one), imported with the
current directory on ``sys.path`` (as flask and uvicorn do); its dead letters are read from
``--store``.

Letters are read with the host dispatcher's catalogue when its dead letter store has one
(:class:`~shipsync.notify.NotifyDeadLetters` does), else with the built-in catalogue plus the
notification events of :mod:`shipsync.notify` (``notify.requested``) when that package's extra is
installed, so ``show`` parses and ``replay`` sends again a dead-lettered notification.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from shipsync.canonical import EventCatalogue
    from shipsync.flows import DeadLetterFilter, DeadLetterStore, Dispatcher

__all__ = ["dlq", "open_dead_letters"]

DEFAULT_TABLE = "shipsync_dead_letters"


def open_dead_letters(url: str, *, table: str = DEFAULT_TABLE) -> DeadLetterStore:
    """Open the dead letter store ``url`` names (a SQLite path or a ``postgresql://`` DSN)."""
    if _is_postgres(url):
        from shipsync.flows import PostgresDeadLetters

        return PostgresDeadLetters(url, table=table)
    from shipsync.flows import SQLiteDeadLetters

    return SQLiteDeadLetters(url.removeprefix("sqlite:///"), table=table)


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# Columns every dead letter table has; a table of that name without them is someone else's.
_COLUMNS = {"event_id", "handler", "body", "attempts", "first_failed_at", "last_failed_at"}


def _open(url: str, table: str, create: bool) -> DeadLetterStore:
    """Open an existing dead letter store; never turn a typo or another database into one."""
    if _TABLE.fullmatch(table) is None:
        raise click.BadParameter("letters, digits and _ only, at most 63", param_hint="--table")
    if _is_postgres(url):
        columns = None if create else _postgres_columns(url, table)
    else:
        path = url.removeprefix("sqlite:///")
        if not Path(path).is_file():
            if not create:
                raise click.ClickException(
                    f"no dead letter store at {path!r} (pass --create to make a new one)"
                )
            columns = None
        else:
            columns = _sqlite_columns(path, table)
    if not create and not (columns or set()) >= _COLUMNS:
        what = "has no" if not columns else "has a different"
        raise click.ClickException(
            f"{url if _is_postgres(url) else repr(url.removeprefix('sqlite:///'))} {what} dead "
            f"letter table {table!r}: not a dead letter store (pass --create to add one)"
        )
    return open_dead_letters(url, table=table)


def _sqlite_columns(path: str, table: str) -> set[str]:
    try:
        with sqlite3.connect(f"file:{Path(path).absolute()}?mode=ro", uri=True) as db:
            rows = db.execute(f'PRAGMA table_info("{table}")').fetchall()
    except sqlite3.Error as exc:
        raise click.ClickException(f"{path!r} is not a SQLite database: {exc}") from None
    return {str(row[1]) for row in rows}


def _postgres_columns(url: str, table: str) -> set[str]:
    try:
        import psycopg
    except ImportError:
        from shipsync.errors import MissingDependencyError

        raise MissingDependencyError("a PostgreSQL dead letter store", "postgres") from None
    try:
        with psycopg.connect(url, connect_timeout=5) as db:
            rows = db.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            ).fetchall()
    except psycopg.Error as exc:
        from shipsync.errors import EventLogUnavailableError

        raise EventLogUnavailableError(f"dead letter store unavailable: {exc}") from None
    return {str(row[0]) for row in rows}


def _catalogue(dispatcher: Dispatcher | None = None) -> EventCatalogue:
    """The catalogue letters are read with: the host's, else built-in plus notify's events."""
    from shipsync.canonical import EventCatalogue, default_catalogue

    own = getattr(dispatcher.dead_letters, "catalogue", None) if dispatcher else None
    if isinstance(own, EventCatalogue):
        return own
    try:
        from shipsync.notify import notify_catalogue
    except ImportError:  # the notify extra is not installed: no notification letters either
        return default_catalogue
    return notify_catalogue()


def _reading(letters: DeadLetterStore, catalogue: EventCatalogue) -> DeadLetterStore:
    """``letters`` whose ``event()`` parses with ``catalogue`` (what replay calls)."""
    from shipsync.canonical import default_catalogue

    if catalogue is default_catalogue:
        return letters
    from shipsync.notify import NotifyDeadLetters

    return NotifyDeadLetters(letters, catalogue)


def _load_dispatcher(target: str) -> Dispatcher:
    from shipsync.flows import Dispatcher

    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter("use module:attribute", param_hint="--app")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # as flask and uvicorn do: the app lives where the user stands
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
    from shipsync.flows import DeadLetterFilter

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
_create_option = click.option(
    "--create", is_flag=True, help="Create the dead letter table if the store has none."
)
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
        from shipsync.errors import ShipsyncError

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
@_create_option
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
    create: bool,
    handler: str | None,
    event_type: str | None,
    partition: str | None,
    state: str,
    limit: int,
    as_json: bool,
) -> None:
    """List dead letters, oldest first."""
    resolved = {"open": False, "resolved": True, "all": None}[state]
    letters = _open(store, table, create)
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
@_create_option
def show(letter_id: int, store: str, table: str, create: bool) -> None:
    """Show one dead letter with its event, as JSON."""
    letters = _open(store, table, create)
    try:
        letter = letters.get(letter_id)
    finally:
        letters.close()
    from shipsync.errors import ShipsyncError

    out = letter.summary()
    try:
        out["event"] = json.loads(letter.body)
    except ValueError:
        out["event"] = letter.body.decode("utf-8", "replace")
    try:
        event = _catalogue().parse(letter.body)
    except ShipsyncError as exc:  # kept and shown as it is, with why it does not parse
        out["parsed"] = False
        out["parse_error"] = f"{type(exc).__name__}: {exc}"
    else:
        out["parsed"] = True
        out["event"] = json.loads(event.to_json())
    click.echo(json.dumps(out, indent=2))


@dlq.command()
@click.argument("letter_ids", type=_ID, nargs=-1)
@_store_option
@_table_option
@_create_option
@_with_filters
@click.option("--all", "everything", is_flag=True, help="Replay every open letter.")
@click.option("--app", required=True, help="module:attribute of the host's Dispatcher.")
def replay(
    letter_ids: tuple[int, ...],
    store: str,
    table: str,
    create: bool,
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
    letters = _reading(_open(store, table, create), _catalogue(dispatcher))
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
@_create_option
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
    create: bool,
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
    letters = _open(store, table, create)
    try:
        count = letters.purge(_filter(letter_ids, handler, event_type, partition, resolved))
    finally:
        letters.close()
    click.echo(f"purged {count} dead letter(s)")
