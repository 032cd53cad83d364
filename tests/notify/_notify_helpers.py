"""Builders and real local far sides for the notify tests: an HTTP endpoint and an SMTP server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from shipsync.canonical import (
    Address,
    Contact,
    Milestone,
    MilestoneEvent,
    Package,
    Parcel,
    Reason,
    Shipment,
    ShipmentCreated,
    TrackingEvent,
    Weight,
    event_for_tracking,
)
from shipsync.webhooks import StandardWebhooksScheme

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SOURCE = "shipsync/test"


def tracking(
    shipment: str,
    milestone: Milestone,
    minutes: int,
    *,
    tn: str = "1Z000000000001",
    reason: Reason = Reason.NORMAL,
    eid: str | None = None,
) -> TrackingEvent:
    """A tracking event of ``shipment`` at T0 + ``minutes``."""
    when = T0 + timedelta(minutes=minutes)
    return TrackingEvent(
        event_id=eid or f"{shipment}-{milestone.value}-{minutes}-{tn}",
        shipment_id=shipment,
        tracking_number=tn,
        carrier="fake",
        milestone=milestone,
        reason=reason,
        occurred_at=when,
        recorded_at=when,
        carrier_code=milestone.value.upper(),
    )


def milestone(shipment: str, ms: Milestone, minutes: int, **kw: Any) -> MilestoneEvent:
    """The envelope of :func:`tracking`."""
    return event_for_tracking(tracking(shipment, ms, minutes, **kw), source=SOURCE)


def created(
    shipment: str,
    *,
    email: str | None = "ada@example.com",
    order: str | None = "SO042",
    tns: tuple[str, ...] = ("1Z000000000001",),
) -> ShipmentCreated:
    """The booking of ``shipment`` for a consignee reachable at ``email``."""
    return ShipmentCreated.of(
        Shipment(
            shipment_id=shipment,
            order_reference=order,
            carrier="fake",
            service="standard",
            shipper=Address(country="DE", city="Berlin"),
            recipient=Address(
                country="FR",
                city="Paris",
                name="Ada Lovelace",
                contact=Contact(name="Ada Lovelace", email=email) if email else None,
            ),
            packages=tuple(
                Package(tracking_number=tn, parcel=Parcel(weight=Weight.of("1.2", "kg")))
                for tn in tns
            ),
        ),
        source=SOURCE,
        time=T0,
    )


@attrs.define
class Received:
    """One request the local endpoint got."""

    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool


class LocalEndpoint:
    """A real HTTP server on 127.0.0.1 that records webhooks and answers as told.

    ``mode`` is ``ok`` (204), ``fail`` (500), ``slow`` (a body trickling for ``slow_seconds``),
    ``hang`` (no answer for ``slow_seconds``) or ``redirect`` (302 to the metadata address).
    Only deliveries answered 2xx count in ``delivered``.
    """

    def __init__(self, secret: str | None = None) -> None:
        self.mode = "ok"
        self.slow_seconds = 3.0
        self.delay = 0.0
        self.requests: list[Received] = []
        self.delivered: list[str] = []
        self._verifier = StandardWebhooksScheme().verifier(secret) if secret else None
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                if outer._verifier is not None:
                    try:
                        outer._verifier.verify(body, headers)
                        verified = True
                    except Exception:
                        verified = False
                wid = headers.get("webhook-id", "")
                with outer._lock:
                    outer.requests.append(Received(wid, headers, body, verified))
                mode = outer.mode
                if outer.delay:
                    time.sleep(outer.delay)
                if mode == "ok":
                    with outer._lock:
                        outer.delivered.append(wid)
                    self.send_response(204)
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif mode == "fail":
                    payload = (
                        b'{"error": "boom", "token": "sk_live_abcdefghijklmnopqrstuvwxyz0123"}'
                    )
                    self.send_response(500)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                elif mode == "redirect":
                    self.send_response(302)
                    self.send_header("location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif mode == "slow":
                    self.send_response(200)
                    self.send_header("content-length", "1000")
                    self.end_headers()
                    end = time.monotonic() + outer.slow_seconds
                    with contextlib.suppress(OSError):
                        while time.monotonic() < end:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.1)
                elif mode == "hang":
                    time.sleep(outer.slow_seconds)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint's URL."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def __enter__(self) -> LocalEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """An aiosmtpd handler that keeps messages and refuses (451) while ``refusing`` is set."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refusing = False
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def message_ids(self) -> list[str]:
        """The notification ids of the messages kept (from their Message-ID), in order."""
        out = []
        for m in self.messages:
            mid = str(m["Message-ID"]).strip("<>")
            out.append(mid.split("@", 1)[0])
        return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server(sink: SmtpSink | None = None, **kwargs: Any) -> Iterator[tuple[SmtpSink, int]]:
    """A real aiosmtpd server on 127.0.0.1 with a :class:`SmtpSink`; yields (sink, port)."""
    from aiosmtpd.controller import Controller

    sink = sink or SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
