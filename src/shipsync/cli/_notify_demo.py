"""The customer-notification part of the demo: a real local webhook endpoint and SMTP server.

:func:`run_notify_demo` books ``shipments`` stories into the embedded SQLite event log (their
events duplicated and shuffled, as carriers send them), and lets the dispatcher and the notifier
tell each change to a webhook endpoint served on a localhost port (verifying the Standard
Webhooks signature; the endpoint is ``ordered``, so its messages arrive in decision order) and
to an SMTP server on another (aiosmtpd); ``NotificationService.run`` hosts the dispatcher with
its flusher beside it, so a change a rule holds (quiet hours, coalescing) is not left behind.
Half-way both go down: the
endpoint answers 503 and the SMTP server 451. Execution goes on; the e-mails are dead-lettered
and the webhooks wait on their retry schedule. After recovery the dead letters are replayed and
the webhook sender catches up. The checks: every notification decided arrived exactly once on
each channel, each shipment's customer saw a non-decreasing sequence ending in ``delivered``.
Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["run_notify_demo"]

_SOURCE = "shipsync/demo"
_T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class _Endpoint:
    """A local webhook receiver: verifies signatures, counts deliveries by webhook id."""

    def __init__(self, secret: str) -> None:
        from shipsync.webhooks import StandardWebhooksScheme

        self.down = False
        self.delivered: Counter[str] = Counter()
        self.statuses: dict[str, list[str]] = {}
        self.bad_signatures = 0
        self.refused = 0
        verifier = StandardWebhooksScheme().verifier(secret)
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                import json

                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = 204
                if outer.down:
                    status = 503
                    with lock:
                        outer.refused += 1
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    try:
                        verifier.verify(body, headers)
                    except Exception:
                        status = 401
                        with lock:
                            outer.bad_signatures += 1
                    else:
                        data = json.loads(body)["data"]
                        with lock:
                            outer.delivered[headers["webhook-id"]] += 1
                            outer.statuses.setdefault(data["shipment_id"], []).append(
                                data["status"]
                            )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/shipsync"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Mailbox:
    """The aiosmtpd handler: keeps messages by notification id; answers 451 while down."""

    def __init__(self) -> None:
        self.down = False
        self.delivered: Counter[str] = Counter()
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.down:
            self.refused += 1
            return "451 4.3.0 mailbox busy, try again later"
        mail = message_from_bytes(envelope.content)
        self.delivered[str(mail["Message-ID"]).strip("<>").split("@", 1)[0]] += 1
        return "250 OK"


@contextlib.contextmanager
def _smtp(handler: _Mailbox) -> Iterator[int]:
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:
        from shipsync.errors import MissingDependencyError

        raise MissingDependencyError("the notification demo's SMTP server", "dev") from exc
    from shipsync.cli._demo import _free_port

    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _stories(shipments: int, seed: int) -> tuple[list[Any], list[Any]]:
    """Each shipment's booking and milestones, duplicated and shuffled; split in two halves."""
    from shipsync.canonical import (
        Address,
        Contact,
        Milestone,
        Package,
        Parcel,
        Shipment,
        ShipmentCreated,
        TrackingEvent,
        Weight,
        event_for_tracking,
    )

    rng = random.Random(seed)
    path = (
        Milestone.LABEL_CREATED,
        Milestone.PICKED_UP,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERED,
    )
    halves: tuple[list[Any], list[Any]] = ([], [])
    for i in range(shipments):
        sid = f"DEMO-{i + 1:04d}"
        tn = f"1ZDEMO{i + 1:08d}"
        booked = ShipmentCreated.of(
            Shipment(
                shipment_id=sid,
                order_reference=f"SO{i + 1:04d}",
                carrier="fake",
                service="standard",
                shipper=Address(country="DE", city="Berlin"),
                recipient=Address(
                    country="FR",
                    city="Lyon",
                    contact=Contact(name=f"Customer {i + 1}", email=f"c{i + 1}@example.com"),
                ),
                packages=(Package(tracking_number=tn, parcel=Parcel(weight=Weight.of("2", "kg"))),),
            ),
            source=_SOURCE,
            time=_T0,
        )
        events: list[Any] = []
        for step, ms in enumerate(path):
            when = _T0 + timedelta(hours=6 * step)
            tracking = TrackingEvent(
                event_id=f"{sid}-{ms.value}",
                shipment_id=sid,
                tracking_number=tn,
                carrier="fake",
                milestone=ms,
                occurred_at=when,
                recorded_at=when,
                carrier_code=ms.value.upper(),
            )
            events.append(event_for_tracking(tracking, source=_SOURCE))
        events += rng.sample(events, k=2)  # carriers send twice
        rng.shuffle(events)
        # The booking and the first scans before the outage, the rest during it.
        cut = rng.randint(2, len(events) - 1)
        halves[0].extend([booked, *events[:cut]])
        halves[1].extend(events[cut:])
    return halves


async def _demo(
    stories: tuple[Sequence[Any], Sequence[Any]],
    expect_delivered: int | None,
    echo: Callable[[str], None],
    workdir: Path,
) -> int:
    from shipsync.flows import AsyncSQLiteEventLog, Dispatcher, SQLiteDeadLetters
    from shipsync.idempotency import SQLiteStore
    from shipsync.notify import (
        CustomerStatus,
        EmailChannel,
        EndpointStore,
        NotificationRequested,
        NotificationService,
        Notifier,
        NotifyDeadLetters,
        NotifyState,
        Rule,
        Rules,
        WebhookChannel,
        WebhookSender,
        notify_catalogue,
    )
    from shipsync.webhooks import generate_secret

    first, second = stories
    secret = generate_secret()
    endpoint = _Endpoint(secret)
    store = EndpointStore(workdir / "endpoints.db")
    store.add(endpoint.url, id="demo", secret=secret, allow_private=True, ordered=True)
    mailbox = _Mailbox()
    decided: list[str] = []
    log = AsyncSQLiteEventLog(workdir / "events.db", catalogue=notify_catalogue())

    class Recorder:
        async def publish(self, events: Sequence[Any]) -> None:
            decided.extend(e.id for e in events if isinstance(e, NotificationRequested))
            await log.publish(events)

    sender = WebhookSender(store, schedule=(0, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0), timeout=5.0)
    try:
        with _smtp(mailbox) as port:
            email = EmailChannel("127.0.0.1", port, "shop@example.com", timeout=5.0)
            email_statuses = frozenset(
                {CustomerStatus.SHIPPED, CustomerStatus.OUT_FOR_DELIVERY, CustomerStatus.DELIVERED}
            )
            rules = Rules.of([Rule(("webhook",)), Rule(("email",), statuses=email_statuses)])
            service = NotificationService(
                Notifier(NotifyState(workdir / "notify.db"), rules),
                [WebhookChannel(sender), email],
                channel_timeout=10.0,
            )
            dead = NotifyDeadLetters(SQLiteDeadLetters(workdir / "dead.db"))
            dispatcher = Dispatcher(SQLiteStore(workdir / "keys.db"), dead)
            service.attach(dispatcher, Recorder())

            # The sender retries beside the dispatcher, as it would in production.
            stop_sender = asyncio.Event()
            retries = asyncio.create_task(sender.run(interval=0.05, stop=stop_sender))

            await log.publish(first)
            report = await service.run(dispatcher, log, idle_timeout=0.5)
            echo(f"before the outage: {report.events} events, {len(set(decided))} notifications")

            endpoint.down = mailbox.down = True
            await log.publish(second)
            report = await service.run(dispatcher, log, idle_timeout=0.5)
            await asyncio.sleep(1.0)  # the outage lasts: the sender's retries meet it too
            echo(
                f"during the outage: {report.events} events handled, "
                f"{report.dead_lettered} e-mails dead-lettered, webhook attempts refused "
                f"{endpoint.refused} times (execution went on)"
            )

            endpoint.down = mailbox.down = False
            replay = await dispatcher.replay()
            requeued = store.replay()  # webhooks whose whole schedule ran into the outage
            for _ in range(400):
                if not store.deliveries("pending"):
                    break
                await asyncio.sleep(0.05)
            stop_sender.set()
            await retries
            echo(
                f"after recovery: {len(replay.succeeded)} e-mail dead letters replayed, "
                f"{requeued} failed webhooks requeued, "
                f"{len(store.deliveries('succeeded'))} webhooks delivered"
            )
    finally:
        await sender.aclose()
        await log.close()
        endpoint.close()
        store.close()

    return _check(decided, endpoint, mailbox, expect_delivered, echo)


def _check(
    decided: list[str],
    endpoint: _Endpoint,
    mailbox: _Mailbox,
    expect_delivered: int | None,
    echo: Callable[[str], None],
) -> int:
    from shipsync.notify import DEFAULT_RANKS, CustomerStatus

    problems = []
    unique = set(decided)
    webhook_seen = set(endpoint.delivered)
    email_seen = set(mailbox.delivered)
    missing = unique - (webhook_seen | email_seen)
    if missing:
        problems.append(f"{len(missing)} notifications never arrived")
    doubled = [i for i, c in (endpoint.delivered + mailbox.delivered).items() if c > 1]
    if doubled:
        problems.append(f"{len(doubled)} notifications arrived twice")
    stray = (webhook_seen | email_seen) - unique
    if stray:
        problems.append(f"{len(stray)} messages nobody decided")
    if endpoint.bad_signatures:
        problems.append(f"{endpoint.bad_signatures} webhooks failed signature checks")
    for sid, seen in endpoint.statuses.items():
        ranks = [DEFAULT_RANKS[CustomerStatus(s)] for s in seen]
        if ranks != sorted(ranks) or len(set(ranks)) != len(ranks):
            problems.append(f"{sid}: the customer saw {seen}")
    finished = sum(1 for seen in endpoint.statuses.values() if seen and seen[-1] == "delivered")
    if expect_delivered is not None and finished != expect_delivered:
        problems.append(f"{expect_delivered - finished} shipments never told 'delivered'")
    echo(
        f"checks: {len(unique)} notifications decided, {len(webhook_seen)} webhooks and "
        f"{len(email_seen)} e-mails arrived, {len(doubled)} twice, {len(missing)} missing"
    )
    for problem in problems:
        echo(f"FAILED: {problem}")
    if not problems:
        echo("every notification arrived exactly once after the outage")
    return 1 if problems else 0


def run_notify_demo(
    *,
    shipments: int = 20,
    seed: int = 7,
    echo: Callable[[str], None] = print,
    workdir: str | Path | None = None,
    events: Sequence[Any] | None = None,
) -> int:
    """Run the notification demo; return 0 when every check holds, else 1.

    ``events`` (canonical events: bookings, milestones, rate quotes) replaces the generated
    stories: the first half goes out before the outage, the rest during it. Without them,
    ``shipments`` happy-path stories are generated from ``seed`` and each must end told
    ``delivered``.
    """
    if events is not None:
        items = list(events)
        cut = len(items) // 2
        stories: tuple[Sequence[Any], Sequence[Any]] = (items[:cut], items[cut:])
        expect: int | None = None
    else:
        if shipments < 1:
            from shipsync.errors import InvalidInputError

            raise InvalidInputError("the demo needs at least one shipment", path="shipments")
        stories, expect = _stories(shipments, seed), shipments
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="shipsync-notify-"))
        return asyncio.run(_demo(stories, expect, echo, Path(workdir)))
