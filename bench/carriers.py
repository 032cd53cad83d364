"""Carrier client overhead: shipsync's full client path vs a bare httpx call, same fake carrier.

Run: ``python bench/carriers.py [--calls 200] [--rounds 30]`` (one process, one core).

Both sides talk to the same in-process fake carrier (``FakeCarrierService`` behind an
``httpx.MockTransport``), so the carrier's own work is identical and the difference is ours:

* **bare httpx** — ``httpx.Client.post``/``get`` with a prepared JSON body, the idempotency key
  and the bearer token as headers, then ``response.json()``;
* **shipsync** — ``CarrierClient.create_shipment(shipment)`` / ``.track(number)``: the driver's
  sans-IO flow from a canonical ``Shipment``, the token cache, tenacity's retry loop, the
  purgatory circuit breaker, a (non-throttling) client-side rate limit, logging with redaction
  (the ``shipsync.carriers`` logger at INFO: per-attempt DEBUG records are skipped), the status
  boundary and parsing into canonical ``Shipment`` / ``TrackingEvent`` values.

A fourth kind of line, **driver alone**, runs only the driver's sans-IO work for the same call
(build the request from the canonical value, parse the recorded answer into canonical models),
no client and no HTTP: ``shipsync - driver alone`` is what the client machinery (token cache,
retry policy, breaker, rate limit, logging, size limit, error mapping) adds to a bare call, and
the last column's second figure, ``(shipsync - driver) / bare``, is that machinery's cost
relative to the bare call.

A fifth kind of line, **tuned bare**, is a bare httpx client given the two per-client savings
shipsync's own client makes (the URL parsed once, no cookie-jar round trip for an answer that
sets no cookie), timed in the same alternation: ``(vs tuned)`` is shipsync's cost over it, the
part of the ratio those savings do not hide (the driver's build and parse, and the machinery).

A third line, **reference**, is the issue's yardstick: a bare client whose handler parses a
550-byte JSON request and returns 1 KiB of JSON. The two sides run alternately in batches of
``--calls`` calls, ``--rounds`` batches each; a batch is timed in CPU time of this process
(``time.process_time``), so other load on the machine does not count, and each figure is the
side's best batch. The last column is shipsync's cost per call over the bare call's
(target, issue 18: <= 1.15x).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from shipsync.canonical import LabelFormat
from shipsync.carriers import (
    AsyncCarrierClient,
    CarrierClient,
    CircuitBreaker,
    RateLimit,
    RetryPolicy,
)
from shipsync.carriers.fake import FakeCarrierService, FakeDriver, shipment_json
from shipsync.testing.fake_carrier import sample_shipment

BASE = "http://fake-carrier.invalid"


def interleaved(rounds: int, calls: int, *sides: Callable[[int], None]) -> list[float]:
    """Best calls/s of each side, the sides alternating batch by batch (fair under noise)."""
    rates: list[list[float]] = [[] for _ in sides]
    for _ in range(rounds):
        for side, fn in enumerate(sides):
            started = time.process_time()
            fn(calls)
            rates[side].append(calls / max(time.process_time() - started, 1e-9))
    return [max(r) for r in rates]


async def ainterleaved(
    rounds: int, calls: int, *sides: Callable[[int], Awaitable[None]]
) -> list[float]:
    """The async twin of :func:`interleaved`."""
    rates: list[list[float]] = [[] for _ in sides]
    for _ in range(rounds):
        for side, fn in enumerate(sides):
            started = time.process_time()
            await fn(calls)
            rates[side].append(calls / max(time.process_time() - started, 1e-9))
    return [max(r) for r in rates]


class QuietCookies(httpx.Cookies):
    """The tuned floor's cookie store: no cookiejar round trip for answers without cookies."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if any(k.lower() in (b"set-cookie", b"set-cookie2") for k, _ in response.headers.raw):
            super().extract_cookies(response)


def tuned(client: httpx.Client | httpx.AsyncClient) -> Any:
    """The tuned floor: a bare client given the two savings shipsync's own client makes."""
    client._cookies = QuietCookies()  # a bench may reach in; the library subclasses instead
    return client


def reference_handler(request: httpx.Request) -> httpx.Response:
    """The issue's yardstick: parse a ~550-byte JSON request, answer 1 KiB of JSON."""
    json.loads(request.content)
    return httpx.Response(
        200, content=REFERENCE_REPLY, headers={"content-type": "application/json"}
    )


REFERENCE_REQUEST = json.dumps({"pad": "x" * 520, "n": 1}).encode()
REFERENCE_REPLY = json.dumps({"pad": "y" * 1000}).encode()


def make(service: FakeCarrierService, **kwargs: object) -> dict[str, object]:
    return {
        "transport": service.mock_transport(),
        "breaker": CircuitBreaker(threshold=5, ttl=30),
        "rate_limit": RateLimit(1e9, burst=1000),
        "retry": RetryPolicy(),
        "clock": service.clock.time,
        **kwargs,
    }


def checked(response: httpx.Response) -> object:
    """Fail loudly if a bare call did not do the real work (a 401 is much cheaper)."""
    if response.status_code >= 300:
        raise SystemExit(f"bare call answered {response.status_code}: {response.text[:200]}")
    return response.json()


def run(calls: int, rounds: int) -> list[tuple[str, str, float, float]]:
    logging.getLogger("shipsync.carriers").setLevel(logging.INFO)
    service = FakeCarrierService(seed=1)
    shipment = sample_shipment(shipment_id="BENCH-1")
    body = json.dumps({**shipment_json(shipment), "label_format": "pdf"}).encode()
    client = CarrierClient(FakeDriver(), **make(service))  # type: ignore[arg-type]
    booked = client.create_shipment(shipment)
    number = booked.tracking_numbers[0]
    service.advance(48 * 3600)  # the story is told: track returns all five events
    service.token_lifetime = 10**8
    service.expire_tokens()
    client.quote_rates(shipment)  # a fresh token, valid for the whole run
    tokens_before = service.requests["token"]
    token = client.tokens.get(client.clock())
    assert token is not None
    auth = {"authorization": f"Bearer {token.value}"}
    bare = httpx.Client(transport=service.mock_transport(), base_url=BASE)
    fast = tuned(httpx.Client(transport=service.mock_transport()))
    create_url = httpx.URL(f"{BASE}/v1/shipments")
    track_url = httpx.URL(f"{BASE}/v1/tracking/{number}")
    reference = httpx.Client(transport=httpx.MockTransport(reference_handler), base_url=BASE)
    counter = iter(range(10**9))

    def bare_create(n: int) -> None:
        for _ in range(n):
            headers = {
                **auth,
                "content-type": "application/json",
                "idempotency-key": f"b{next(counter)}",
            }
            checked(bare.post("/v1/shipments", content=body, headers=headers))

    def fast_create(n: int) -> None:
        for _ in range(n):
            headers = {
                **auth,
                "content-type": "application/json",
                "idempotency-key": f"t{next(counter)}",
            }
            checked(fast.post(create_url, content=body, headers=headers))

    def ours_create(n: int) -> None:
        for _ in range(n):
            client.create_shipment(shipment)

    def bare_track(n: int) -> None:
        for _ in range(n):
            checked(bare.get(f"/v1/tracking/{number}", headers=auth))

    def fast_track(n: int) -> None:
        for _ in range(n):
            checked(fast.get(track_url, headers=auth))

    def ours_track(n: int) -> None:
        for _ in range(n):
            client.track(number)

    from datetime import UTC, datetime

    recorded_create = client._send(
        client._start(
            client.driver.create_shipment(
                shipment, label_format=LabelFormat.PDF, idempotency_key="k"
            ),
            "create_shipment",
        ),
        "create_shipment",
    )
    recorded_track = client._send(
        client._start(client.driver.track(number, received_at=datetime.now(UTC)), "track"), "track"
    )

    def drive(flow: Any, response: Any) -> None:
        next(flow)
        try:
            flow.send(response)
        except StopIteration:
            return
        raise SystemExit("the driver asked for a second request")

    def driver_create(n: int) -> None:
        for i in range(n):
            flow = client.driver.create_shipment(
                shipment, label_format=LabelFormat.PDF, idempotency_key=f"d{i}"
            )
            drive(flow, recorded_create)

    def driver_track(n: int) -> None:
        for _ in range(n):
            drive(client.driver.track(number, received_at=datetime.now(UTC)), recorded_track)

    def ref(n: int) -> None:
        for _ in range(n):
            reference.post(
                "/ref", content=REFERENCE_REQUEST, headers={"content-type": "application/json"}
            ).json()

    rows = [("reference", "sync bare httpx", interleaved(rounds, calls, ref, ref)[0], 0.0)]
    floors: dict[tuple[str, str], float] = {}
    for op, b, f, o in (
        ("create_shipment", bare_create, fast_create, ours_create),
        ("track", bare_track, fast_track, ours_track),
    ):
        bare_rate, fast_rate, ours_rate = interleaved(rounds, calls, b, f, o)
        rows.append((op, "sync bare httpx", bare_rate, 0.0))
        rows.append((op, "sync shipsync", ours_rate, 0.0))
        floors[(op, "sync")] = fast_rate
    driver_rates = {
        op: interleaved(rounds, calls, fn, fn)[0]
        for op, fn in (("create_shipment", driver_create), ("track", driver_track))
    }

    async def async_rows() -> None:
        aclient = AsyncCarrierClient(
            FakeDriver(),
            **make(service),  # type: ignore[arg-type]
        )
        await aclient.quote_rates(shipment)
        atoken = aclient.tokens.get(aclient.clock())
        assert atoken is not None
        aauth = {"authorization": f"Bearer {atoken.value}"}
        abare = httpx.AsyncClient(transport=service.mock_transport(), base_url=BASE)
        afast = tuned(httpx.AsyncClient(transport=service.mock_transport()))

        async def bare_create_a(n: int) -> None:
            for _ in range(n):
                headers = {
                    **aauth,
                    "content-type": "application/json",
                    "idempotency-key": f"a{next(counter)}",
                }
                checked(await abare.post("/v1/shipments", content=body, headers=headers))

        async def fast_create_a(n: int) -> None:
            for _ in range(n):
                headers = {
                    **aauth,
                    "content-type": "application/json",
                    "idempotency-key": f"u{next(counter)}",
                }
                checked(await afast.post(create_url, content=body, headers=headers))

        async def fast_track_a(n: int) -> None:
            for _ in range(n):
                checked(await afast.get(track_url, headers=aauth))

        async def ours_create_a(n: int) -> None:
            for _ in range(n):
                await aclient.create_shipment(shipment)

        async def bare_track_a(n: int) -> None:
            for _ in range(n):
                checked(await abare.get(f"/v1/tracking/{number}", headers=aauth))

        async def ours_track_a(n: int) -> None:
            for _ in range(n):
                await aclient.track(number)

        for op, b, f, o in (
            ("create_shipment", bare_create_a, fast_create_a, ours_create_a),
            ("track", bare_track_a, fast_track_a, ours_track_a),
        ):
            bare_rate, fast_rate, ours_rate = await ainterleaved(rounds, calls, b, f, o)
            rows.append((op, "async bare httpx", bare_rate, 0.0))
            rows.append((op, "async shipsync", ours_rate, 0.0))
            floors[(op, "async")] = fast_rate
        await abare.aclose()
        await afast.aclose()
        await aclient.aclose()

    asyncio.run(async_rows())
    if service.requests["token"] != tokens_before + 1:  # one more: the async client's
        raise SystemExit("a client fetched tokens during the run; the figures are not comparable")
    client.close()
    bare.close()
    fast.close()
    reference.close()
    out = []
    for i, (op, side, rate, _) in enumerate(rows):
        ratio = rows[i - 1][2] / rate if side.endswith("shipsync") else 0.0
        out.append((op, side, rate, ratio))
        if side.endswith("shipsync"):
            fast_rate = floors[(op, side.split()[0])]
            out.append((op, "  tuned bare", fast_rate, fast_rate / rate))
            machinery = (1 / rate - 1 / driver_rates[op]) * rows[i - 1][2]
            out.append((op, "  driver alone", driver_rates[op], machinery))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200, help="calls per batch")
    parser.add_argument("--rounds", type=int, default=30, help="batches per side")
    args = parser.parse_args(argv)
    rows = run(args.calls, args.rounds)
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{args.rounds} alternating batches of {args.calls} calls per side, best batch"
    )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'operation':<16} {'client':<18} {'calls/s':>9} {'us/call':>9} {'cost vs bare':>13}")
    for op, side, rate, ratio in rows:
        shown = f"{ratio:.2f}x" if ratio else ""
        if side.strip() == "driver alone":
            shown = f"(-driver) {ratio:.2f}x"
        elif side.strip() == "tuned bare":
            shown = f"(vs tuned) {ratio:.2f}x"
        print(f"{op:<16} {side:<18} {rate:>9,.0f} {1e6 / rate:>9.1f} {shown:>13}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
