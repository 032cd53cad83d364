"""``shipsync insight``: generate a synthetic world, train the risk model, evaluate it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

__all__ = ["insight"]


@contextmanager
def _typed_errors() -> Iterator[None]:
    """Every shipsync error becomes one line naming its type, exit status 1."""
    from shipsync.errors import ShipsyncError

    try:
        yield
    except ShipsyncError as exc:
        notes = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
        raise click.ClickException(f"{type(exc).__name__}: {exc}{notes}") from exc


@click.group()
def insight() -> None:
    """Exception intelligence: predict late and failed deliveries (the 'ml' extra trains)."""


@insight.command("generate")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-01-01",
    show_default=True,
    help="First booking day.",
)
@click.option("--months", type=click.IntRange(1, 36), default=2, show_default=True)
@click.option("--per-day", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="EVENTS.jsonl to write.",
)
def generate(seed: int, start: datetime, months: int, per_day: int, out: Path) -> None:
    """Write a synthetic parcel world's canonical events (one JSON envelope a line)."""
    from shipsync.canonical import Event
    from shipsync.testing.parcel_world import generate as world
    from shipsync.testing.parcel_world import to_envelopes

    count = 0
    with out.open("wb") as handle:
        for shipment in world(seed, start=start.date(), months=months, shipments_per_day=per_day):
            for envelope in to_envelopes(shipment):
                assert isinstance(envelope, Event)
                handle.write(envelope.to_json() + b"\n")
            count += 1
    click.echo(f"{count:,} shipments written to {out}")


def _histories(path: Path) -> list[object]:
    from shipsync.insight import histories_from_events, read_events_jsonl

    return list(histories_from_events(read_events_jsonl(path)))


@insight.command("train")
@click.option(
    "--events",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="EVENTS.jsonl of finished shipment histories.",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def train_command(events: Path, out: Path) -> None:
    """Train the risk model on EVENTS and save it in OUT/model.json."""
    from shipsync.insight import History, train

    with _typed_errors():
        histories = [h for h in _histories(events) if isinstance(h, History)]
        model = train(histories, trained_on={"events": events.name})
    path = model.save(out)
    click.echo(
        f"trained on {len(histories):,} shipments, {model.trained_on['snapshots']:,} "
        f"snapshots, {len(model.features)} features: {path}"
    )


@insight.command("evaluate")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="A model directory or model.json.",
)
@click.option(
    "--events", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
def evaluate_command(model_path: Path, events: Path) -> None:
    """Measure a model beside the rules baseline on held-out EVENTS."""
    from shipsync.insight import History, RiskModel, evaluate

    with _typed_errors():
        model = RiskModel.load(model_path)
        histories = [h for h in _histories(events) if isinstance(h, History)]
    click.echo(evaluate(model, histories).table())
