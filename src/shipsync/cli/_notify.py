"""``shipsync notify``: preview what each channel would send, and the notification demo.

``preview SHIPMENT`` reads the shipment's events from the notifier's state (``--state``, the
SQLite file a :class:`~shipsync.notify.NotifyState` keeps, or the ``postgresql://`` DSN of a
:class:`~shipsync.notify.PostgresNotifyState`) or from a file of CloudEvents JSON lines
(``--events``), projects its customer status and renders, for each channel the rules
route it to, the message that would go out. Nothing is sent and nothing is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

__all__ = ["notify"]


@click.group()
def notify() -> None:
    """Customer notifications: preview, demo."""


def _load_events(path: Path) -> list[Any]:
    from shipsync.errors import ShipsyncError
    from shipsync.notify import notify_catalogue

    catalogue = notify_catalogue()
    events = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                events.append(catalogue.parse(line))
            except ShipsyncError as exc:
                raise click.ClickException(f"{path}:{number}: {type(exc).__name__}: {exc}") from exc
    return events


@notify.command("preview")
@click.argument("shipment")
@click.option(
    "--state",
    help="The notifier's state: a SQLite file or a postgresql:// DSN.",
)
@click.option(
    "--events",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file of event JSON lines (instead of --state).",
)
@click.option("--locale", help="Render in this locale (de, fr_CH, ...) instead of the recipient's.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "json"]),
    default="text",
    show_default=True,
)
def preview(
    shipment: str, state: str | None, events: Path | None, locale: str | None, fmt: str
) -> None:
    """Render what each channel would send about SHIPMENT now (sends nothing)."""
    from shipsync.errors import ShipsyncError
    from shipsync.notify import (
        DEFAULT_RULES,
        NotificationService,
        Notifier,
        NotifyState,
        PostgresNotifyState,
        RecordingChannel,
        Renderer,
    )

    if (state is None) == (events is None):
        raise click.UsageError("give exactly one of --state and --events")
    is_dsn = state is not None and state.startswith(("postgresql://", "postgres://"))
    if state is not None and not is_dsn and not Path(state).is_file():
        raise click.BadParameter(f"no state file at {state!r}", param_hint="--state")
    try:
        if state is not None and is_dsn:
            store: NotifyState = PostgresNotifyState(state)
        else:
            store = NotifyState(state if state is not None else ":memory:")
        notifier = Notifier(store, DEFAULT_RULES)
        if events is not None:
            for event in _load_events(events):
                store.record(event)
        service = NotificationService(
            notifier,
            [RecordingChannel("webhook"), RecordingChannel("email", address="email")],
            renderer=Renderer(),
        )
        if locale is not None:
            original = notifier.recipients

            def relocalised(shipment_obj: Any, sid: str) -> list[Any]:
                return [
                    r.model_copy(update={"locale": locale}) for r in original(shipment_obj, sid)
                ]

            notifier.recipients = relocalised
        try:
            messages = service.preview(shipment)
        finally:
            store.close()
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    if not messages:
        raise click.ClickException(f"nothing to tell about shipment {shipment!r} yet")
    for message in messages:
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
                        "channel": message.channel,
                        "id": message.id,
                        "subject": message.subject,
                        "text": message.text,
                        "html": message.html,
                        "payload": dict(message.payload),
                    },
                    sort_keys=True,
                )
            )
            continue
        click.echo(f"=== {message.channel} ({message.locale}) ===")
        if message.channel == "webhook":
            click.echo(json.dumps(dict(message.payload), indent=2, sort_keys=True))
            continue
        click.echo(f"Subject: {message.subject}")
        click.echo("")
        click.echo(message.html if fmt == "html" else message.text)


@notify.command("demo")
@click.option("--shipments", "-n", default=20, show_default=True, help="Shipments to tell about.")
@click.option("--seed", default=7, show_default=True)
def demo(shipments: int, seed: int) -> None:
    """Notify through a local webhook endpoint and SMTP server, with an outage mid-way."""
    from shipsync.cli._notify_demo import run_notify_demo
    from shipsync.errors import ShipsyncError

    try:
        status = run_notify_demo(shipments=shipments, seed=seed, echo=click.echo)
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    raise SystemExit(status)
