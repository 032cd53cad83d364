"""``shipsync endpoints``: manage outbound webhook endpoints, read their attempts, replay.

The endpoint store is a SQLite file or a ``postgresql://`` DSN named by ``--db`` (or
``SHIPSYNC_ENDPOINTS_DB``); its signing secrets are encrypted with the Fernet key(s) in
``SHIPSYNC_ENDPOINTS_KEY`` (comma-separated, newest first) when that is set. ``add`` prints the
endpoint's signing secret once; give it to the endpoint's owner.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

__all__ = ["endpoints"]


def _store(ctx: click.Context, *, create: bool = False) -> Any:
    from shipsync.errors import ShipsyncError
    from shipsync.notify import EndpointStore, PostgresEndpointStore

    db: str = ctx.obj["db"]
    keys = [k.strip() for k in (ctx.obj["key"] or "").split(",") if k.strip()] or None
    try:
        if db.startswith(("postgresql://", "postgres://")):
            return PostgresEndpointStore(db, encryption_key=keys)
        path = Path(db.removeprefix("sqlite:///"))
        if not create and not path.is_file():
            raise click.ClickException(
                f"no endpoint store at {str(path)!r} (add an endpoint first)"
            )
        return EndpointStore(path, encryption_key=keys)
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(f"{type(exc).__name__}: {exc}")


def _when(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            "an ISO 8601 time, e.g. 2026-12-06T10:00:00Z", param_hint=option
        ) from exc
    if stamp.tzinfo is None:
        raise click.BadParameter("give a time zone (Z or +01:00)", param_hint=option)
    return stamp.timestamp()


class _Group(click.Group):
    """Turns shipsync errors (a store that will not open its secrets, say) into exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from shipsync.errors import ShipsyncError

        try:
            return super().invoke(ctx)
        except ShipsyncError as exc:
            raise _fail(exc) from exc


@click.group(cls=_Group)
@click.option(
    "--db",
    envvar="SHIPSYNC_ENDPOINTS_DB",
    default="shipsync-endpoints.db",
    show_default=True,
    help="The endpoint store: a SQLite file or a postgresql:// DSN.",
)
@click.option(
    "--key",
    envvar="SHIPSYNC_ENDPOINTS_KEY",
    help="Fernet key(s), comma-separated, newest first, encrypting the signing secrets at rest "
    "(env SHIPSYNC_ENDPOINTS_KEY; prefer the variable to the command line).",
)
@click.pass_context
def endpoints(ctx: click.Context, db: str, key: str | None) -> None:
    """Outbound webhook endpoints: list, add, disable, enable, attempts, replay."""
    ctx.obj = {"db": db, "key": key}


@endpoints.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_endpoints(ctx: click.Context, as_json: bool) -> None:
    """List the endpoints and their health."""
    store = _store(ctx)
    try:
        rows = store.list()
    finally:
        store.close()
    for endpoint in rows:
        summary = endpoint.summary()
        if as_json:
            click.echo(json.dumps(summary, sort_keys=True))
            continue
        state = "disabled" if endpoint.disabled else "enabled"
        if endpoint.disabled and endpoint.disabled_reason:
            state += f" ({endpoint.disabled_reason})"
        types = ",".join(summary["event_types"]) if summary["event_types"] else "*"
        click.echo(f"{endpoint.id}  {endpoint.url}  {state}  types={types}")
    click.echo(f"{len(rows)} endpoint(s)", err=True)


@endpoints.command("add")
@click.argument("url")
@click.option("--id", "endpoint_id", help="The endpoint id (generated when not given).")
@click.option("--event-type", "event_types", multiple=True, help="Only these event types.")
@click.option("--ordered", is_flag=True, help="Deliver its messages one at a time, in order.")
@click.option("--rate", type=float, help="At most this many requests per second.")
@click.option(
    "--allow-private", is_flag=True, help="Allow private/loopback targets (local testing only)."
)
@click.option("--description", default="", help="A note for people.")
@click.pass_context
def add(
    ctx: click.Context,
    url: str,
    endpoint_id: str | None,
    event_types: tuple[str, ...],
    ordered: bool,
    rate: float | None,
    allow_private: bool,
    description: str,
) -> None:
    """Register URL as an endpoint; prints its id and signing secret (shown only now)."""
    from shipsync.errors import ShipsyncError

    store = _store(ctx, create=True)
    try:
        endpoint = store.add(
            url,
            id=endpoint_id,
            event_types=event_types or None,
            ordered=ordered,
            rate_limit=rate,
            allow_private=allow_private,
            description=description,
        )
    except ShipsyncError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(endpoint.id)
    click.echo(f"secret: {endpoint.active_secrets(0.0)[0]}", err=True)


@endpoints.command("disable")
@click.argument("endpoint_id")
@click.option("--reason", default="disabled by hand", show_default=True)
@click.pass_context
def disable(ctx: click.Context, endpoint_id: str, reason: str) -> None:
    """Stop delivering to ENDPOINT_ID; its messages wait."""
    from shipsync.errors import ShipsyncError

    store = _store(ctx)
    try:
        store.disable(endpoint_id, reason)
    except ShipsyncError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(f"{endpoint_id} disabled")


@endpoints.command("enable")
@click.argument("endpoint_id")
@click.pass_context
def enable(ctx: click.Context, endpoint_id: str) -> None:
    """Deliver to ENDPOINT_ID again (its health starts afresh)."""
    from shipsync.errors import ShipsyncError

    store = _store(ctx)
    try:
        store.enable(endpoint_id)
    except ShipsyncError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(f"{endpoint_id} enabled")


@endpoints.command("rotate-secret")
@click.argument("endpoint_id")
@click.option(
    "--overlap",
    type=float,
    default=86_400.0,
    show_default=True,
    help="Seconds the old secret keeps signing.",
)
@click.pass_context
def rotate_secret(ctx: click.Context, endpoint_id: str, overlap: float) -> None:
    """Sign with a new secret (printed); the old one signs too for --overlap seconds."""
    from shipsync.errors import ShipsyncError

    store = _store(ctx)
    try:
        secret = store.rotate_secret(endpoint_id, overlap=overlap)
    except ShipsyncError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(f"secret: {secret}", err=True)


@endpoints.command("attempts")
@click.argument("endpoint_id", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def attempts(ctx: click.Context, endpoint_id: str | None, limit: int, as_json: bool) -> None:
    """The latest delivery attempts (of ENDPOINT_ID, or all), newest first."""
    from shipsync.errors import ShipsyncError

    store = _store(ctx)
    try:
        if endpoint_id is not None:
            store.get(endpoint_id)
        rows = store.attempts(endpoint_id, limit)
    except ShipsyncError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    for attempt in rows:
        if as_json:
            click.echo(json.dumps(attempt.summary(), sort_keys=True))
            continue
        outcome = "ok" if attempt.ok else (attempt.error or "failed")
        click.echo(
            f"{attempt.at.isoformat()}  {attempt.endpoint_id}  {attempt.message_id}  "
            f"{attempt.status or '-'}  {attempt.latency_ms:.0f} ms  {outcome}"
        )


@endpoints.command("replay")
@click.option("--endpoint", "endpoint_id", help="Only this endpoint.")
@click.option("--message", "message_id", help="Only this message.")
@click.option("--since", help="Messages accepted at or after this ISO 8601 time.")
@click.option("--until", help="Messages accepted before this ISO 8601 time.")
@click.option(
    "--all", "include_succeeded", is_flag=True, help="Delivered ones too, not only failed."
)
@click.option("--send", is_flag=True, help="Attempt the replayed deliveries now.")
@click.pass_context
def replay(
    ctx: click.Context,
    endpoint_id: str | None,
    message_id: str | None,
    since: str | None,
    until: str | None,
    include_succeeded: bool,
    send: bool,
) -> None:
    """Queue failed deliveries (by endpoint, message, time range) for a fresh schedule."""
    from shipsync.errors import ShipsyncError

    store = _store(ctx)
    try:
        queued = store.replay(
            endpoint_id=endpoint_id,
            message_id=message_id,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            include_succeeded=include_succeeded,
        )
        click.echo(f"{queued} deliveries queued")
        if send and queued:
            report = asyncio.run(_send(store))
            click.echo(
                f"{report.attempted} attempted, {report.succeeded} delivered, "
                f"{report.failed} failed, {report.refused} refused"
            )
    except ShipsyncError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()


async def _send(store: Any) -> Any:
    from shipsync.notify import WebhookSender

    sender = WebhookSender(store)
    try:
        return await sender.deliver_due(trigger="manual")
    finally:
        await sender.aclose()
