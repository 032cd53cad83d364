"""Training and honest evaluation: snapshots without look-ahead, a temporal split, side by side.

Snapshots are taken after each scan of a finished history and, while a shipment stays silent,
once a day until its next scan (a person watching the feed would see that silence, so it is not
look-ahead). Labels come from the finished history. Training needs scikit-learn and numpy (the
``ml`` extra); the trained :class:`~shipsync.insight.RiskModel` does not.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shipsync.canonical import Milestone
from shipsync.errors import InsightError, MissingDependencyError
from shipsync.insight._baseline import BaselineRules
from shipsync.insight._features import NUMERIC_FEATURES, FeatureState, LaneStats
from shipsync.insight._history import History
from shipsync.insight._model import OUTCOMES, LinearHead, RiskModel

__all__ = [
    "HeadMetrics",
    "Snapshot",
    "TrainingReport",
    "evaluate",
    "fit_lanes",
    "snapshots",
    "train",
]

_TERMINAL = frozenset({Milestone.DELIVERED, Milestone.RETURNED, Milestone.LOST})
_SILENCE_STEP = timedelta(hours=24)
_MAX_SILENT_SNAPSHOTS = 4


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A shipment as of one moment, with the truth its finished history tells."""

    shipment_id: str
    at: datetime
    promised_by: datetime | None
    features: dict[str, float]
    late: bool
    outcome: str
    hours_to_delivery: float | None


def fit_lanes(histories: Iterable[History]) -> LaneStats:
    """Median transit and dwell per lane from finished histories."""

    def triples() -> Iterator[tuple[str, float | None, list[float]]]:
        for history in histories:
            scans = history.scans
            pickup = next((s.at for s in scans if s.milestone is Milestone.PICKED_UP), None)
            delivered = history.delivered_at
            transit = None
            if pickup is not None and delivered is not None:
                transit = (delivered - pickup).total_seconds() / 3600
            gaps = [
                (b.at - a.at).total_seconds() / 3600
                for a, b in itertools.pairwise(scans)
                if a.milestone is not Milestone.LABEL_CREATED
            ]
            yield history.profile.lane, transit, gaps

    return LaneStats.fit(triples())


def snapshots(
    histories: Iterable[History],
    lanes: LaneStats,
    *,
    per_shipment: int | None = None,
    seed: int = 0,
) -> Iterator[Snapshot]:
    """Snapshots of finished histories; at most ``per_shipment`` each (a seeded sample)."""
    rng = random.Random(seed)
    for history in histories:
        outcome, late = history.outcome, history.late
        if outcome is None or late is None:
            continue
        delivered = history.delivered_at
        state = FeatureState(history.profile, lanes)
        taken: list[Snapshot] = []
        scans = history.scans
        for index, scan in enumerate(scans):
            if scan.milestone in _TERMINAL:
                break
            state.observe(scan.milestone, scan.reason, scan.at, scan.facility)
            next_at = scans[index + 1].at if index + 1 < len(scans) else None
            moment = scan.at
            for _ in range(_MAX_SILENT_SNAPSHOTS + 1):
                if next_at is not None and moment >= next_at:
                    break
                hours = (delivered - moment).total_seconds() / 3600 if delivered else None
                taken.append(
                    Snapshot(
                        history.profile.shipment_id,
                        moment,
                        history.profile.promised_by,
                        state.features(moment),
                        late,
                        outcome,
                        hours if hours is None or hours >= 0 else 0.0,
                    )
                )
                moment += _SILENCE_STEP
        if per_shipment is not None and len(taken) > per_shipment:
            taken = rng.sample(taken, per_shipment)
        yield from taken


def _require_ml() -> Any:
    try:
        import numpy as np
        from sklearn.linear_model import LogisticRegression, Ridge
        from threadpoolctl import threadpool_limits
    except ImportError as exc:  # pragma: no cover - exercised where the extra is absent
        raise MissingDependencyError("training needs scikit-learn and numpy", extra="ml") from exc
    return np, LogisticRegression, Ridge, threadpool_limits


def train(
    histories: Sequence[History],
    *,
    per_shipment: int | None = 6,
    min_count: int = 20,
    seed: int = 0,
    trained_on: Mapping[str, Any] | None = None,
) -> RiskModel:
    """Fit lane statistics and the three heads on finished histories."""
    np, logistic_regression, ridge, threadpool_limits = _require_ml()
    # One BLAS thread while fitting: on a shared machine, threads spinning for each other made a
    # fit 8x slower, and one thread gives the same numbers on every machine.
    with threadpool_limits(1):
        return _train(
            np, logistic_regression, ridge, histories, per_shipment, min_count, seed, trained_on
        )


def _train(
    np: Any,
    LogisticRegression: Any,
    Ridge: Any,
    histories: Sequence[History],
    per_shipment: int | None,
    min_count: int,
    seed: int,
    trained_on: Mapping[str, Any] | None,
) -> RiskModel:
    lanes = fit_lanes(histories)
    rows = list(snapshots(histories, lanes, per_shipment=per_shipment, seed=seed))
    if not rows:
        raise InsightError("no finished shipment history with a promised delivery time to train on")
    counts: dict[str, int] = {}
    for row in rows:
        for name in row.features:
            if "=" in name:
                counts[name] = counts.get(name, 0) + 1
    features = list(NUMERIC_FEATURES) + sorted(n for n, c in counts.items() if c >= min_count)
    column = {name: i for i, name in enumerate(features)}
    matrix = np.zeros((len(rows), len(features)), dtype=np.float64)
    for r, row in enumerate(rows):
        for name, value in row.features.items():
            c = column.get(name)
            if c is not None:
                matrix[r, c] = value
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0
    standard = (matrix - mean) / scale

    late = np.array([row.late for row in rows], dtype=np.int8)
    late_fit = LogisticRegression(max_iter=500, C=1.0).fit(standard, late)
    outcome = np.array([OUTCOMES.index(row.outcome) for row in rows])
    outcome_fit = LogisticRegression(max_iter=500, C=1.0).fit(standard, outcome)
    outcome_heads = {}
    for index, name in enumerate(OUTCOMES):
        if index in outcome_fit.classes_:
            k = list(outcome_fit.classes_).index(index)
            if len(outcome_fit.classes_) == 2:  # binary: sklearn keeps one row for class 1
                sign = 1.0 if k == 1 else -1.0
                coef = sign * outcome_fit.coef_[0] / 2
                intercept = sign * float(outcome_fit.intercept_[0]) / 2
            else:
                coef, intercept = outcome_fit.coef_[k], float(outcome_fit.intercept_[k])
        else:  # never seen in training: as good as impossible, never a crash
            coef, intercept = np.zeros(len(features)), -30.0
        outcome_heads[name] = LinearHead(features, coef.tolist(), intercept, mean, scale)

    delivered = [r for r, row in enumerate(rows) if row.hours_to_delivery is not None]
    target = np.log1p(np.array([rows[r].hours_to_delivery for r in delivered], dtype=float))
    eta_fit = Ridge(alpha=1.0).fit(standard[delivered], target)
    residuals = target - eta_fit.predict(standard[delivered])
    low, high = np.quantile(residuals, [0.1, 0.9])
    return RiskModel(
        features=features,
        lanes=lanes,
        late=LinearHead(
            features, late_fit.coef_[0].tolist(), float(late_fit.intercept_[0]), mean, scale
        ),
        outcome=outcome_heads,
        eta=LinearHead(features, eta_fit.coef_.tolist(), float(eta_fit.intercept_), mean, scale),
        eta_residuals=(float(low), float(high)),
        trained_on={"shipments": len(histories), "snapshots": len(rows), **(trained_on or {})},
    )


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeadMetrics:
    """Precision, recall, ROC-AUC and calibration of one yes/no prediction."""

    precision: float
    recall: float
    roc_auc: float
    brier: float | None
    #: (mean predicted, observed rate, count) per probability decile; empty for rules
    calibration: tuple[tuple[float, float, int], ...] = ()


@dataclass(slots=True)
class TrainingReport:
    """Model and baseline side by side on the same held-out snapshots."""

    snapshots: int
    shipments: int
    late_rate: float
    exception_rate: float
    model_late: HeadMetrics
    baseline_late: HeadMetrics
    model_exception: HeadMetrics
    baseline_exception: HeadMetrics
    eta_mae_hours: float
    eta_coverage: float
    #: median hours before the promise of the first correct late alert, and the share alerted
    model_lead_hours: float
    model_alerted_before_promise: float
    baseline_lead_hours: float
    baseline_alerted_before_promise: float
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The report as a plain-text table."""

        def row(name: str, m: HeadMetrics) -> str:
            brier = "" if m.brier is None else f"{m.brier:.3f}"
            return f"{name:<22}{m.precision:>10.3f}{m.recall:>9.3f}{m.roc_auc:>9.3f}{brier:>8}"

        lines = [
            f"held-out: {self.shipments:,} shipments, {self.snapshots:,} snapshots; "
            f"late rate {self.late_rate:.3f}, exception rate {self.exception_rate:.3f}",
            f"{'what':<22}{'precision':>10}{'recall':>9}{'ROC-AUC':>9}{'Brier':>8}",
            row("late: model", self.model_late),
            row("late: rules", self.baseline_late),
            row("exception: model", self.model_exception),
            row("exception: rules", self.baseline_exception),
            f"predicted delivery: MAE {self.eta_mae_hours:.1f} h, "
            f"80% interval covers {self.eta_coverage:.1%}",
            f"late alerts before the promise: model {self.model_alerted_before_promise:.1%} of "
            f"late shipments, median {self.model_lead_hours:.0f} h ahead; rules "
            f"{self.baseline_alerted_before_promise:.1%}, median {self.baseline_lead_hours:.0f} h",
        ]
        return "\n".join(lines + self.notes)


def _roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Mann-Whitney AUC with ties counted half."""
    pairs = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return math.nan
    rank_sum, index = 0.0, 0
    while index < len(pairs):
        end = index
        while end < len(pairs) and pairs[end][0] == pairs[index][0]:
            end += 1
        mid_rank = (index + end + 1) / 2
        rank_sum += mid_rank * sum(1 for _, y in pairs[index:end] if y)
        index = end
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _metrics(
    scores: Sequence[float], decided: Sequence[bool], labels: Sequence[bool], probabilities: bool
) -> HeadMetrics:
    tp = sum(1 for d, y in zip(decided, labels, strict=True) if d and y)
    fp = sum(1 for d, y in zip(decided, labels, strict=True) if d and not y)
    fn = sum(1 for d, y in zip(decided, labels, strict=True) if not d and y)
    brier = None
    calibration: list[tuple[float, float, int]] = []
    if probabilities:
        brier = statistics.fmean((s - y) ** 2 for s, y in zip(scores, labels, strict=True))
        bins: dict[int, list[tuple[float, bool]]] = {}
        for s, y in zip(scores, labels, strict=True):
            bins.setdefault(min(int(s * 10), 9), []).append((s, y))
        for b in sorted(bins):
            items = bins[b]
            calibration.append(
                (
                    statistics.fmean(s for s, _ in items),
                    sum(y for _, y in items) / len(items),
                    len(items),
                )
            )
    return HeadMetrics(
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        roc_auc=_roc_auc(scores, labels),
        brier=brier,
        calibration=tuple(calibration),
    )


def _lead(alerts: Mapping[str, datetime], promised: Mapping[str, datetime]) -> tuple[float, float]:
    leads = [
        (promised[sid] - at).total_seconds() / 3600
        for sid, at in alerts.items()
        if at < promised[sid]
    ]
    share = len(leads) / len(promised) if promised else 0.0
    return (statistics.median(leads) if leads else 0.0), share


def evaluate(
    model: RiskModel,
    histories: Sequence[History],
    *,
    baseline: BaselineRules | None = None,
    threshold: float = 0.5,
) -> TrainingReport:
    """Measure the model and the rules on held-out histories (every snapshot, no sampling)."""
    rules = baseline or BaselineRules()
    rows = list(snapshots(histories, model.lanes))
    late_labels = [row.late for row in rows]
    exc_labels = [row.outcome != "delivered" for row in rows]
    late_p, exc_p, rule_late, rule_exc = [], [], [], []
    errors, covered = [], 0
    model_alert: dict[str, datetime] = {}
    rule_alert: dict[str, datetime] = {}
    late_promises: dict[str, datetime] = {}
    for row in rows:
        values = row.features
        p_late = model.late_probability(values)
        outcomes = model.outcome_probabilities(values)
        late_p.append(p_late)
        exc_p.append(1.0 - outcomes["delivered"])
        r_late = rules.late_score(values)
        rule_late.append(float(r_late))
        rule_exc.append(float(rules.exception_score(values)))
        if row.late and row.promised_by is not None:
            late_promises[row.shipment_id] = row.promised_by
            if p_late >= threshold:
                model_alert.setdefault(row.shipment_id, row.at)
            if r_late >= 1:
                rule_alert.setdefault(row.shipment_id, row.at)
        if row.hours_to_delivery is not None:
            log_hours = max(model.eta(values), 0.0)
            predicted = math.expm1(log_hours)
            errors.append(abs(predicted - row.hours_to_delivery))
            low = math.expm1(max(log_hours + model.eta_residuals[0], 0.0))
            high = math.expm1(max(log_hours + model.eta_residuals[1], 0.0))
            covered += low <= row.hours_to_delivery <= high
    model_lead, model_share = _lead(model_alert, late_promises)
    rule_lead, rule_share = _lead(rule_alert, late_promises)
    return TrainingReport(
        snapshots=len(rows),
        shipments=len({row.shipment_id for row in rows}),
        late_rate=sum(late_labels) / len(rows) if rows else 0.0,
        exception_rate=sum(exc_labels) / len(rows) if rows else 0.0,
        model_late=_metrics(late_p, [p >= threshold for p in late_p], late_labels, True),
        baseline_late=_metrics(rule_late, [s >= 1 for s in rule_late], late_labels, False),
        model_exception=_metrics(exc_p, [p >= threshold for p in exc_p], exc_labels, True),
        baseline_exception=_metrics(rule_exc, [s >= 1 for s in rule_exc], exc_labels, False),
        eta_mae_hours=statistics.fmean(errors) if errors else math.nan,
        eta_coverage=covered / len(errors) if errors else math.nan,
        model_lead_hours=model_lead,
        model_alerted_before_promise=model_share,
        baseline_lead_hours=rule_lead,
        baseline_alerted_before_promise=rule_share,
    )
