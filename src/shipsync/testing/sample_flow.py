"""A small, complete flow in one process, for tests, benchmarks and docs.

The fake carrier (in-process, through ``httpx.MockTransport``) books shipments; its signed
webhooks go straight into a :class:`~shipsync.webhooks.WebhookReceiver`, which hands the events to
a SQLite event log; a :class:`~shipsync.flows.Dispatcher` fans them out to a state handler and a
customer notifier that fails once for one event in ``fail_one_in`` (a dead letter, replayed
later). Hosts add their own subscriptions (the monitor's, say) before :meth:`SampleFlow.run`::

    flow = SampleFlow(tmp_path, shipments=20)
    flow.dispatcher.subscribe(None, my_handler, name="mine")
    flow.run(hours=208)
    flow.replay()
    flow.close()
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from os import PathLike
from pathlib import Path
from typing import Any

import httpx

from shipsync.canonical import Event, ShipmentCreated
from shipsync.carriers import CarrierClient, SleepRecorder
from shipsync.carriers.fake import FakeCarrierService, FakeConfig, FakeDriver, Scenario
from shipsync.flows import (
    AsyncSQLiteEventLog,
    Dispatcher,
    DispatchReport,
    HandlerContext,
    ReplayReport,
    SQLiteDeadLetters,
    SQLiteEventLog,
)
from shipsync.idempotency import SQLiteStore
from shipsync.testing.fake_carrier import sample_shipment
from shipsync.webhooks import (
    StandardWebhooksScheme,
    WebhookReceiver,
    generate_secret,
    tracking_parser,
)

__all__ = ["SOURCE", "SampleFlow"]

SOURCE = "shipsync/fake"
"""The ``source`` of the events the sample flow publishes."""


class SampleFlow:
    """The fake carrier, a webhook receiver, a SQLite event log and a dispatcher, wired up.

    Args:
        workdir: where the SQLite files go (``events.db`` holds the log and the dead letters).
        shipments: shipments booked by :meth:`run`, cycling through the fake's scenarios.
        seed: the fake carrier's seed.
        duplicates: share of webhook deliveries the carrier sends twice.
        fail_one_in: the notifier fails once for one event in this many (0: never).
        event_hooks: httpx event hooks of the carrier client's HTTP client (carrier health).
    """

    def __init__(
        self,
        workdir: str | PathLike[str],
        *,
        shipments: int = 16,
        seed: int = 1,
        duplicates: float = 0.25,
        fail_one_in: int = 7,
        event_hooks: Mapping[str, list[Callable[[Any], Any]]] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.shipments = shipments
        self.service = FakeCarrierService(seed=seed)
        # The receiver below verifies on the carrier's (fake) clock, so the carrier signs on it.
        self.service.webhooks.signing_clock = self.service.clock.time
        self.client = CarrierClient(
            FakeDriver(FakeConfig()),
            http=httpx.Client(
                transport=self.service.mock_transport(), event_hooks=dict(event_hooks or {})
            ),
            clock=self.service.clock.time,
            sleeper=SleepRecorder(),
        )
        self.events_path = self.workdir / "events.db"
        self.log = SQLiteEventLog(self.events_path, synchronous="NORMAL")
        self.receiver = WebhookReceiver(
            StandardWebhooksScheme().verifier(secret := generate_secret(), clock=self.now),
            store=SQLiteStore(self.workdir / "dedupe.db", namespace="webhooks"),
            sink=self.log,
            parser=tracking_parser(FakeDriver().parse_webhook, source=SOURCE, clock=self.now),
            name="fake",
        )
        self.service.webhooks.configure(
            url="http://127.0.0.1/hooks", secret=secret, duplicates=duplicates, reorder=True
        )
        self.dead_letters = SQLiteDeadLetters(self.events_path)
        self.dispatcher = Dispatcher(
            SQLiteStore(self.workdir / "flows.db", namespace="sample"),
            self.dead_letters,
            lease=timedelta(seconds=30),
            clock=self.now,
        )
        self.outcomes: Counter[str] = Counter()
        self.report = DispatchReport()
        self.handled: Counter[str] = Counter()
        self.booked: dict[str, tuple[str, ...]] = {}
        self._failed_once: set[str] = set()
        self._fail_one_in = fail_one_in
        self.dispatcher.subscribe(None, self._state, name="state")
        self.dispatcher.subscribe(None, self._notify, name="notify", blocking=False)

    def now(self) -> float:
        """The fake carrier's clock (seconds since the epoch)."""
        return self.service.clock.time()

    def _state(self, event: Event, ctx: HandlerContext) -> None:
        self.handled[event.type] += 1

    def _notify(self, event: Event, ctx: HandlerContext) -> None:
        if self._fail_one_in and not ctx.replay:
            unlucky = int(hashlib.sha256(event.id.encode()).hexdigest(), 16) % self._fail_one_in
            if unlucky == 0 and event.id not in self._failed_once:
                self._failed_once.add(event.id)
                raise ConnectionError("mailer unavailable")

    def _send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        receipt = self.receiver.receive(body, dict(headers))
        self.outcomes[receipt.outcome.value] += 1
        return receipt.status

    def book(self) -> None:
        """Book the shipments at the fake carrier and publish their ``shipment.created`` events."""
        scenarios = list(Scenario)
        created: list[Event] = []
        for i in range(self.shipments):
            scenario = scenarios[i % len(scenarios)]
            packages = 2 if scenario is Scenario.MULTI_PACKAGE_ONE_LATE else 1
            shipment = sample_shipment(
                shipment_id=f"SHP-{i + 1:05d}", scenario=scenario.value, packages=packages
            )
            result = self.client.create_shipment(shipment, idempotency_key=f"book-{i}")
            self.booked[shipment.shipment_id] = result.tracking_numbers
            created.append(ShipmentCreated.of(result, source=SOURCE, time=self.service.clock.now()))
        self.log.publish(created)

    def step(self, hours: float) -> None:
        """Move the carrier's clock, deliver its webhooks and dispatch what arrived."""
        self.service.advance(hours * 3600)
        self.service.webhooks.deliver(self._send)
        self.drain()

    def run(self, *, hours: int = 208, step: int = 8) -> None:
        """Book, then step the clock ``hours`` in steps of ``step`` hours."""
        self.book()
        for _ in range(max(1, hours // step)):
            self.step(step)

    def drain(self) -> DispatchReport:
        """Dispatch everything the log holds."""

        async def go() -> DispatchReport:
            log = AsyncSQLiteEventLog(self.events_path, synchronous="NORMAL")
            total = DispatchReport()
            try:
                while deliveries := await log.receive(500, timeout=0.0):
                    total.add(await self.dispatcher.handle(log, deliveries))
            finally:
                await log.close()
            return total

        report = asyncio.run(go())
        self.report.add(report)
        return report

    def replay(self) -> ReplayReport:
        """Replay the open dead letters."""
        return asyncio.run(self.dispatcher.replay())

    def close(self) -> None:
        """Close the client, the log and the dead letter store."""
        self.client.close()
        self.client.http.close()
        self.log.close()
        self.dead_letters.close()
