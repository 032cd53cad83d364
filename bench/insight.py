"""Exception intelligence: online scoring per event, training time, and quality beside the rules.

Usage: python bench/insight.py [--train-shipments N] [--score-shipments N]

Prints one table. The online path is measured on one core in one thread, two ways: the whole
handler path (canonical envelope in, alerts out, through ``RiskScorer.observe``) and the bare
feature update + three heads (``FeatureState.observe`` + ``RiskModel.predict``), beside the rules
baseline doing its own per-event work on the same scans. Training time covers building the
snapshots and fitting the three heads on ``--train-shipments`` synthetic shipments (two
snapshots sampled per shipment at that size). Quality is measured on held-out later months of
another seed.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import time
from datetime import date

from shipsync.insight import (
    BaselineRules,
    FeatureState,
    History,
    RiskScorer,
    evaluate,
    train,
)
from shipsync.testing.parcel_world import generate, history_of, to_envelopes


def world(seeds: tuple[int, ...], shipments: int, start: date, months: int) -> list[History]:
    days = months * 26
    per_day = max(1, shipments // (len(seeds) * days))
    return [
        history_of(s)
        for seed in seeds
        for s in generate(seed, start=start, months=months, shipments_per_day=per_day)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-shipments", type=int, default=1_000_000)
    parser.add_argument("--score-shipments", type=int, default=20_000)
    parser.add_argument("--quality-shipments", type=int, default=60_000)
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    # quality: train on two seeds' January-April, evaluate on another seed's May-June
    t0 = time.perf_counter()
    small = world((1, 2), args.quality_shipments, date(2026, 1, 1), 4)
    held = world((3,), args.quality_shipments // 3, date(2026, 5, 1), 2)
    model = train(small)
    report = evaluate(model, held)
    print(f"\nquality (trained on {len(small):,} shipments, {time.perf_counter() - t0:.0f} s)")
    print(report.table())

    # online scoring, one core
    sims = list(generate(7, start=date(2026, 5, 1), months=1, shipments_per_day=10_000))
    sims = sims[: args.score_shipments]
    envelopes = [e for s in sims for e in to_envelopes(s)]
    scans = [(history_of(s).profile, history_of(s).scans) for s in sims]
    scan_count = sum(len(s) for _, s in scans)
    rules = BaselineRules()

    rows: list[tuple[str, int, float]] = []
    gc.collect()
    t0 = time.perf_counter()
    scorer = RiskScorer(model)
    alerts = 0
    for envelope in envelopes:
        alerts += len(scorer.observe(envelope))
    rows.append(
        ("handler path (envelope in, alerts out)", len(envelopes), time.perf_counter() - t0)
    )

    t0 = time.perf_counter()
    for profile, history in scans:
        state = FeatureState(profile, model.lanes)
        for scan in history:
            state.observe(scan.milestone, scan.reason, scan.at, scan.facility)
            model.predict(state, scan.at, explain=0)
    rows.append(("features + 3 heads", scan_count, time.perf_counter() - t0))

    t0 = time.perf_counter()
    for profile, history in scans:
        state = FeatureState(profile, model.lanes)
        for scan in history:
            state.observe(scan.milestone, scan.reason, scan.at, scan.facility)
            model.predict(state, scan.at, explain=3)
    rows.append(("features + 3 heads + explanation", scan_count, time.perf_counter() - t0))

    t0 = time.perf_counter()
    for profile, history in scans:
        state = FeatureState(profile, model.lanes)
        for scan in history:
            state.observe(scan.milestone, scan.reason, scan.at, scan.facility)
            rules.late_score(state.features(scan.at))
    rows.append(("peer: features + rules baseline", scan_count, time.perf_counter() - t0))

    print(f"\nonline scoring, one thread ({len(sims):,} shipments, {alerts:,} alerts)")
    print(f"{'path':<42}{'events':>10}{'events/s':>12}{'µs/event':>10}")
    for name, count, seconds in rows:
        print(f"{name:<42}{count:>10,}{count / seconds:>12,.0f}{seconds / count * 1e6:>10.1f}")

    # training at scale
    t0 = time.perf_counter()
    big = world((41, 42), args.train_shipments, date(2026, 1, 1), 6)
    generated = time.perf_counter() - t0
    t0 = time.perf_counter()
    big_model = train(big, per_shipment=2)
    trained = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ntraining on {len(big):,} shipments ({big_model.trained_on['snapshots']:,} snapshots)")
    print(f"{'generate histories':<42}{generated:>10.1f} s")
    print(f"{'snapshots + fit (3 heads)':<42}{trained:>10.1f} s")
    print(f"{'peak RSS of this process':<42}{peak:>10.0f} MB")


if __name__ == "__main__":
    main()
