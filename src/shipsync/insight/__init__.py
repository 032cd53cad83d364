"""Exception intelligence: predict late and failed deliveries from event patterns, and explain why.

Features are computed incrementally from a shipment's canonical events (the same code offline and
online); a transparent rules baseline and a learned linear model score them; a dispatcher handler
emits ``shipment.delay_predicted`` and ``shipment.exception_predicted`` when a risk crosses a
threshold. Training needs the ``ml`` extra (scikit-learn); scoring needs nothing more than shipsync.
See docs/insight.md for the measured quality beside the baseline.
"""

from shipsync.insight._advice import Action, Recommendation, recommend, summarise
from shipsync.insight._baseline import BaselineRules
from shipsync.insight._features import (
    NUMERIC_FEATURES,
    FeatureState,
    LaneStats,
    ShipmentProfile,
    describe_feature,
)
from shipsync.insight._history import History, Scan, histories_from_events, read_events_jsonl
from shipsync.insight._model import OUTCOMES, Explanation, Prediction, RiskModel
from shipsync.insight._online import PredictionHandler, RiskScorer, RiskThresholds
from shipsync.insight._settlement import (
    Cause,
    DiscrepancyCauseModel,
    DiscrepancyContext,
    InvoiceTimingMonitor,
    LateInvoice,
    rule_cause,
)
from shipsync.insight._train import HeadMetrics, TrainingReport, evaluate, snapshots, train

__all__ = [
    "NUMERIC_FEATURES",
    "OUTCOMES",
    "Action",
    "BaselineRules",
    "Cause",
    "DiscrepancyCauseModel",
    "DiscrepancyContext",
    "Explanation",
    "FeatureState",
    "HeadMetrics",
    "History",
    "InvoiceTimingMonitor",
    "LaneStats",
    "LateInvoice",
    "Prediction",
    "PredictionHandler",
    "Recommendation",
    "RiskModel",
    "RiskScorer",
    "RiskThresholds",
    "Scan",
    "ShipmentProfile",
    "TrainingReport",
    "describe_feature",
    "evaluate",
    "histories_from_events",
    "read_events_jsonl",
    "recommend",
    "rule_cause",
    "snapshots",
    "summarise",
    "train",
]
