"""Comparing the two sides: divergences by category, explained where the cause is known.

Matching: pickings by name (and, for a picking only one side knows, by a shared tracking
number), bills by invoice number, bill lines by (tracking number, charge). Rules per field:

- **status**: canonical milestones compared; a difference is explained as a *regression* when the
  legacy side's own notes show it saw the later milestone (it went back on an out-of-order scan),
  as a *missed event* when they do not;
- **timing**: the lag between the two sides' last status change beyond ``max_lag``;
- **notes**: the multiset of note content classes; extra legacy notes of a class are a *missed
  duplicate*, missing ones a *missed event*;
- **packages**: tracking numbers; a legacy set that is a strict subset is a *package never
  recorded*;
- **amount**: exact per line, currency-aware; a difference of at most one minor unit where the
  legacy amount is below shipsync's is a *float rounding* (the float truncation of ``0.29`` to
  ``0.28`` is the classic);
- **missing**: a picking, bill or line on one side only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from shipsync.canonical import SORT_RANK as _RANK
from shipsync.canonical import Milestone, Money
from shipsync.migration._sides import BillSide, PickingSide, Side

__all__ = ["Category", "ComparisonRules", "Divergence", "Explanation", "compare"]


class Category(enum.StrEnum):
    """What differs."""

    STATUS = "status"
    TIMING = "timing"
    NOTES = "notes"
    PACKAGES = "packages"
    AMOUNT = "amount"
    CURRENCY = "currency"
    MISSING_IN_LEGACY = "missing_in_legacy"
    MISSING_IN_SHIPSYNC = "missing_in_shipsync"


class Explanation(enum.StrEnum):
    """A known cause, when the evidence shows it."""

    LEGACY_REGRESSED = "legacy regressed a status on an out-of-order scan"
    LEGACY_MISSED_EVENT = "legacy never recorded an event"
    LEGACY_MISSED_DUPLICATE = "legacy missed a duplicate and posted it twice"
    LEGACY_FLOAT_ROUNDING = "legacy rounded a float amount"
    LEGACY_MISSED_PACKAGE = "legacy never recorded a package"
    UNKNOWN = "cause unknown"


@dataclass(frozen=True, slots=True)
class ComparisonRules:
    """Tolerances: the status lag that counts as a timing divergence."""

    max_lag: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Divergence:
    """One difference between the sides, both values side by side."""

    category: Category
    key: str
    shipsync: str
    legacy: str
    explanation: Explanation = Explanation.UNKNOWN
    carrier: str = ""
    day: date | None = None
    detail: str = ""


def _rank(milestone: Milestone | None) -> int:
    return -1 if milestone is None else _RANK.get(milestone, -1)


def _status(ours: PickingSide, theirs: PickingSide) -> Iterator[Divergence]:
    if ours.status is None or theirs.status is None or ours.status is theirs.status:
        return
    # Statuses that map to one value of the legacy field agree (in transit vs OCA in_transit).
    if ours.status_raw is not None and ours.status_raw == theirs.status_raw:
        return
    saw_later = theirs.notes.get(ours.status.value, 0) > 0
    behind = _rank(theirs.status) < _rank(ours.status)
    cause = Explanation.UNKNOWN
    if behind:
        cause = Explanation.LEGACY_REGRESSED if saw_later else Explanation.LEGACY_MISSED_EVENT
    yield Divergence(
        Category.STATUS,
        ours.name,
        ours.status.value,
        theirs.status.value,
        cause,
        detail=f"raw values {ours.status_raw!r} / {theirs.status_raw!r}",
    )


def _notes(ours: PickingSide, theirs: PickingSide) -> Iterator[Divergence]:
    if ours.notes == theirs.notes:
        return
    extra = theirs.notes - ours.notes
    missing = ours.notes - theirs.notes
    if missing:
        cause = Explanation.LEGACY_MISSED_EVENT
    elif extra:
        cause = Explanation.LEGACY_MISSED_DUPLICATE
    else:  # pragma: no cover - unequal counters differ one way or the other
        cause = Explanation.UNKNOWN
    yield Divergence(
        Category.NOTES,
        ours.name,
        str(sum(ours.notes.values())),
        str(sum(theirs.notes.values())),
        cause,
        detail=", ".join(
            [f"-{k} x{v}" for k, v in sorted(missing.items())]
            + [f"+{k} x{v}" for k, v in sorted(extra.items())]
        ),
    )


def _packages(ours: PickingSide, theirs: PickingSide) -> Iterator[Divergence]:
    if not ours.tracking_numbers or ours.tracking_numbers == theirs.tracking_numbers:
        return
    cause = (
        Explanation.LEGACY_MISSED_PACKAGE
        if theirs.tracking_numbers < ours.tracking_numbers
        else Explanation.UNKNOWN
    )
    yield Divergence(
        Category.PACKAGES,
        ours.name,
        ",".join(sorted(ours.tracking_numbers)),
        ",".join(sorted(theirs.tracking_numbers)),
        cause,
    )


def _timing(ours: PickingSide, theirs: PickingSide, rules: ComparisonRules) -> Iterator[Divergence]:
    if ours.updated_at is None or theirs.updated_at is None:
        return
    lag = theirs.updated_at - ours.updated_at
    if abs(lag) > rules.max_lag:
        yield Divergence(
            Category.TIMING,
            ours.name,
            ours.updated_at.isoformat(),
            theirs.updated_at.isoformat(),
            detail=f"legacy {'after' if lag > timedelta(0) else 'before'} by {abs(lag)}",
        )


def _bill(ours: BillSide, theirs: BillSide) -> Iterator[Divergence]:
    if ours.currency != theirs.currency:
        yield Divergence(Category.CURRENCY, ours.invoice_number, ours.currency, theirs.currency)
        return
    for key in sorted(ours.lines.keys() | theirs.lines.keys()):
        label = f"{ours.invoice_number} {key[0]} {key[1]}"
        mine, other = ours.lines.get(key), theirs.lines.get(key)
        if other is None:
            yield Divergence(Category.MISSING_IN_LEGACY, label, str(mine), "")
        elif mine is None:
            yield Divergence(Category.MISSING_IN_SHIPSYNC, label, "", str(other))
        elif mine != other:
            difference = mine - other
            cause = Explanation.UNKNOWN
            if (
                Money.zero(mine.currency)
                < difference
                <= Money.of(_one_minor_unit(mine.currency), mine.currency)
            ):
                cause = Explanation.LEGACY_FLOAT_ROUNDING
            yield Divergence(
                Category.AMOUNT, label, str(mine), str(other), cause, detail=f"{difference}"
            )


def _one_minor_unit(currency: str) -> str:
    from shipsync.canonical import CURRENCY_EXPONENTS

    exponent = CURRENCY_EXPONENTS[currency]
    return "1" if exponent == 0 else "0." + "0" * (exponent - 1) + "1"


def compare(
    ours: Side, legacy: Side, rules: ComparisonRules | None = None
) -> tuple[list[Divergence], dict[str, int]]:
    """Every divergence, and the number of compared items per category (the denominators)."""
    rules = rules or ComparisonRules()
    found: list[Divergence] = []
    compared = {"pickings": 0, "status": 0, "bills": 0, "lines": 0}
    by_tracking = {t: p for p in legacy.pickings.values() for t in p.tracking_numbers}
    for name, mine in sorted(ours.pickings.items()):
        theirs = legacy.pickings.get(name)
        if theirs is None:
            theirs = next(
                (by_tracking[t] for t in sorted(mine.tracking_numbers) if t in by_tracking), None
            )
        day = mine.updated_at.date() if mine.updated_at else None
        if theirs is None:
            found.append(
                Divergence(Category.MISSING_IN_LEGACY, name, mine.status or "", "", day=day)
            )
            continue
        compared["pickings"] += 1
        if mine.status is not None and theirs.status is not None:
            compared["status"] += 1
        carrier = theirs.carrier or mine.carrier
        for item in (
            *_status(mine, theirs),
            *_notes(mine, theirs),
            *_packages(mine, theirs),
            *_timing(mine, theirs, rules),
        ):
            found.append(
                Divergence(
                    item.category,
                    item.key,
                    item.shipsync,
                    item.legacy,
                    item.explanation,
                    carrier,
                    day,
                    item.detail,
                )
            )
    matched = {p.name for p in ours.pickings.values()} | {
        legacy.pickings[n].name for n in legacy.pickings if n in ours.pickings
    }
    for name, theirs in sorted(legacy.pickings.items()):
        if name not in matched and not (theirs.tracking_numbers & _all_tracking(ours)):
            found.append(Divergence(Category.MISSING_IN_SHIPSYNC, name, "", theirs.status or ""))
    for number, bill in sorted(ours.bills.items()):
        other = legacy.bills.get(number)
        if other is None:
            found.append(Divergence(Category.MISSING_IN_LEGACY, number, bill.currency, ""))
            continue
        compared["bills"] += 1
        compared["lines"] += len(bill.lines)
        found.extend(_bill(bill, other))
    for number, other in sorted(legacy.bills.items()):
        if number not in ours.bills:
            found.append(Divergence(Category.MISSING_IN_SHIPSYNC, number, "", other.currency))
    return found, compared


def _all_tracking(side: Side) -> set[str]:
    return {t for p in side.pickings.values() for t in p.tracking_numbers}
