"""The divergence report: totals, rate per day, worst examples, cutover readiness, four formats."""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shipsync.migration._compare import Category, Divergence

__all__ = ["ParallelRunReport", "Readiness", "build_report"]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Cutover criteria: status agreement over consecutive days, and no large amount difference.

    ``status_agreement`` is the share of compared pickings whose status agrees, required on
    each of ``consecutive_days`` days (the days with compared pickings, most recent last);
    ``max_amount_difference`` is the largest tolerated difference of one bill line (in its
    currency's units), and ``max_missing`` the tolerated pickings or bills missing on one side.
    """

    status_agreement: float = 0.995
    consecutive_days: int = 7
    max_amount_difference: Decimal = Decimal("0")
    max_missing: int = 0


@dataclass(slots=True)
class ParallelRunReport:
    """Everything a person needs to judge a parallel run."""

    divergences: list[Divergence]
    compared: dict[str, int]
    by_category: dict[str, int] = field(default_factory=dict)
    by_carrier: dict[str, int] = field(default_factory=dict)
    by_explanation: dict[str, int] = field(default_factory=dict)
    status_agreement_by_day: dict[date, float] = field(default_factory=dict)
    ready: bool = False
    reasons: list[str] = field(default_factory=list)

    def worst(self, limit: int = 10) -> list[Divergence]:
        """The divergences to look at first: amounts, then statuses, then the rest."""
        order = {Category.AMOUNT: 0, Category.CURRENCY: 0, Category.STATUS: 1}
        return sorted(self.divergences, key=lambda d: (order.get(d.category, 2), d.key))[:limit]

    def to_json(self) -> str:
        """The report as JSON."""
        return json.dumps(
            {
                "ready": self.ready,
                "reasons": self.reasons,
                "compared": self.compared,
                "by_category": self.by_category,
                "by_carrier": self.by_carrier,
                "by_explanation": self.by_explanation,
                "status_agreement_by_day": {
                    d.isoformat(): v for d, v in sorted(self.status_agreement_by_day.items())
                },
                "divergences": [_row(d) for d in self.divergences],
            },
            indent=1,
        )

    def to_csv(self) -> str:
        """One row per divergence."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(_row(_EMPTY)))
        writer.writeheader()
        for divergence in self.divergences:
            writer.writerow(_row(divergence))
        return out.getvalue()

    def table(self, *, examples: int = 10) -> str:
        """A plain-text table for the terminal."""
        lines = [
            f"compared: {self.compared.get('pickings', 0):,} pickings "
            f"({self.compared.get('status', 0):,} with both statuses), "
            f"{self.compared.get('bills', 0):,} bills, {self.compared.get('lines', 0):,} lines",
            f"divergences: {len(self.divergences):,}",
        ]
        for title, counts in (
            ("by category", self.by_category),
            ("by explanation", self.by_explanation),
            ("by carrier", self.by_carrier),
        ):
            if counts:
                lines.append(f"{title}:")
                lines += [f"  {k:<48}{v:>8,}" for k, v in sorted(counts.items())]
        if self.status_agreement_by_day:
            lines.append("status agreement per day:")
            lines += [
                f"  {d.isoformat()}  {v:.2%}"
                for d, v in sorted(self.status_agreement_by_day.items())
            ]
        shown = self.worst(examples)
        if shown:
            lines.append(f"worst examples (shipsync | legacy), {len(shown)} of those:")
            lines += [
                f"  {d.category.value:<20}{d.key:<28}{d.shipsync:<22}| {d.legacy:<22}"
                f"{d.explanation.value}"
                for d in shown
            ]
        lines.append(("READY for cutover" if self.ready else "NOT ready for cutover") + ":")
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)

    def to_html(self) -> str:
        """A static HTML page (no script, no external file)."""
        esc = html.escape

        def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
            head = "".join(f"<th>{esc(h)}</th>" for h in headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

        verdict = "Ready for cutover" if self.ready else "Not ready for cutover"
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<title>shipsync parallel run</title><style>body{font-family:sans-serif;margin:2em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
            "padding:.3em .6em;text-align:left}.ready{color:#070}.not{color:#a00}</style>",
            "</head><body><h1>Parallel run</h1>",
            f"<p class='{'ready' if self.ready else 'not'}'><strong>{esc(verdict)}</strong></p>",
            "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in self.reasons) + "</ul>",
            "<h2>Compared</h2>",
            table(["what", "count"], sorted(self.compared.items())),
            "<h2>By category</h2>",
            table(["category", "divergences"], sorted(self.by_category.items())),
            "<h2>By explanation</h2>",
            table(["explanation", "divergences"], sorted(self.by_explanation.items())),
            "<h2>By carrier</h2>",
            table(["carrier", "divergences"], sorted(self.by_carrier.items())),
            "<h2>Status agreement per day</h2>",
            table(
                ["day", "agreement"],
                [
                    (d.isoformat(), f"{v:.2%}")
                    for d, v in sorted(self.status_agreement_by_day.items())
                ],
            ),
            "<h2>Worst examples</h2>",
            table(
                ["category", "key", "shipsync", "legacy", "explanation", "detail"],
                [
                    (d.category.value, d.key, d.shipsync, d.legacy, d.explanation.value, d.detail)
                    for d in self.worst(50)
                ],
            ),
            "</body></html>",
        ]
        return "".join(parts)


_EMPTY = Divergence(Category.STATUS, "", "", "")


def _row(divergence: Divergence) -> dict[str, str]:
    return {
        "category": divergence.category.value,
        "key": divergence.key,
        "shipsync": divergence.shipsync,
        "legacy": divergence.legacy,
        "explanation": divergence.explanation.value,
        "carrier": divergence.carrier,
        "day": divergence.day.isoformat() if divergence.day else "",
        "detail": divergence.detail,
    }


def build_report(
    divergences: list[Divergence],
    compared: dict[str, int],
    *,
    status_days: dict[date, int] | None = None,
    readiness: Readiness | None = None,
) -> ParallelRunReport:
    """Totals, per-day agreement (``status_days``: compared pickings per day) and the verdict."""
    criteria = readiness or Readiness()
    report = ParallelRunReport(divergences, compared)
    report.by_category = dict(Counter(d.category.value for d in divergences))
    report.by_carrier = dict(Counter(d.carrier or "?" for d in divergences))
    report.by_explanation = dict(Counter(d.explanation.value for d in divergences))
    wrong_per_day = Counter(d.day for d in divergences if d.category is Category.STATUS and d.day)
    for day, count in (status_days or {}).items():
        if count:
            report.status_agreement_by_day[day] = 1 - wrong_per_day.get(day, 0) / count
    days = [report.status_agreement_by_day[d] for d in sorted(report.status_agreement_by_day)]
    recent = days[-criteria.consecutive_days :]
    if len(recent) < criteria.consecutive_days:
        report.reasons.append(
            f"only {len(recent)} day(s) compared, {criteria.consecutive_days} required"
        )
    elif min(recent) < criteria.status_agreement:
        report.reasons.append(
            f"status agreement fell to {min(recent):.2%} in the last "
            f"{criteria.consecutive_days} days (required {criteria.status_agreement:.2%})"
        )
    largest = Decimal(0)
    for d in divergences:
        if d.category is Category.AMOUNT and d.detail:
            largest = max(largest, abs(Decimal(d.detail.split()[0])))
    if largest > criteria.max_amount_difference:
        report.reasons.append(
            f"a bill line differs by {largest} (tolerated {criteria.max_amount_difference})"
        )
    missing = sum(
        d.category in {Category.MISSING_IN_LEGACY, Category.MISSING_IN_SHIPSYNC}
        for d in divergences
    )
    if missing > criteria.max_missing:
        report.reasons.append(
            f"{missing} item(s) missing on one side (tolerated {criteria.max_missing})"
        )
    report.ready = not report.reasons
    if report.ready:
        report.reasons.append("every criterion met")
    return report
