"""``shipsync control-tower serve``: the control tower page over a monitor store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

__all__ = ["control_tower"]


@click.group("control-tower")
def control_tower() -> None:
    """The control tower: a read-only web page over the monitor's indicators."""


@control_tower.command("serve")
@click.option(
    "--store",
    "store_target",
    default="shipsync-monitor.db",
    show_default=True,
    help="The monitor store: a SQLite file or a postgresql:// DSN.",
)
@click.option(
    "--dead-letters",
    default=None,
    help="Dead letters to list: the SQLite events file or a postgresql:// DSN.",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="SLA policy JSON file.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8780, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token-env",
    default=None,
    metavar="VAR",
    help="Require this environment variable's value as a bearer token.",
)
@click.option("--user", default=None, help="Require basic auth with this user name ...")
@click.option(
    "--password-env",
    default=None,
    metavar="VAR",
    help="... and the password in this environment variable.",
)
@click.option("--show-personal-data", is_flag=True, help="Do not redact personal data.")
def serve(
    store_target: str,
    dead_letters: str | None,
    policy: Path | None,
    host: str,
    port: int,
    token_env: str | None,
    user: str | None,
    password_env: str | None,
    show_personal_data: bool,
) -> None:
    """Serve the control tower until interrupted.

    Without credentials it listens on 127.0.0.1 only; any other address needs --token-env or
    --user with --password-env, else it refuses to start. Replaying a dead letter from the page
    needs the host's handlers: mount the app in your service (see docs/monitor.md), or use
    ``shipsync dlq replay``.
    """
    from shipsync.errors import ShipsyncError

    if (
        not store_target.startswith(("postgresql://", "postgres://"))
        and not Path(store_target).exists()
    ):
        raise click.ClickException(f"no monitor store at {store_target}")
    try:
        from shipsync.monitor import MonitorStore, SlaPolicy
        from shipsync.monitor.web import TowerAuth, create_app
        from shipsync.monitor.web import serve as run

        auth = _auth(token_env, user, password_env)
        if auth is not None:
            auth = TowerAuth(**auth)
        rules = SlaPolicy.from_file(policy) if policy is not None else SlaPolicy()
        store = MonitorStore(store_target)
        letters = _dead_letters(dead_letters) if dead_letters is not None else None
        app = create_app(
            store,
            dead_letters=letters,
            policy=rules,
            auth=auth,
            redact=not show_personal_data,
        )
        click.echo(f"control tower on http://{host}:{port}/", err=True)
        run(app, host=host, port=port, auth=auth)
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def _auth(token_env: str | None, user: str | None, password_env: str | None) -> Any:
    token = None
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise click.ClickException(f"the environment variable {token_env} is not set")
    password = None
    if (user is None) != (password_env is None):
        raise click.ClickException("basic auth needs both --user and --password-env")
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise click.ClickException(f"the environment variable {password_env} is not set")
    if token is None and user is None:
        return None
    return {"token": token, "username": user, "password": password}


def _dead_letters(target: str) -> Any:
    if target.startswith(("postgresql://", "postgres://")):
        from shipsync.flows import PostgresDeadLetters

        return PostgresDeadLetters(target)
    from shipsync.flows import SQLiteDeadLetters

    if not Path(target).exists():
        raise click.ClickException(f"no dead letter file at {target}")
    return SQLiteDeadLetters(target)
