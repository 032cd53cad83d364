"""Charge anomalies: robust statistics per lane flag unusual amounts, with a readable reason."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from _settle_helpers import NOW

from shipsync.canonical import ChargeType
from shipsync.errors import ConfigurationError
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    ChargeAnomalyDetector,
    InvoiceRow,
    read_invoice_rows,
)
from shipsync.testing.settlement import write_sample_files

B = ChargeType.BASE_FREIGHT


def _row(number: int, amount: str, *, service: str = "ground") -> InvoiceRow:
    value = Decimal(amount)
    return InvoiceRow(
        number,
        "INV-A",
        NOW.date(),
        "USD",
        number,
        f"T{number}",
        ((B, value),),
        value,
        service=service,
        origin="DE",
        destination="FR",
    )


def test_an_amount_far_from_its_lane_is_flagged_with_an_explanation() -> None:
    """Five times the usual base freight is named, with the expected range and the distance."""
    detector = ChargeAnomalyDetector(carrier="fake")
    for i in range(1, 101):
        detector.observe(_row(i, f"{20 + (i % 5) * Decimal('0.5')}"))
    assert detector.check(_row(200, "21.00")) == []
    (anomaly,) = detector.check(_row(201, "105.00"))
    assert anomaly.charge_type is B
    assert anomaly.low < anomaly.median < anomaly.high < Decimal("105.00")
    assert anomaly.score > 5
    assert "base freight of 105.00 USD on ground DE→FR is above the usual range" in (
        anomaly.explanation
    )
    assert "robust deviations out" in anomaly.explanation


def test_groups_are_judged_separately_and_only_with_enough_samples() -> None:
    """Express is not judged by ground's amounts; a thin group judges nothing."""
    detector = ChargeAnomalyDetector(carrier="fake", min_samples=20)
    for i in range(1, 101):
        detector.observe(_row(i, "20.00"))
    for i in range(1, 10):
        detector.observe(_row(i, "80.00", service="express"))
    assert detector.check(_row(300, "500.00", service="express")) == []
    assert detector.check(_row(301, "20.10")) == []
    assert detector.check(_row(302, "22.00"))


def test_memory_per_group_is_bounded_by_the_sample_size() -> None:
    """The reservoir never keeps more than sample_size amounts per group."""
    detector = ChargeAnomalyDetector(carrier="fake", min_samples=5, sample_size=10, seed=3)
    for i in range(1, 1001):
        detector.observe(_row(i, "20.00"))
    assert max(len(sample) for sample in detector._samples.values()) == 10


def test_nonsense_settings_are_refused() -> None:
    """Threshold and sample sizes are checked."""
    with pytest.raises(ConfigurationError):
        ChargeAnomalyDetector(carrier="fake", threshold=0)
    with pytest.raises(ConfigurationError):
        ChargeAnomalyDetector(carrier="fake", min_samples=50, sample_size=10)


def test_precision_and_recall_on_labelled_fake_invoices(tmp_path: Path) -> None:
    """Fitted on one month of sample invoices, scored on the next (documented figures)."""
    history = write_sample_files(tmp_path / "h", shipments=4000, lines=4000, seed=11)
    current = write_sample_files(tmp_path / "c", shipments=4000, lines=4000, seed=12)
    detector = ChargeAnomalyDetector(carrier="fake")
    detector.observe_all(read_invoice_rows(history.invoice, FAKE_CARRIER_COLUMNS))
    flagged = {
        (a.invoice_number, a.line_number)
        for a in detector.scan(read_invoice_rows(current.invoice, FAKE_CARRIER_COLUMNS))
    }
    with current.invoice.open(newline="") as handle:
        truth = {
            (row["invoice_number"], int(row["line_number"]))
            for row in csv.DictReader(handle)
            if row["x_anomaly"] == "1"
        }
    assert truth
    true_positives = len(flagged & truth)
    assert true_positives / len(flagged) >= 0.95
    assert true_positives / len(truth) >= 0.95
