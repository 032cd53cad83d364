"""Online scoring: one feature update and one prediction per arriving event, alerts once per level.

A :class:`RiskScorer` keeps one :class:`~shipsync.insight.FeatureState` per open shipment
(bounded: the least recently seen shipment is forgotten first) and scores it on each milestone
event. When a risk first reaches a level of its :class:`RiskThresholds`, the scorer returns a
``shipment.delay_predicted`` or ``shipment.exception_predicted`` event. The event id is derived
from (type, shipment, level) alone, so an alert produced twice — a redelivered event, a second
worker, a restart that re-reads the log — has the same id, and the event log and every handler
downstream take it once.

:class:`PredictionHandler` is the dispatcher handler that wires a scorer to an event log.
"""

from __future__ import annotations

import hashlib
import inspect
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shipsync.canonical import (
    Event,
    MilestoneEvent,
    RiskAssessment,
    RiskKind,
    RiskLevel,
    ShipmentCreated,
    ShipmentDelayPredicted,
    ShipmentExceptionPredicted,
)
from shipsync.canonical import Milestone as _Milestone
from shipsync.errors import ConfigurationError
from shipsync.insight._features import FeatureState, ShipmentProfile
from shipsync.insight._history import profile_of, scan_of
from shipsync.insight._model import Prediction, RiskModel

__all__ = ["PredictionHandler", "RiskScorer", "RiskThresholds"]

_CLOSED = frozenset(
    {_Milestone.DELIVERED, _Milestone.RETURNED, _Milestone.LOST, _Milestone.CANCELLED}
)
_PLACES = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    """The probabilities at which a risk becomes ``elevated`` and ``high``."""

    late: tuple[float, float] = (0.5, 0.8)
    exception: tuple[float, float] = (0.5, 0.8)

    def __post_init__(self) -> None:
        for name in ("late", "exception"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high < 1.0:
                raise ConfigurationError(
                    f"RiskThresholds.{name}: need 0 < elevated <= high < 1, got {(low, high)}"
                )

    def level(self, kind: RiskKind, probability: float) -> RiskLevel | None:
        """The level a probability reaches, or None below the lower threshold."""
        low, high = self.late if kind is RiskKind.LATE else self.exception
        if probability >= high:
            return RiskLevel.HIGH
        if probability >= low:
            return RiskLevel.ELEVATED
        return None


def _alert_id(event_type: str, shipment_id: str, level: RiskLevel) -> str:
    digest = hashlib.sha256(f"{event_type}\n{shipment_id}\n{level.value}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


class _Open:
    __slots__ = ("levels", "seen", "state")

    def __init__(self, state: FeatureState) -> None:
        self.state = state
        self.levels: dict[RiskKind, RiskLevel] = {}
        self.seen: set[str] = set()


class RiskScorer:
    """Scores shipments as their events arrive; returns alert events when a level is reached."""

    def __init__(
        self,
        model: RiskModel,
        *,
        thresholds: RiskThresholds | None = None,
        source: str = "shipsync/insight",
        max_shipments: int = 200_000,
    ) -> None:
        if max_shipments < 1:
            raise ConfigurationError("RiskScorer.max_shipments must be at least 1")
        self.model = model
        self.thresholds = thresholds or RiskThresholds()
        self.source = source
        self.max_shipments = max_shipments
        self._open: OrderedDict[str, _Open] = OrderedDict()
        # Shipments that reached a final milestone: late duplicates must not reopen them.
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._model_id = model.to_json()["sha256"][:12]

    def __len__(self) -> int:
        return len(self._open)

    def _entry(self, shipment_id: str, profile: ShipmentProfile | None) -> _Open:
        entry = self._open.get(shipment_id)
        if entry is None:
            if profile is None:
                # A tracking event before its booking: score with what we have, and say so.
                profile = ShipmentProfile(shipment_id, "?", "?", None, None)
            entry = _Open(FeatureState(profile, self.model.lanes))
            if profile.carrier == "?":
                entry.state.missing = (*entry.state.missing, "profile")
            self._open[shipment_id] = entry
            if len(self._open) > self.max_shipments:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(shipment_id)
        return entry

    def observe(self, event: Event, *, confirm: bool = True) -> list[Event]:
        """Take one event; return the alert events it triggers (usually none).

        An event seen before (same id) updates nothing, but its alerts are returned again until
        they are confirmed: with ``confirm=False`` the caller calls :meth:`confirm` once the
        alerts are durably published, so a publish that fails is retried, never lost.
        """
        if isinstance(event, ShipmentCreated):
            profile = profile_of(event)
            if profile.shipment_id in self._closed:
                return []
            entry = self._open.get(profile.shipment_id)
            if entry is None:
                self._entry(profile.shipment_id, profile)
            elif entry.state.profile.carrier == "?":
                # The booking arrived after a scan: adopt its profile, keep the scans seen.
                fresh = FeatureState(profile, self.model.lanes)
                for name in FeatureState.__slots__:
                    if name not in {"profile", "lane_transit", "lane_dwell", "missing"}:
                        setattr(fresh, name, getattr(entry.state, name))
                entry.state = fresh
            return []
        if not isinstance(event, MilestoneEvent):
            return []
        tracking = event.data
        shipment_id = tracking.shipment_id
        if shipment_id in self._closed:
            return []
        if tracking.milestone in _CLOSED:
            self._open.pop(shipment_id, None)
            self._closed[shipment_id] = None
            if len(self._closed) > self.max_shipments:
                self._closed.popitem(last=False)
            return []
        entry = self._entry(shipment_id, None)
        if event.id not in entry.seen:
            entry.seen.add(event.id)
            scan = scan_of(event)
            entry.state.observe(scan.milestone, scan.reason, scan.at, scan.facility)
        # Explanations cost twice the scoring: compute them only for the alerts that need them.
        prediction = self.model.predict(entry.state, tracking.occurred_at, explain=0)
        alerts = self._alerts(entry, prediction)
        if confirm:
            self.confirm(alerts)
        return alerts

    def confirm(self, alerts: Sequence[Event]) -> None:
        """Record that ``alerts`` were published: their levels are not announced again."""
        for alert in alerts:
            data = alert.data
            if isinstance(data, RiskAssessment):
                entry = self._open.get(data.shipment_id)
                if entry is not None:
                    seen = entry.levels.get(data.risk)
                    if seen is not RiskLevel.HIGH:
                        entry.levels[data.risk] = data.level

    def predict(self, shipment_id: str, now: datetime) -> Prediction | None:
        """The current prediction of an open shipment, or None when it is not followed."""
        entry = self._open.get(shipment_id)
        if entry is None:
            return None
        return self.model.predict(entry.state, now)

    def _alerts(self, entry: _Open, prediction: Prediction) -> list[Event]:
        out: list[Event] = []
        checks = (
            (RiskKind.LATE, prediction.late_probability, ShipmentDelayPredicted),
            (RiskKind.EXCEPTION, prediction.exception_probability, ShipmentExceptionPredicted),
        )
        for kind, probability, cls in checks:
            level = self.thresholds.level(kind, probability)
            if level is None:
                continue
            seen = entry.levels.get(kind)
            if seen is RiskLevel.HIGH or seen is level:
                continue
            out.append(self._event(cls, kind, level, probability, prediction, entry.state))
        return out

    def _event(
        self,
        cls: type[ShipmentDelayPredicted] | type[ShipmentExceptionPredicted],
        kind: RiskKind,
        level: RiskLevel,
        probability: float,
        prediction: Prediction,
        state: FeatureState,
    ) -> Event:
        interval = prediction.interval
        data = RiskAssessment(
            shipment_id=prediction.shipment_id,
            risk=kind,
            level=level,
            probability=Decimal(str(probability)).quantize(_PLACES),
            scored_at=prediction.at,
            likely_exception=prediction.likely_exception if kind is RiskKind.EXCEPTION else None,
            promised_delivery=state.profile.promised_by,
            predicted_delivery=prediction.predicted_delivery,
            predicted_earliest=interval[0] if interval else None,
            predicted_latest=interval[1] if interval else None,
            reasons=tuple(
                e.text for e in self.model.explain(state.features(prediction.at), state, top=3)
            ),
            missing=prediction.missing,
            model=self._model_id,
        )
        event_type = cls.event_type()
        return cls.of(
            data,
            source=self.source,
            time=prediction.at,
            id=_alert_id(event_type, prediction.shipment_id, level),
        )


Publish = Callable[[Sequence[Event]], Awaitable[None] | None]


class PredictionHandler:
    """A dispatcher handler: score each event, publish the alerts it triggers.

    ``publish`` is an event log's ``publish`` (sync or async). Alert ids are stable, so a retried
    handler call publishes nothing new.
    """

    def __init__(self, scorer: RiskScorer, publish: Publish) -> None:
        self.scorer = scorer
        self.publish = publish

    async def __call__(self, event: Event, context: object) -> int:
        alerts = self.scorer.observe(event, confirm=False)
        if alerts:
            result = self.publish(alerts)
            if inspect.isawaitable(result):
                await result
            self.scorer.confirm(alerts)
        return len(alerts)
