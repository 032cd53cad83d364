"""The learned risk model: three linear heads scored in pure Python, saved as plain parameters.

- **late**: logistic regression, probability that the shipment is delivered after its promised
  time (or never);
- **outcome**: multinomial logistic regression over ``delivered``, ``failed_attempt``,
  ``returned`` and ``lost``; the exception risk is ``1 - P(delivered)``;
- **eta**: ridge regression of ``log1p(hours until delivery)``, with the 10th and 90th percentile
  of its training residuals as the interval.

Linear models are chosen on purpose: they score in microseconds without numpy on the online
path, their parameters are a short list of numbers that a JSON file holds exactly (no pickle, so
no code runs when a model file loads), and each prediction decomposes into per-feature
contributions a person can read. Training uses scikit-learn (the ``ml`` extra); scoring needs
nothing beyond the standard library.

The model file is JSON with a ``format``, a ``version`` and a SHA-256 of its canonical body: a
file from another format version, or one whose numbers were edited, is refused with
:class:`~shipsync.errors.ModelFileError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shipsync.errors import ModelFileError
from shipsync.insight._features import FeatureState, LaneStats, describe_feature

__all__ = [
    "FORMAT",
    "OUTCOMES",
    "VERSION",
    "Explanation",
    "LinearHead",
    "Prediction",
    "RiskModel",
]

FORMAT = "shipsync.insight.model"
VERSION = 1
OUTCOMES: tuple[str, ...] = ("delivered", "failed_attempt", "returned", "lost")


@dataclass(frozen=True, slots=True)
class Explanation:
    """One feature's share in a prediction: its value, its push on the log-odds, in words."""

    feature: str
    value: float
    contribution: float
    text: str

    @property
    def direction(self) -> str:
        """``raises`` or ``lowers`` the risk."""
        return "raises" if self.contribution > 0 else "lowers"


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the model says about one shipment at one moment."""

    shipment_id: str
    at: datetime
    late_probability: float
    outcome_probabilities: Mapping[str, float]
    predicted_delivery: datetime | None
    interval: tuple[datetime, datetime] | None
    explanations: tuple[Explanation, ...]
    missing: tuple[str, ...] = ()

    @property
    def exception_probability(self) -> float:
        """Probability the shipment ends in an exception class (failed attempt, return, loss)."""
        return 1.0 - self.outcome_probabilities.get("delivered", 0.0)

    @property
    def likely_exception(self) -> str:
        """The most probable exception class."""
        return max(OUTCOMES[1:], key=lambda name: self.outcome_probabilities.get(name, 0.0))


class LinearHead:
    """``intercept + sum(weight[f] * value[f])`` over the features present, weights pre-scaled.

    Standardisation is folded into the weights at construction, so scoring touches only the
    features a shipment has.
    """

    __slots__ = ("coef", "intercept", "mean", "raw_intercept", "scale", "weights")

    def __init__(
        self,
        features: Sequence[str],
        coef: Sequence[float],
        intercept: float,
        mean: Sequence[float],
        scale: Sequence[float],
    ) -> None:
        if not len(features) == len(coef) == len(mean) == len(scale):
            raise ModelFileError("model head: features, coef, mean and scale differ in length")
        if any(s <= 0 or not math.isfinite(s) for s in scale):
            raise ModelFileError("model head: scale must be positive and finite")
        if not all(math.isfinite(v) for v in (*coef, *mean, intercept)):
            raise ModelFileError("model head: every parameter must be a finite number")
        self.coef = dict(zip(features, coef, strict=True))
        self.mean = dict(zip(features, mean, strict=True))
        self.scale = dict(zip(features, scale, strict=True))
        self.raw_intercept = intercept
        self.weights = {f: c / s for f, c, s in zip(features, coef, scale, strict=True)}
        self.intercept = intercept - sum(
            c * m / s for c, m, s in zip(coef, mean, scale, strict=True)
        )

    def __call__(self, values: Mapping[str, float]) -> float:
        weights = self.weights
        total = self.intercept
        for name, value in values.items():
            weight = weights.get(name)
            if weight is not None:
                total += weight * value
        return total

    def contributions(self, values: Mapping[str, float]) -> list[tuple[str, float, float]]:
        """``(feature, value, push on the output)`` against an average shipment, per feature."""
        out = []
        for name, coef in self.coef.items():
            value = values.get(name, 0.0)
            push = coef * (value - self.mean[name]) / self.scale[name]
            if push:
                out.append((name, value, push))
        return out

    def to_json(self) -> dict[str, Any]:
        """Parameters in feature order of the model file."""
        names = list(self.coef)
        return {
            "coef": [self.coef[n] for n in names],
            "intercept": self.raw_intercept,
            "mean": [self.mean[n] for n in names],
            "scale": [self.scale[n] for n in names],
        }


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _body_digest(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class RiskModel:
    """The three heads, the feature list and the lane statistics they were trained with."""

    def __init__(
        self,
        *,
        features: Sequence[str],
        lanes: LaneStats,
        late: LinearHead,
        outcome: Mapping[str, LinearHead],
        eta: LinearHead,
        eta_residuals: tuple[float, float],
        trained_on: Mapping[str, Any] | None = None,
    ) -> None:
        if tuple(outcome) != OUTCOMES:
            raise ModelFileError(f"model: outcome heads must be {list(OUTCOMES)}")
        self.features = tuple(features)
        self.lanes = lanes
        self.late = late
        self.outcome = dict(outcome)
        self.eta = eta
        self.eta_residuals = eta_residuals
        self.trained_on = dict(trained_on or {})

    # --- scoring -----------------------------------------------------------------------------

    def late_probability(self, values: Mapping[str, float]) -> float:
        """Probability of a late delivery for a feature vector."""
        return _sigmoid(self.late(values))

    def outcome_probabilities(self, values: Mapping[str, float]) -> dict[str, float]:
        """Softmax over the outcome heads."""
        logits = [head(values) for head in self.outcome.values()]
        top = max(logits)
        exps = [math.exp(z - top) for z in logits]
        total = sum(exps)
        return {name: e / total for name, e in zip(OUTCOMES, exps, strict=True)}

    def predict(self, state: FeatureState, now: datetime, *, explain: int = 3) -> Prediction:
        """Score one shipment as of ``now``; ``explain`` top reasons for the late risk."""
        values = state.features(now)
        late = self.late_probability(values)
        outcomes = self.outcome_probabilities(values)
        predicted = interval = None
        if outcomes["delivered"] + outcomes["failed_attempt"] >= 0.5:
            log_hours = max(self.eta(values), 0.0)
            low, high = self.eta_residuals
            predicted = now + timedelta(hours=math.expm1(log_hours))
            interval = (
                now + timedelta(hours=math.expm1(max(log_hours + low, 0.0))),
                now + timedelta(hours=math.expm1(max(log_hours + high, 0.0))),
            )
        return Prediction(
            shipment_id=state.profile.shipment_id,
            at=now,
            late_probability=late,
            outcome_probabilities=outcomes,
            predicted_delivery=predicted,
            interval=interval,
            explanations=self.explain(values, state, top=explain) if explain else (),
            missing=state.missing,
        )

    def explain(
        self, values: Mapping[str, float], state: FeatureState | None = None, *, top: int = 3
    ) -> tuple[Explanation, ...]:
        """The features pushing the late risk up the most, in words."""
        pushes = [p for p in self.late.contributions(values) if p[2] > 0]
        pushes.sort(key=lambda p: -p[2])
        return tuple(
            Explanation(name, value, push, describe_feature(name, value, state))
            for name, value, push in pushes[:top]
        )

    # --- files -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole model as a JSON-ready mapping, with its digest."""
        body: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "features": list(self.features),
            "lanes": self.lanes.to_json(),
            "late": self.late.to_json(),
            "outcome": {name: head.to_json() for name, head in self.outcome.items()},
            "eta": {**self.eta.to_json(), "residuals": list(self.eta_residuals)},
            "trained_on": self.trained_on,
        }
        return {**body, "sha256": _body_digest(body)}

    def save(self, directory: Path | str) -> Path:
        """Write ``model.json`` into ``directory`` (created if needed) and return its path."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.json"
        path.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, path: Path | str) -> RiskModel:
        """Read a model file (or the ``model.json`` in a directory), refusing any doubt."""
        file = Path(path)
        if file.is_dir():
            file = file / "model.json"
        try:
            raw = json.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"model file {file}: cannot be read as JSON ({exc})") from exc
        return cls.from_json(raw, origin=str(file))

    @classmethod
    def from_json(cls, raw: object, *, origin: str = "model") -> RiskModel:
        """Build from the mapping :meth:`to_json` made; every doubt is a ModelFileError."""
        if not isinstance(raw, dict):
            raise ModelFileError(f"{origin}: not a JSON object")
        if raw.get("format") != FORMAT:
            raise ModelFileError(f"{origin}: format is not {FORMAT!r}")
        if raw.get("version") != VERSION:
            raise ModelFileError(
                f"{origin}: version {raw.get('version')!r} is not the supported {VERSION}"
            )
        body = {k: v for k, v in raw.items() if k != "sha256"}
        try:
            digest = _body_digest(body)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{origin}: body is not plain JSON ({exc})") from exc
        if raw.get("sha256") != digest:
            raise ModelFileError(f"{origin}: sha256 does not match its content (edited file?)")
        try:
            features = [str(f) for f in body["features"]]
            lanes_raw = body["lanes"]
            lanes = LaneStats(
                transit_hours={str(k): float(v) for k, v in lanes_raw["transit_hours"].items()},
                dwell_hours={str(k): float(v) for k, v in lanes_raw["dwell_hours"].items()},
                default_transit_hours=float(lanes_raw["default_transit_hours"]),
                default_dwell_hours=float(lanes_raw["default_dwell_hours"]),
            )

            def head(part: Mapping[str, Any]) -> LinearHead:
                return LinearHead(
                    features,
                    [float(x) for x in part["coef"]],
                    float(part["intercept"]),
                    [float(x) for x in part["mean"]],
                    [float(x) for x in part["scale"]],
                )

            residuals = body["eta"]["residuals"]
            return cls(
                features=features,
                lanes=lanes,
                late=head(body["late"]),
                outcome={name: head(body["outcome"][name]) for name in OUTCOMES},
                eta=head(body["eta"]),
                eta_residuals=(float(residuals[0]), float(residuals[1])),
                trained_on=dict(body.get("trained_on") or {}),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFileError(f"{origin}: missing or malformed part ({exc!r})") from exc
