"""Features without look-ahead, the model file's safety, and the model beating the baseline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Milestone, Reason
from shipsync.errors import ConfigurationError, InsightError, ModelFileError
from shipsync.insight import (
    BaselineRules,
    FeatureState,
    LaneStats,
    RiskModel,
    ShipmentProfile,
    evaluate,
    snapshots,
    train,
)
from shipsync.testing.parcel_world import SimShipment, history_of

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
LANES = LaneStats({"FR-DE": 46.0}, {"FR-DE": 12.0}, 40.0, 10.0)
PROFILE = ShipmentProfile(
    "S1", "swiftpost", "standard", "FR", "DE", promised_by=T0 + timedelta(days=3)
)

scans = st.lists(
    st.tuples(
        st.sampled_from(list(Milestone)),
        st.sampled_from(list(Reason)),
        st.integers(min_value=0, max_value=200),
        st.sampled_from(["", "LYS", "PAR", "CGN"]),
    ),
    max_size=12,
)


@given(scans, st.integers(min_value=0, max_value=300))
def test_features_depend_on_the_scans_so_far_not_their_arrival_order(
    items: list[tuple[Milestone, Reason, int, str]], cut: int
) -> None:
    """Features as of a moment depend only on the scans up to it, whatever order they came in."""
    now = T0 + timedelta(hours=cut)
    seen_so_far = FeatureState(PROFILE, LANES)
    everything = FeatureState(PROFILE, LANES)
    for milestone, reason, hours, facility in sorted(items, key=lambda i: i[2]):
        at = T0 + timedelta(hours=hours)
        if at <= now:
            seen_so_far.observe(milestone, reason, at, facility)
    for milestone, reason, hours, facility in sorted(items, key=lambda i: -i[2]):
        at = T0 + timedelta(hours=hours)
        if at <= now:
            everything.observe(milestone, reason, at, facility)
    assert seen_so_far.features(now) == everything.features(now)


def test_an_older_scan_never_moves_time_back() -> None:
    """A late-arriving old scan updates counts but not the last scan time or stage."""
    state = FeatureState(PROFILE, LANES)
    state.observe(Milestone.IN_TRANSIT, Reason.NORMAL, T0 + timedelta(hours=20), "PAR")
    state.observe(Milestone.EXCEPTION, Reason.WEATHER, T0 + timedelta(hours=5), "LYS")
    features = state.features(T0 + timedelta(hours=30))
    assert features["dwell_hours"] == pytest.approx(10 / 24)
    assert features["stage=in_transit"] == 1.0
    assert features["exceptions"] == 1.0
    assert features["delay_exception"] == 1.0


def test_snapshots_take_no_row_after_the_end(training_world: list[SimShipment]) -> None:
    """No snapshot is taken at or after a delivery, return or loss."""
    histories = [history_of(s) for s in training_world[:300]]
    for row in snapshots(histories, LANES):
        shipment = next(s for s in training_world if s.shipment_id == row.shipment_id)
        end = shipment.events[-1].at
        assert row.at < end or shipment.events[-1].milestone is not Milestone.DELIVERED


def test_model_beats_the_rules_on_later_months_of_another_seed(
    model: RiskModel, held_out_world: list[SimShipment]
) -> None:
    """On held-out months and seed, the model's ROC-AUC beats the rules by a clear margin."""
    report = evaluate(model, [history_of(s) for s in held_out_world])
    assert report.model_late.roc_auc > report.baseline_late.roc_auc + 0.10
    assert report.model_exception.roc_auc > report.baseline_exception.roc_auc + 0.03
    assert report.model_late.brier is not None
    assert report.model_late.brier < 0.2
    assert report.model_alerted_before_promise > report.baseline_alerted_before_promise
    assert 0 < report.eta_mae_hours < 48
    assert "late: model" in report.table()


def test_predictions_explain_themselves_in_words(model: RiskModel) -> None:
    """A long silence shows up as the top reason, in hours and against the lane's median."""
    state = FeatureState(PROFILE, model.lanes)
    state.observe(Milestone.PICKED_UP, Reason.NORMAL, T0, "LYS")
    state.observe(Milestone.IN_TRANSIT, Reason.NORMAL, T0 + timedelta(hours=8), "PAR")
    quiet = model.predict(state, T0 + timedelta(hours=8 + 60))
    fresh = model.predict(state, T0 + timedelta(hours=9))
    assert quiet.late_probability > fresh.late_probability
    texts = " / ".join(e.text for e in quiet.explanations)
    assert "no scan for 60 h" in texts
    assert all(e.direction == "raises" for e in quiet.explanations)
    assert quiet.predicted_delivery is not None
    assert quiet.interval is not None
    assert quiet.interval[0] <= quiet.predicted_delivery <= quiet.interval[1]


def test_missing_inputs_are_scored_and_named(model: RiskModel) -> None:
    """A shipment without promise or lane still scores, and says what it lacked."""
    bare = FeatureState(ShipmentProfile("S2", "swiftpost", "standard", None, None), model.lanes)
    bare.observe(Milestone.PICKED_UP, Reason.NORMAL, T0, None)
    prediction = model.predict(bare, T0 + timedelta(hours=3))
    assert set(prediction.missing) == {"promised_by", "lane"}
    assert 0.0 <= prediction.late_probability <= 1.0


def test_a_saved_model_loads_and_predicts_the_same(model: RiskModel, tmp_path: Path) -> None:
    """save then load gives identical probabilities (plain JSON parameters, no pickle)."""
    path = model.save(tmp_path / "m")
    again = RiskModel.load(tmp_path / "m")
    state = FeatureState(PROFILE, model.lanes)
    state.observe(Milestone.PICKED_UP, Reason.NORMAL, T0, "LYS")
    now = T0 + timedelta(hours=30)
    assert again.predict(state, now) == model.predict(state, now)
    assert json.loads(path.read_text())["format"] == "shipsync/insight-model"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(version=2), "version 2"),
        (lambda m: m.update(format="other"), "format"),
        (lambda m: m["late"]["coef"].__setitem__(0, 9.0), "sha256"),
        (lambda m: m.pop("eta"), "sha256"),
    ],
    ids=["other-version", "other-format", "tampered-number", "missing-part"],
)
def test_a_foreign_or_tampered_model_file_is_refused(
    model: RiskModel, tmp_path: Path, edit: object, message: str
) -> None:
    """Another version, another format, or an edited number: ModelFileError, never a guess."""
    raw = model.to_json()
    edit(raw)  # type: ignore[operator]
    file = tmp_path / "model.json"
    file.write_text(json.dumps(raw))
    with pytest.raises(ModelFileError, match=message):
        RiskModel.load(file)


def test_a_tampered_file_with_a_fixed_digest_is_still_checked(
    model: RiskModel, tmp_path: Path
) -> None:
    """Whoever recomputes the digest still cannot load a model with a non-positive scale."""
    raw = model.to_json()
    raw["late"]["scale"][0] = 0.0
    body = {k: v for k, v in raw.items() if k != "sha256"}
    from shipsync.insight._model import _body_digest

    raw["sha256"] = _body_digest(body)
    with pytest.raises(ModelFileError, match="scale"):
        RiskModel.from_json(raw)


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"[1, 2]", b'{"format": 1}'])
def test_garbage_model_files_are_typed_errors(tmp_path: Path, content: bytes) -> None:
    """Empty, binary, or wrongly shaped files are ModelFileError (also a ConfigurationError)."""
    file = tmp_path / "model.json"
    file.write_bytes(content)
    with pytest.raises(ConfigurationError):
        RiskModel.load(file)


def test_training_on_nothing_finished_is_a_typed_error() -> None:
    """No finished history with a promise: InsightError naming what is missing."""
    open_history = history_of(
        SimShipment("X", "c", "s", "FR", "DE", 1, 0, T0, T0 + timedelta(days=2))  # type: ignore[arg-type]
    )
    with pytest.raises(InsightError, match="promised delivery"):
        train([open_history])


def test_baseline_rules_fire_in_words() -> None:
    """The rules say which of them fired."""
    rules = BaselineRules(stale_hours=24)
    features = {"dwell_hours": 2.0, "exceptions": 1.0, "promise_known": 1.0, "slack_days": -1.0}
    assert rules.late_score(features) == 3
    assert rules.reasons(features) == [
        "no scan for 48 h (rule: 24 h)",
        "an exception was already scanned",
        "the promised date has passed",
    ]
