"""Charge anomalies: amounts unusual for their carrier, service, lane and charge type.

Robust statistics, no model: for each group (carrier, service, origin, destination, charge type,
currency) the detector keeps a bounded, seeded reservoir sample of billed amounts, and from it the
median and the median absolute deviation (MAD). An amount is anomalous when its robust z-score,
``|amount - median| / (1.4826 * MAD)``, exceeds the threshold (5 by default). When the MAD is
zero (a flat surcharge), the scale falls back to 1% of the median, but at least one minor unit.
Everything is ``Decimal``; memory is bounded by the number of groups times the sample size.

Typical use: :meth:`ChargeAnomalyDetector.observe` past invoices (or the current one in a first
pass), then :meth:`~ChargeAnomalyDetector.check` each line. Each anomaly says which charge, the
expected range and how far out it is, in words a finance user can read.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

from shipsync.canonical import CURRENCY_EXPONENTS, ChargeType
from shipsync.errors import ConfigurationError
from shipsync.settlement._parse import InvoiceRow

__all__ = ["ChargeAnomaly", "ChargeAnomalyDetector", "GroupStats"]

_MAD_TO_SIGMA = Decimal("1.4826")
_FLAT_SCALE = Decimal("0.01")


class GroupStats(NamedTuple):
    """The robust statistics of one group."""

    median: Decimal
    scale: Decimal
    samples: int


class ChargeAnomaly(NamedTuple):
    """One charge whose amount is unusual for its group."""

    invoice_number: str
    line_number: int
    tracking_number: str
    charge_type: ChargeType
    amount: Decimal
    currency: str
    median: Decimal
    low: Decimal
    high: Decimal
    score: Decimal
    explanation: str


_Key = tuple[str, str, str, str, ChargeType, str]


class ChargeAnomalyDetector:
    """Flags charges far from the median of their group.

    ``threshold`` is the robust z-score above which an amount is anomalous; ``min_samples`` the
    number of observations a group needs before it judges anything; ``sample_size`` bounds the
    reservoir kept per group.
    """

    def __init__(
        self,
        *,
        carrier: str,
        threshold: Decimal | int | str = 5,
        min_samples: int = 20,
        sample_size: int = 2048,
        seed: int = 0,
    ) -> None:
        threshold = Decimal(threshold)
        if not threshold.is_finite() or threshold <= 0:
            raise ConfigurationError("the anomaly threshold must be a positive number")
        if min_samples < 3 or sample_size < min_samples:
            raise ConfigurationError("need 3 <= min_samples <= sample_size")
        self.carrier = carrier
        self.threshold = threshold
        self.min_samples = min_samples
        self.sample_size = sample_size
        self._rng = random.Random(seed)
        self._samples: dict[_Key, list[Decimal]] = {}
        self._seen: dict[_Key, int] = {}
        self._stats: dict[_Key, GroupStats] = {}

    def _key(self, row: InvoiceRow, kind: ChargeType) -> _Key:
        return (
            self.carrier,
            row.service or "?",
            row.origin or "?",
            row.destination or "?",
            kind,
            row.currency,
        )

    def observe(self, row: InvoiceRow) -> None:
        """Add a line's charges to the samples of their groups."""
        for kind, amount in row.charges:
            key = self._key(row, kind)
            seen = self._seen.get(key, 0) + 1
            self._seen[key] = seen
            sample = self._samples.setdefault(key, [])
            if len(sample) < self.sample_size:
                sample.append(amount)
            else:
                slot = self._rng.randrange(seen)
                if slot < self.sample_size:
                    sample[slot] = amount
            self._stats.pop(key, None)

    def observe_all(self, rows: Iterable[InvoiceRow | object]) -> None:
        """Observe every :class:`InvoiceRow` of ``rows`` (anything else is skipped)."""
        for row in rows:
            if isinstance(row, InvoiceRow):
                self.observe(row)

    def stats(self, key: _Key) -> GroupStats | None:
        """The group's statistics, or ``None`` while it has too few samples."""
        found = self._stats.get(key)
        if found is not None:
            return found
        sample = self._samples.get(key)
        if sample is None or len(sample) < self.min_samples:
            return None
        ordered = sorted(sample)
        median = _median(ordered)
        mad = _median(sorted(abs(value - median) for value in ordered))
        quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(key[5], 2))
        scale = max(mad * _MAD_TO_SIGMA, abs(median) * _FLAT_SCALE, quantum)
        found = GroupStats(median, scale, len(sample))
        self._stats[key] = found
        return found

    def check(self, row: InvoiceRow) -> list[ChargeAnomaly]:
        """The anomalous charges of one line (usually none)."""
        found: list[ChargeAnomaly] = []
        for kind, amount in row.charges:
            stats = self.stats(self._key(row, kind))
            if stats is None:
                continue
            score = abs(amount - stats.median) / stats.scale
            if score <= self.threshold:
                continue
            quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(row.currency, 2))
            reach = stats.scale * self.threshold
            low = (stats.median - reach).quantize(quantum)
            high = (stats.median + reach).quantize(quantum)
            way = "above" if amount > stats.median else "below"
            lane = f"{row.service or 'any service'} {row.origin or '?'}→{row.destination or '?'}"
            found.append(
                ChargeAnomaly(
                    row.invoice_number,
                    row.line_number,
                    row.tracking_number,
                    kind,
                    amount,
                    row.currency,
                    stats.median,
                    low,
                    high,
                    score.quantize(Decimal("0.1")),
                    f"{kind.value.replace('_', ' ')} of {amount} {row.currency} on {lane} is"
                    f" {way} the usual range {low} to {high} {row.currency} (median"
                    f" {stats.median} over {stats.samples} charges):"
                    f" {score.quantize(Decimal('0.1'))} robust deviations out",
                )
            )
        return found

    def scan(self, rows: Iterable[InvoiceRow | object]) -> Iterator[ChargeAnomaly]:
        """Check every :class:`InvoiceRow` of ``rows``."""
        for row in rows:
            if isinstance(row, InvoiceRow):
                yield from self.check(row)


def _median(ordered: list[Decimal]) -> Decimal:
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
