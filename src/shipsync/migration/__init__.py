"""Migration from a legacy integration: shadow mode, parallel runs and a divergence report.

Run shipsync beside the legacy connector with its Odoo writes recorded instead of sent
(:class:`~shipsync.odoo.ShadowGateway`), read what the legacy side wrote (from Odoo or an
export), and :func:`parallel_run` tells where the two disagree, why when the cause is known, and
whether the cutover criteria are met. See docs/migration.md.
"""

from collections import Counter
from datetime import date

from shipsync.migration._compare import (
    Category,
    ComparisonRules,
    Divergence,
    Explanation,
    compare,
)
from shipsync.migration._report import ParallelRunReport, Readiness, build_report
from shipsync.migration._sides import (
    BillSide,
    ColumnMapping,
    ExportProblem,
    PickingSide,
    Side,
    legacy_side_from_odoo,
    legacy_side_from_rows,
    note_class,
    read_export,
    shipsync_side,
)

__all__ = [
    "BillSide",
    "Category",
    "ColumnMapping",
    "ComparisonRules",
    "Divergence",
    "Explanation",
    "ExportProblem",
    "ParallelRunReport",
    "PickingSide",
    "Readiness",
    "Side",
    "build_report",
    "compare",
    "legacy_side_from_odoo",
    "legacy_side_from_rows",
    "note_class",
    "parallel_run",
    "read_export",
    "shipsync_side",
]


def parallel_run(
    ours: Side,
    legacy: Side,
    *,
    rules: ComparisonRules | None = None,
    readiness: Readiness | None = None,
) -> ParallelRunReport:
    """Compare the sides and judge cutover readiness."""
    divergences, compared = compare(ours, legacy, rules)
    days: Counter[date] = Counter(
        p.updated_at.date()
        for p in ours.pickings.values()
        if p.updated_at is not None
        and p.status is not None
        and p.name in legacy.pickings
        and legacy.pickings[p.name].status is not None
    )
    return build_report(
        divergences,
        compared,
        status_days=dict(days),
        readiness=readiness,
    )
