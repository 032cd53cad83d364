"""The transparent baseline: a few rules a logistics person would write without any model.

Each rule that fires adds one point; the score (0 to the number of rules) ranks shipments for
ROC-AUC, and ``score >= 1`` is the baseline's yes. The model is measured against these rules
on the same held-out snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BaselineRules"]


@dataclass(frozen=True, slots=True)
class BaselineRules:
    """Rules: no scan for N hours, exception already seen, attempt failed, promise passed."""

    stale_hours: float = 36.0

    def late_score(self, features: Mapping[str, float]) -> int:
        """How many late rules fire for a feature vector."""
        score = 0
        if features.get("dwell_hours", 0.0) * 24.0 >= self.stale_hours:
            score += 1
        if features.get("exceptions", 0.0) >= 1:
            score += 1
        if features.get("attempts", 0.0) >= 1:
            score += 1
        if features.get("promise_known") and features.get("slack_days", 0.0) < 0:
            score += 1
        return score

    def exception_score(self, features: Mapping[str, float]) -> int:
        """How many exception rules fire: failed attempt, exception seen, long silence."""
        score = 0
        if features.get("attempts", 0.0) >= 1:
            score += 1
        if features.get("exceptions", 0.0) >= 1:
            score += 1
        if features.get("dwell_hours", 0.0) * 24.0 >= 2 * self.stale_hours:
            score += 1
        return score

    def reasons(self, features: Mapping[str, float]) -> list[str]:
        """The rules that fire, in words."""
        out = []
        dwell = features.get("dwell_hours", 0.0) * 24.0
        if dwell >= self.stale_hours:
            out.append(f"no scan for {dwell:.0f} h (rule: {self.stale_hours:.0f} h)")
        if features.get("exceptions", 0.0) >= 1:
            out.append("an exception was already scanned")
        if features.get("attempts", 0.0) >= 1:
            out.append("a delivery attempt failed")
        if features.get("promise_known") and features.get("slack_days", 0.0) < 0:
            out.append("the promised date has passed")
        return out
