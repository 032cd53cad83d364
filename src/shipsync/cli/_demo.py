"""``shipsync demo``: the whole loop on one machine, with no services, in well under a minute.

1. The fake carrier runs on a real localhost port; shipments are booked over HTTP with injected
   booking faults (retried under one idempotency key each, so none is booked twice).
2. A local webhook receiver (Standard Webhooks signatures, dedupe on the delivery id) hands the
   events to the embedded SQLite event log; it answers 2xx only once they are durable. The sink
   fails now and then: the receiver answers 503 and the carrier sends again.
3. The carrier's clock runs through every scenario; its signed webhooks arrive duplicated and
   reordered. The dispatcher fans each event out to: the shipment state fold, an execution sink
   (Odoo when ``ODOO_URL``/``ODOO_DB``/``ODOO_USER``/``ODOO_PASSWORD`` are set, else a local SQLite
   ledger), a customer notifier writing an outbox file (failing now and then, never blocking the
   rest; its dead letters are replayed at the end) and a finance accrual handler.
4. The summary counts shipments by milestone, deliveries, duplicates absorbed and dead letters,
   and checks against the carrier's own tracking API that no event was lost or applied twice.
   The exit status is 1 when a check fails.

The work directory (event log, dead letters, ledger, outbox) is a temporary one, deleted at the end,
unless ``--keep`` or ``--work-dir DIR`` keeps it; the closing lines then say how to look inside.
The timeline variant (``--timeline``) lives in :mod:`shipsync.cli._timeline_demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shipsync.cli._demo_host import SOURCE, Ledger, subscribe_handlers, summarise

if TYPE_CHECKING:
    from shipsync.canonical import Event, TrackingEvent
    from shipsync.carriers import CarrierClient
    from shipsync.flows import AsyncSQLiteEventLog, Dispatcher, SQLiteEventLog

__all__ = ["demo", "run_demo"]

STEP_HOURS = 8
HOURS = 208  # the longest story (lost) ends at 200 h
ODOO_VARS = ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD")


class _FlakySink:
    """The event log as the receiver's sink, failing every ``every``-th publish (a fault)."""

    def __init__(self, log: SQLiteEventLog, every: int) -> None:
        self.log = log
        self.every = every
        self.calls = 0
        self.failures = 0

    def publish(self, events: Sequence[Event]) -> None:
        from shipsync.errors import EventLogUnavailableError

        self.calls += 1
        if self.every and self.calls % self.every == 0:
            self.failures += 1
            raise EventLogUnavailableError("injected sink fault")
        self.log.publish(events)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _serve_receiver(receiver: Any, outcomes: Counter[str]) -> Iterator[str]:
    """Serve the webhook receiver on a free localhost port; yield its URL."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hooks(request: Request) -> Response:
        receipt = receiver.receive(await request.body(), dict(request.headers))
        outcomes[receipt.outcome.value] += 1
        return Response(receipt.reason, status_code=receipt.status, headers=receipt.headers)

    app = Starlette(routes=[Route("/hooks", hooks, methods=["POST"])])
    with _serve_app(app, "demo-receiver") as base:
        yield f"{base}/hooks"


@contextlib.contextmanager
def _serve_app(app: Any, name: str) -> Iterator[str]:
    """Serve an ASGI app on a free localhost port in a thread; yield its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo webhook receiver did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _drain(dispatcher: Dispatcher, log: AsyncSQLiteEventLog, totals: Counter[str]) -> None:
    while True:
        deliveries = await log.receive(500, timeout=0.0)
        if not deliveries:
            return
        report = await dispatcher.handle(log, deliveries)
        totals["events"] += report.events
        totals["duplicates"] += report.duplicates
        totals["dead_lettered"] += report.dead_lettered


def run_demo(
    *,
    shipments: int = 200,
    seed: int = 7,
    echo: Callable[[str], None] = click.echo,
    workdir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    control_tower: bool = False,
) -> int:
    """Run the demo; return 0 when every check passed, 1 otherwise.

    Needs the ``server`` extra (uvicorn and starlette serve the fake carrier and the receiver).
    With ``control_tower`` the control tower serves on a localhost port while the demo runs,
    fed by a monitor subscribed to the demo's dispatcher.
    """
    from shipsync.errors import MissingDependencyError

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("shipsync demo", "server") from exc
    # The injected faults are expected: keep their warnings out of the demo's output.
    quiet = logging.NullHandler()
    logger = logging.getLogger("shipsync")
    logger.addHandler(quiet)
    propagate, logger.propagate = logger.propagate, False
    try:
        if workdir is None:
            with tempfile.TemporaryDirectory(prefix="shipsync-demo-") as tmp:
                return _run(shipments, seed, echo, Path(tmp), progress, control_tower)
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        return _run(shipments, seed, echo, path, progress, control_tower)
    finally:
        logger.removeHandler(quiet)
        logger.propagate = propagate


def _run(
    shipments: int,
    seed: int,
    echo: Callable[[str], None],
    work: Path,
    progress: bool,
    control_tower: bool = False,
) -> int:
    import httpx

    from shipsync.carriers import CarrierClient, SleepRecorder
    from shipsync.carriers.fake import (
        RETRY_DELAYS,
        FakeCarrierService,
        FakeConfig,
        FakeDriver,
        Fault,
        FaultPlan,
        run_server,
    )
    from shipsync.flows import (
        AsyncSQLiteEventLog,
        Dispatcher,
        InvoiceReleaseGate,
        SQLiteDeadLetters,
        SQLiteEventLog,
    )
    from shipsync.idempotency import SQLiteStore
    from shipsync.webhooks import (
        StandardWebhooksScheme,
        WebhookReceiver,
        generate_secret,
        tracking_parser,
    )

    started = time.monotonic()
    service = FakeCarrierService(seed=seed)
    secret = generate_secret()
    events_db = work / "events.db"
    sink = _FlakySink(SQLiteEventLog(events_db, synchronous="NORMAL"), every=23)
    driver = FakeDriver(FakeConfig())
    receiver = WebhookReceiver(
        StandardWebhooksScheme().verifier(secret),  # the carrier signs on real time
        store=SQLiteStore(work / "dedupe.db", namespace="webhooks"),
        sink=sink,
        parser=tracking_parser(driver.parse_webhook, source=SOURCE, clock=service.clock.time),
        name="fake",
    )
    ledger = Ledger(work / "ledger.db", work / "outbox.jsonl")
    letters = SQLiteDeadLetters(events_db)  # rare writes: the default durability
    dispatcher = Dispatcher(
        SQLiteStore(work / "flows.db", namespace="demo"),
        letters,
        lease=timedelta(seconds=30),
    )
    gate = InvoiceReleaseGate(work / "ledger.db", synchronous="NORMAL")
    quotes: dict[str, tuple[str, str]] = {}
    failed_once = subscribe_handlers(dispatcher, ledger, quotes, gate)
    log = AsyncSQLiteEventLog(events_db, synchronous="NORMAL")
    statuses: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    totals: Counter[str] = Counter()

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(run_server(service))
        hook_url = stack.enter_context(_serve_receiver(receiver, outcomes))
        health = _carrier_health() if control_tower else None  # the tower's health tile
        check = (
            _tower(stack, work, dispatcher, letters, service, echo, health)
            if control_tower
            else None
        )
        service.webhooks.configure(url=hook_url, secret=secret, duplicates=0.25, reorder=True)
        http = httpx.Client(timeout=10)

        def send(url: str, headers: Mapping[str, str], body: bytes) -> int:
            return http.post(url, headers=dict(headers), content=body).status_code

        client = CarrierClient(
            FakeDriver(FakeConfig(base_url=server.url)),
            clock=service.clock.time,
            sleeper=SleepRecorder(),  # Retry-After is in the fake carrier's clock, not ours
            http=httpx.Client(timeout=FakeConfig().timeout, event_hooks=health.event_hooks("fake"))
            if health is not None
            else None,
        )
        if health is not None:
            health.breaker = client.breaker
            stack.callback(client.http.close)
        # Fast faults only: a timeout fault would hold the demo for the client's whole timeout.
        kinds = (Fault.RATE_LIMITED, Fault.UNAVAILABLE, Fault.BAD_GATEWAY)
        service.set_faults("create_shipment", FaultPlan(rate=0.1, kinds=kinds))
        steps = HOURS // STEP_HOURS
        bar_length = shipments + steps + 1
        bar: Any = (
            click.progressbar(length=bar_length, label="shipsync demo", file=None)
            if progress
            else contextlib.nullcontext()
        )
        with bar:
            booked = _book(client, shipments, quotes, bar.update if progress else None)
            service.set_faults("create_shipment", None)
            if os.environ.get("SHIPSYNC_DEMO_DEBUG"):
                echo(f"booked in {time.monotonic() - started:.1f}s")
            for _ in range(steps):
                service.advance(STEP_HOURS * 3600)
                statuses.update(status for _, status in service.webhooks.deliver(send))
                asyncio.run(_drain(dispatcher, log, totals))
                if check is not None:
                    check()
                if progress:
                    bar.update(1)
            if os.environ.get("SHIPSYNC_DEMO_DEBUG"):
                echo(f"stepped in {time.monotonic() - started:.1f}s")
            for delay in RETRY_DELAYS:  # deliveries the receiver deferred (503) come again
                if not service.webhooks.pending():
                    break
                service.advance(delay)
                statuses.update(status for _, status in service.webhooks.deliver(send))
            asyncio.run(_drain(dispatcher, log, totals))
            replay = asyncio.run(dispatcher.replay())
            if progress:
                bar.update(1)
        truth = {sid: _tracking(client, numbers) for sid, numbers in booked.items()}
        if health is not None:
            for row in health.rows():
                echo(
                    f"carrier health ({row.carrier}): {row.calls} calls, "
                    f"{row.error_rate:.1%} errors, breaker {row.breaker}"
                )
        client.close()
        http.close()

    pending = log.sync.pending()
    asyncio.run(log.close())
    return summarise(
        echo=echo,
        elapsed=time.monotonic() - started,
        ledger=ledger,
        truth=truth,
        statuses=statuses,
        outcomes=outcomes,
        totals=totals,
        replay=(len(replay.succeeded), len(replay.failed)),
        failed_once=len(failed_once),
        open_letters=len(letters.list()),
        pending=pending,
        holds=len(gate.holds()),
        work=work,
    )


def _tower(
    stack: contextlib.ExitStack,
    work: Path,
    dispatcher: Any,
    letters: Any,
    service: Any,
    echo: Callable[[str], None],
    health: Any = None,
) -> Callable[[], object]:
    """Serve the control tower for the rest of the demo; return the monitor's periodic check."""
    from shipsync.monitor import MonitorStore
    from shipsync.monitor.web import control_tower_for

    store = MonitorStore(work / "monitor.db")
    stack.callback(store.close)
    monitor, tower = stack.enter_context(
        control_tower_for(
            dispatcher,
            store=store,
            dead_letters=letters,
            clock=service.clock.time,
            health=health,
        )
    )
    echo(f"control tower: {tower.url} (open it now: it fills as the demo runs)")
    return monitor.check  # type: ignore[no-any-return]


def _carrier_health() -> Any:
    from shipsync.monitor import CarrierHealth

    return CarrierHealth()


def _book(
    client: CarrierClient,
    shipments: int,
    quotes: dict[str, tuple[str, str]],
    advance: Callable[[int], None] | None,
) -> dict[str, tuple[str, ...]]:
    """Book ``shipments`` across the fake carrier's scenarios; note each one's quote."""
    from shipsync.carriers.fake import Scenario
    from shipsync.testing.fake_carrier import sample_shipment

    scenarios = list(Scenario)
    booked: dict[str, tuple[str, ...]] = {}
    for i in range(shipments):
        scenario = scenarios[i % len(scenarios)]
        packages = 2 if scenario is Scenario.MULTI_PACKAGE_ONE_LATE else 1
        shipment = sample_shipment(
            shipment_id=f"DEMO-{i + 1:05d}", scenario=scenario.value, packages=packages
        )
        result = client.create_shipment(shipment, idempotency_key=f"book-{i}")
        booked[shipment.shipment_id] = result.tracking_numbers
        # Estimated at the fake carrier's standard tariff: 5.00 + 2.00/kg per package.
        quotes[shipment.shipment_id] = (f"{8 * packages}.00", "EUR")
        if advance is not None:
            advance(1)
    return booked


def _tracking(client: Any, numbers: Sequence[str]) -> list[TrackingEvent]:
    events: list[TrackingEvent] = []
    for number in numbers:
        events.extend(client.track(number))
    return events


@click.command()
@click.option(
    "--shipments",
    "-n",
    default=200,
    show_default=True,
    type=click.IntRange(min=1, max=100_000),
    help="Shipments to create.",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the fake carrier.")
@click.option(
    "--timeline",
    is_flag=True,
    help="Only fold messy event feeds into timelines, in-process (no server, no network).",
)
@click.option(
    "--control-tower",
    is_flag=True,
    help="Serve the control tower on a localhost port while the demo runs (server extra).",
)
@click.option(
    "--parallel-run",
    is_flag=True,
    help="Run the migration demo: a faulty legacy connector beside shipsync in shadow mode.",
)
@click.option(
    "--notify",
    "notify_demo",
    is_flag=True,
    help="Run the customer-notification demo: a local webhook endpoint and SMTP server, "
    "an outage mid-way, every notification checked to arrive exactly once.",
)
@click.option(
    "--odoo",
    "odoo_demo",
    is_flag=True,
    help="Run the booking loop through the Odoo the ODOO_* variables name: it creates its own "
    "sale orders and pickings and touches only those.",
)
@click.option(
    "--tenants",
    type=click.IntRange(min=1, max=50),
    default=None,
    help="Run N tenants at once through one shipsync (same shipment ids and keys in each) and "
    "check that nothing crosses over between them.",
)
@click.option("--keep", is_flag=True, help="Keep the work directory and say where it is.")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Work in DIR (created if needed) and keep it.",
)
def demo(
    shipments: int,
    seed: int,
    timeline: bool,
    control_tower: bool,
    parallel_run: bool,
    notify_demo: bool,
    odoo_demo: bool,
    tenants: int | None,
    keep: bool,
    work_dir: Path | None,
) -> None:
    """Run the end-to-end demo: fake carrier, signed webhooks, event log, handlers, checks.

    The fake carrier serves on a real localhost port; its webhooks arrive duplicated, reordered
    and now and then refused. Exits 1 if any check (nothing lost, nothing applied twice) fails.
    """
    if timeline:
        from shipsync.cli._timeline_demo import run

        raise SystemExit(run(shipments=shipments, seed=seed, echo=click.echo))
    if odoo_demo:
        from shipsync.cli._demo_odoo import odoo_demo_from_env

        odoo_demo_from_env(orders=min(shipments, 20), echo=click.echo)
        return
    if notify_demo:
        from shipsync.cli._notify_demo import run_notify_demo

        raise SystemExit(run_notify_demo(shipments=min(shipments, 50), seed=seed, echo=click.echo))
    if tenants is not None:
        from shipsync.cli._tenants_demo import run_tenants_demo

        if keep and work_dir is None:
            work_dir = Path(tempfile.mkdtemp(prefix="shipsync-tenants-"))
        status = run_tenants_demo(
            tenants=tenants,
            shipments=min(shipments, 200),
            seed=seed,
            echo=click.echo,
            workdir=work_dir,
        )
        if work_dir is not None:
            click.echo(f"work directory kept: {work_dir.resolve()}")
        raise SystemExit(status)
    if parallel_run:
        from shipsync.cli._parallel_demo import run_parallel_demo

        raise SystemExit(run_parallel_demo(click.echo, shipments=max(shipments, 20), seed=seed))
    from shipsync.errors import ShipsyncError

    if keep and work_dir is None:
        work_dir = Path(tempfile.mkdtemp(prefix="shipsync-demo-"))
    try:
        status = run_demo(
            shipments=shipments,
            seed=seed,
            echo=click.echo,
            workdir=work_dir,
            control_tower=control_tower,
        )
    except ShipsyncError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    if work_dir is None:
        click.echo("(the work directory is deleted; --keep or --work-dir DIR keeps it)")
    else:
        _inspect_hint(work_dir.resolve())
    raise SystemExit(status)


def _inspect_hint(work: Path) -> None:
    store = shlex.quote(str(work / "events.db"))
    ledger = shlex.quote(str(work / "ledger.db"))
    click.echo(f"work directory kept: {work}")
    click.echo(f"  dead letters:  shipsync dlq list --store {store} --state all")
    click.echo(
        f"  ledger:        sqlite3 {ledger} "
        "'SELECT milestone, count(*) FROM ledger GROUP BY milestone'"
    )
    click.echo(f"  outbox:        {work / 'outbox.jsonl'}")
