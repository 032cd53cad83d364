"""``shipsync status``: the monitor's indicators as a table or JSON."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

__all__ = ["status"]


def _now(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("an ISO 8601 time with its offset", param_hint="--at") from None
    if moment.tzinfo is None:
        raise click.BadParameter("the time needs an offset (Z or +hh:mm)", param_hint="--at")
    return moment.timestamp()


@click.command("status")
@click.option(
    "--store",
    "store_target",
    default="shipsync-monitor.db",
    show_default=True,
    help="The monitor store: a SQLite file or a postgresql:// DSN.",
)
@click.option(
    "--dead-letters",
    "dead_letters",
    default=None,
    help="Dead letters to count: the SQLite events file or a postgresql:// DSN.",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="SLA policy JSON file (default thresholds otherwise).",
)
@click.option(
    "--at", "at", default=None, help="Judge service levels at this ISO time (default: now)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(
    store_target: str, dead_letters: str | None, policy: Path | None, at: str | None, as_json: bool
) -> None:
    """Print the monitor's indicators: shipments by status, SLAs, exceptions, finance, DLQ, lag."""
    from shipsync.errors import ShipsyncError
    from shipsync.monitor import MonitorStore, SlaPolicy

    when = _now(at)
    if (
        not store_target.startswith(("postgresql://", "postgres://"))
        and not Path(store_target).exists()
    ):
        raise click.ClickException(f"no monitor store at {store_target}")
    letters: Any = None
    try:
        rules = SlaPolicy.from_file(policy) if policy is not None else SlaPolicy()
        store = MonitorStore(store_target)
        try:
            if dead_letters is not None:
                letters = _dead_letters(dead_letters)
            indicators = store.indicators(rules, now=when, dead_letters=letters)
        finally:
            store.close()
            if letters is not None:
                letters.close()
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    if as_json:
        click.echo(json.dumps(indicators.as_json(), indent=2))
        return
    for line in _table(indicators):
        click.echo(line)


def _dead_letters(target: str) -> Any:
    if target.startswith(("postgresql://", "postgres://")):
        from shipsync.flows import PostgresDeadLetters

        return PostgresDeadLetters(target)
    from shipsync.flows import SQLiteDeadLetters

    if not Path(target).exists():
        raise click.ClickException(f"no dead letter file at {target}")
    return SQLiteDeadLetters(target)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return "> 7d"
    if value >= 86400:
        return f"{value / 86400:.1f}d"
    if value >= 3600:
        return f"{value / 3600:.1f}h"
    if value >= 60:
        return f"{value / 60:.0f}m"
    return f"{value:.0f}s"


def _table(indicators: Any) -> list[str]:
    lines = [f"shipsync status at {indicators.at.isoformat()}", ""]
    lines.append(f"{'shipments':<32}{indicators.shipments:>8}")
    for name, count in sorted(indicators.by_status.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {name:<30}{count:>8}")
    lines += ["", f"{'service level':<24}{'breached':>10}{'at risk':>10}{'threshold':>12}"]
    for sla in indicators.sla:
        threshold = _seconds(sla.threshold.total_seconds())
        lines.append(f"  {sla.kind.value:<22}{sla.breached:>10}{sla.at_risk:>10}{threshold:>12}")
    lines += ["", "exceptions by age"]
    for label, count in indicators.exceptions_by_age:
        lines.append(f"  {label:<30}{count:>8}")
    lines += ["", f"{'invoices pending match':<32}{indicators.invoices_pending:>8}"]
    lines.append(f"{'disputes open':<32}{indicators.disputes_open:>8}")
    for currency, amount in sorted(indicators.disputed_amounts.items()):
        lines.append(f"  {'at stake ' + currency:<30}{amount:>8}")
    if indicators.dead_letters is not None:
        lines.append(f"{'dead letters open':<32}{indicators.dead_letters.open:>8}")
        oldest = _seconds(indicators.dead_letters.oldest_age)
        lines.append(f"  {'oldest':<30}{oldest:>8}")
    lines += ["", f"{'event lag (carrier -> handled)':<32}{'events':>8}{'p50':>8}{'p95':>8}"]
    for lag in indicators.lag:
        lines.append(
            f"  {lag.source:<30}{lag.count:>8}{_seconds(lag.p50):>8}{_seconds(lag.p95):>8}"
        )
    return lines
