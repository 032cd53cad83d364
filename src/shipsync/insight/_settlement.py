"""Settlement intelligence: likely causes of invoice discrepancies, and unusual invoice timing.

Reconciliation (:mod:`shipsync.settlement`) already names a discrepancy's *kind* from the charge
types a carrier bills. When a carrier folds a correction into the base freight, the kind is a bare
``overcharge`` and finance must guess why. :class:`DiscrepancyCauseModel` guesses for them, beside
:func:`rule_cause`, the rules a finance person would apply; both read a
:class:`DiscrepancyContext` built from the invoice line and what shipsync knows of the shipment.

:class:`InvoiceTimingMonitor` flags invoices that arrive much later than usual for their carrier
and lane: robust statistics (median and MAD of the lag in days, like the charge-anomaly
detector), no model.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shipsync.errors import ConfigurationError, ModelFileError
from shipsync.insight._model import LinearHead

__all__ = [
    "Cause",
    "DiscrepancyCauseModel",
    "DiscrepancyContext",
    "InvoiceTimingMonitor",
    "LateInvoice",
    "rule_cause",
]

_MAD_TO_SIGMA = 1.4826


class Cause(enum.StrEnum):
    """Why a line was billed differently from the quote."""

    DIMENSION_CORRECTION = "dimension_correction"
    RESIDENTIAL_SURCHARGE = "residential_surcharge"
    DUPLICATE = "duplicate"
    FUEL_CHANGE = "fuel_change"
    OTHER = "other"


CAUSES: tuple[Cause, ...] = tuple(Cause)


@dataclass(frozen=True, slots=True)
class DiscrepancyContext:
    """What is known about one differing invoice line (ratios are billed / expected)."""

    difference_ratio: float
    volumetric_ratio: float
    residential: bool
    times_billed_before: int
    fuel_ratio: float
    days_after_ship: float

    def features(self) -> dict[str, float]:
        """The numeric features the cause model reads."""
        return {
            "difference_ratio": self.difference_ratio,
            "volumetric_ratio": self.volumetric_ratio,
            "residential": 1.0 if self.residential else 0.0,
            "billed_before": float(min(self.times_billed_before, 3)),
            "fuel_ratio": self.fuel_ratio,
            "days_after_ship": min(self.days_after_ship, 120.0) / 30.0,
        }


_FEATURES = (
    "difference_ratio",
    "volumetric_ratio",
    "residential",
    "billed_before",
    "fuel_ratio",
    "days_after_ship",
)


def rule_cause(context: DiscrepancyContext) -> Cause:
    """The rules: billed before is a duplicate; bulky is dimensions; residential; fuel; other."""
    if context.times_billed_before > 0:
        return Cause.DUPLICATE
    if context.volumetric_ratio > 1.2:
        return Cause.DIMENSION_CORRECTION
    if context.residential:
        return Cause.RESIDENTIAL_SURCHARGE
    if context.fuel_ratio > 1.05:
        return Cause.FUEL_CHANGE
    return Cause.OTHER


class DiscrepancyCauseModel:
    """Multinomial logistic regression over :class:`DiscrepancyContext` features."""

    def __init__(self, heads: Mapping[Cause, LinearHead]) -> None:
        if tuple(heads) != CAUSES:
            raise ModelFileError(f"cause model: heads must be {[c.value for c in CAUSES]}")
        self.heads = dict(heads)

    def probabilities(self, context: DiscrepancyContext) -> dict[Cause, float]:
        """Probability of each cause."""
        values = context.features()
        logits = [head(values) for head in self.heads.values()]
        top = max(logits)
        exps = [math.exp(z - top) for z in logits]
        total = sum(exps)
        return {cause: e / total for cause, e in zip(CAUSES, exps, strict=True)}

    def cause(self, context: DiscrepancyContext) -> Cause:
        """The most probable cause."""
        probabilities = self.probabilities(context)
        return max(probabilities, key=lambda c: probabilities[c])

    @classmethod
    def train(cls, rows: Sequence[tuple[DiscrepancyContext, Cause]]) -> DiscrepancyCauseModel:
        """Fit on labelled lines (needs the ``ml`` extra)."""
        from shipsync.insight._train import _require_ml

        np, logistic_regression, _, threadpool_limits = _require_ml()
        matrix = np.array([[r[0].features()[f] for f in _FEATURES] for r in rows], dtype=float)
        labels = np.array([CAUSES.index(r[1]) for r in rows])
        mean = matrix.mean(axis=0)
        scale = matrix.std(axis=0)
        scale[scale == 0] = 1.0
        with threadpool_limits(1):
            fit = logistic_regression(max_iter=500).fit((matrix - mean) / scale, labels)
        heads = {}
        for index, cause in enumerate(CAUSES):
            if index in fit.classes_ and len(fit.classes_) > 2:
                k = list(fit.classes_).index(index)
                coef, intercept = fit.coef_[k].tolist(), float(fit.intercept_[k])
            else:
                coef, intercept = [0.0] * len(_FEATURES), -30.0
            heads[cause] = LinearHead(_FEATURES, coef, intercept, mean.tolist(), scale.tolist())
        return cls(heads)

    def to_json(self) -> dict[str, Any]:
        """Parameters per cause."""
        return {cause.value: head.to_json() for cause, head in self.heads.items()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DiscrepancyCauseModel:
        """Read what :meth:`to_json` wrote."""
        try:
            return cls(
                {
                    cause: LinearHead(
                        _FEATURES,
                        [float(x) for x in raw[cause.value]["coef"]],
                        float(raw[cause.value]["intercept"]),
                        [float(x) for x in raw[cause.value]["mean"]],
                        [float(x) for x in raw[cause.value]["scale"]],
                    )
                    for cause in CAUSES
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"cause model: missing or malformed part ({exc!r})") from exc


@dataclass(frozen=True, slots=True)
class LateInvoice:
    """An invoice whose lag after shipping is unusual for its group."""

    group: tuple[str, str]
    lag_days: float
    median_days: float
    robust_z: float

    @property
    def explanation(self) -> str:
        """In words."""
        carrier, lane = self.group
        return (
            f"invoiced {self.lag_days:.0f} days after shipping; {carrier} on {lane} usually "
            f"invoices after {self.median_days:.0f} days (robust z {self.robust_z:.1f})"
        )


class InvoiceTimingMonitor:
    """Median and MAD of invoice lag (days) per (carrier, lane); flags lags beyond ``threshold``."""

    def __init__(self, *, threshold: float = 4.0, min_samples: int = 20) -> None:
        if not threshold > 0 or min_samples < 3:
            raise ConfigurationError(
                "InvoiceTimingMonitor: threshold must be > 0 and min_samples >= 3"
            )
        self.threshold = threshold
        self.min_samples = min_samples
        self._lags: dict[tuple[str, str], list[float]] = {}
        self._stats: dict[tuple[str, str], tuple[float, float]] = {}

    def observe(self, samples: Iterable[tuple[str, str, float]]) -> None:
        """Learn from past ``(carrier, lane, lag in days)``."""
        for carrier, lane, lag in samples:
            self._lags.setdefault((carrier, lane), []).append(lag)
        self._stats.clear()

    def _group(self, group: tuple[str, str]) -> tuple[float, float] | None:
        if group not in self._stats:
            lags = self._lags.get(group, [])
            if len(lags) < self.min_samples:
                return None
            median = statistics.median(lags)
            mad = statistics.median(abs(x - median) for x in lags)
            self._stats[group] = (median, max(mad * _MAD_TO_SIGMA, 0.5))
        return self._stats[group]

    def check(self, carrier: str, lane: str, lag_days: float) -> LateInvoice | None:
        """A :class:`LateInvoice` when the lag is unusually long, else None."""
        stats = self._group((carrier, lane))
        if stats is None:
            return None
        median, scale = stats
        z = (lag_days - median) / scale
        if z <= self.threshold:
            return None
        return LateInvoice((carrier, lane), lag_days, median, z)
