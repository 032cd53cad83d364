"""UPS driver cost per operation, beside the fake driver's: build the request, parse the answer.

Run: ``python bench/carriers_ups.py [--calls 300] [--rounds 15]`` (one process, one core).

Both drivers are driven sans-IO, as the clients drive them: ``next(flow)`` builds the first
request from canonical values (**build**), ``flow.send(response)`` parses the carrier's answer
into canonical values (**parse**). No transport, no retry loop, no token: only the driver's own
work. The fake driver's answers are captured once from the in-process fake carrier; the UPS
answers are the schema-shaped ones of ``tests/carriers/ups/ups_cases.py``. Each figure is the
best batch of ``--rounds`` batches of ``--calls`` calls, timed in CPU time of this process
(``time.process_time``), the two drivers alternating batch by batch; microseconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "carriers" / "ups"))

import ups_cases

from shipsync.canonical import LabelFormat
from shipsync.carriers import CarrierRequest, CarrierResponse, Driver, PickupRequest
from shipsync.carriers.fake import FakeCarrierService, FakeDriver
from shipsync.testing.fake_carrier import sample_address, sample_shipment

NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)
Op = Callable[[Driver], Any]


def fake_answers() -> dict[str, tuple[Op, bytes]]:
    """Each operation of the fake driver and the fake carrier's answer to it."""
    service = FakeCarrierService(seed=1)
    handle = service.handle_httpx
    driver = FakeDriver()
    shipment = sample_shipment(shipment_id="B-1", packages=2)
    start = NOW

    def token() -> str:
        ask = driver.token_request()
        raw = httpx.Request(
            "POST",
            "http://fake-carrier.invalid" + ask.path,
            headers=list(ask.headers),
            content=ask.content,
        )
        return str(json.loads(handle(raw).content)["access_token"])

    def answer(request: CarrierRequest) -> bytes:
        raw = httpx.Request(
            request.method,
            "http://fake-carrier.invalid" + request.path,
            headers=[*request.headers, ("authorization", "Bearer " + token())],
            content=request.content,
            params=request.params,
        )
        return handle(raw).content

    ops: dict[str, Op] = {
        "validate_address": lambda d: d.validate_address(sample_address()),
        "quote_rates": lambda d: d.quote_rates(shipment),
        "create_shipment (pdf)": lambda d: d.create_shipment(
            shipment, label_format=LabelFormat.PDF, idempotency_key="k1"
        ),
        "schedule_pickup": lambda d: d.schedule_pickup(
            PickupRequest(sample_address(), start, start + timedelta(hours=4)),
            idempotency_key="p1",
        ),
    }
    result = {}
    for name, op in ops.items():
        result[name] = (op, answer(next(op(driver))))
    booked = driver.create_shipment(shipment, label_format=LabelFormat.PDF, idempotency_key="k2")
    request = next(booked)
    try:
        booked.send(CarrierResponse(200, content=answer(request)))
    except StopIteration as stop:
        number = stop.value.tracking_numbers[0]
        shipment_id = stop.value.carrier_shipment_id
    service.clock.advance(48 * 3600) if hasattr(service.clock, "advance") else None
    track: Op = lambda d: d.track(number, received_at=NOW)  # noqa: E731
    result["track"] = (track, answer(next(track(driver))))
    cancel: Op = lambda d: d.cancel_shipment(shipment_id)  # noqa: E731
    cancelled = answer(next(cancel(driver)))
    if json.loads(cancelled).get("status") == "cancelled":
        result["cancel_shipment"] = (cancel, cancelled)
    return result


def ups_answers() -> dict[str, tuple[Op, bytes]]:
    """Each operation of the UPS driver and a schema-shaped UPS answer."""
    c = ups_cases
    shipment = c.shipment(parcels=(c.parcel(), c.parcel("2.5")))
    start = NOW

    def body(value: Any) -> bytes:
        return json.dumps(value).encode()

    return {
        "validate_address": (lambda d: d.validate_address(c.RECIPIENT), body(c.xav_response())),
        "quote_rates": (lambda d: d.quote_rates(shipment), body(c.rate_response())),
        "create_shipment (pdf)": (
            lambda d: d.create_shipment(
                shipment, label_format=LabelFormat.PDF, idempotency_key="k"
            ),
            body(c.ship_response(2)),
        ),
        "create_shipment (zpl)": (
            lambda d: d.create_shipment(
                shipment, label_format=LabelFormat.ZPL, idempotency_key="k"
            ),
            body(c.ship_response(2)),
        ),
        "schedule_pickup": (
            lambda d: d.schedule_pickup(
                PickupRequest(c.SHIPPER, start, start + timedelta(hours=4)), idempotency_key="p"
            ),
            body(c.PICKUP_RESPONSE),
        ),
        "track": (
            lambda d: d.track("1ZA1B2C30012345678", received_at=NOW),
            body(c.track_response()),
        ),
        "cancel_shipment": (
            lambda d: d.cancel_shipment("1ZA1B2C30012345678"),
            body(c.void_response()),
        ),
    }


def measure(driver: Driver, op: Op, answer: bytes, calls: int) -> tuple[float, float]:
    """CPU seconds of ``calls`` builds and of ``calls`` parses."""
    response = CarrierResponse(200, (("content-type", "application/json"),), answer)
    build = parse = 0.0
    for _ in range(calls):
        started = time.process_time()
        flow = op(driver)
        next(flow)
        built = time.process_time()
        try:
            flow.send(response)
        except StopIteration:
            pass
        else:
            raise RuntimeError("the flow asked for a second request")
        parse += time.process_time() - built
        build += built - started
    return build, parse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    drivers: dict[str, tuple[Driver, dict[str, tuple[Op, bytes]]]] = {
        "fake": (FakeDriver(), fake_answers()),
        "ups": (ups_cases.driver(), ups_answers()),
    }
    names = sorted({name for _, answers in drivers.values() for name in answers})
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name in names:
            for label, (driver, answers) in drivers.items():
                if name not in answers:
                    continue
                op, answer = answers[name]
                build, parse = measure(driver, op, answer, args.calls)
                key = (name, label)
                old = best.get(key, (float("inf"), float("inf")))
                best[key] = (min(old[0], build), min(old[1], parse))
    load = os.getloadavg()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"best of {args.rounds} batches of {args.calls} calls, CPU microseconds per call\n")
    print(
        f"{'operation':24} {'fake build':>11} {'ups build':>10} {'fake parse':>11} "
        f"{'ups parse':>10} {'ups/fake total':>15}"
    )
    for name in names:
        row = [best.get((name, label)) for label in ("fake", "ups")]
        cells = []
        for part in (0, 1):
            for value in row:
                cells.append("-" if value is None else f"{value[part] / args.calls * 1e6:.1f}")
        fake, ups = row
        ratio = "-" if fake is None or ups is None else f"{sum(ups) / sum(fake):.2f}x"
        print(f"{name:24} {cells[0]:>11} {cells[1]:>10} {cells[2]:>11} {cells[3]:>10} {ratio:>15}")


if __name__ == "__main__":
    main()
