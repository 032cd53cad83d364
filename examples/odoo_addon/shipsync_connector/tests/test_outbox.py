"""The outbox: events written in the business transaction, pushed signed, marked sent on 2xx.

Run with the other addon tests (see ``test_connector.py``).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from odoo.tests import TransactionCase, tagged

from shipsync.canonical import OrderConfirmed, PickingReady, parse_event
from shipsync.webhooks import StandardWebhooksScheme, generate_secret


class _Receiver(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted status and keeps what it received."""

    statuses: ClassVar[list[int]] = []
    received: ClassVar[list[tuple[bytes, dict[str, str]]]] = []

    def log_message(self, format, *args):
        return

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, dict(self.headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@tagged("post_install", "-at_install")
class TestOutbox(TransactionCase):
    def _order(self, name):
        germany = self.env.ref("base.de")
        customer = self.env["res.partner"].create(
            {
                "name": name,
                "street": "Unter den Linden 1",
                "city": "Berlin",
                "country_id": germany.id,
            }
        )
        product = self.env["product.product"].create({"name": f"Widget {name}", "type": "consu"})
        carrier = self.env["delivery.carrier"].search([], limit=1)
        return self.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "carrier_id": carrier.id,
                "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})],
            }
        )

    def _rows(self, order):
        outbox = self.env["shipsync.outbox"]
        return outbox.search([("payload", "ilike", f'"{order.name}"')]) | outbox.search(
            [("payload", "ilike", order.picking_ids[:1].name or "-")]
        )

    def test_confirming_an_order_writes_its_events_in_the_same_transaction(self):
        """order.confirmed and picking.ready rows come with the confirmation, as shipsync events."""
        order = self._order("Outbox One")
        order.action_confirm()
        rows = self._rows(order)
        events = [parse_event(row.payload) for row in rows]
        assert any(
            isinstance(e, OrderConfirmed) and e.data.order.record_id == order.id for e in events
        )
        [ready] = [e for e in events if isinstance(e, PickingReady)]
        assert ready.data.picking.record_id == order.picking_ids.id
        assert ready.data.shipment.recipient.country == "DE"
        assert set(rows.mapped("state")) == {"pending"}

    def test_a_rolled_back_change_publishes_nothing(self):
        """An exception after the confirmation rolls the outbox rows back with it."""
        order = self._order("Outbox Two")
        before = self.env["shipsync.outbox"].search_count([])
        try:
            with self.env.cr.savepoint():
                order.action_confirm()
                assert self.env["shipsync.outbox"].search_count([]) > before
                raise RuntimeError("the host's transaction fails")
        except RuntimeError:
            pass
        self.env.invalidate_all()
        assert self.env["shipsync.outbox"].search_count([]) == before

    def test_the_cron_pushes_signed_rows_and_marks_them_sent_only_after_a_2xx(self):
        """A 503 leaves the row pending with its error; the next push (200) marks it sent."""
        handler = type("Receiver", (_Receiver,), {"statuses": [503], "received": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            secret = generate_secret()
            params = self.env["ir.config_parameter"].sudo()
            params.set_param(
                "shipsync_connector.outbox_url", f"http://127.0.0.1:{server.server_port}/events"
            )
            params.set_param("shipsync_connector.outbox_secret", secret)
            outbox = self.env["shipsync.outbox"]
            outbox.search([("state", "=", "pending")]).write({"state": "sent"})
            order = self._order("Outbox Three")
            order.action_confirm()
            rows = outbox.search([("state", "=", "pending")])
            assert rows
            first = rows[0]
            handler.statuses = [503] + [200] * len(rows)
            outbox._cron_push()
            assert first.state == "pending"
            assert first.attempts == 1
            assert "503" in first.last_error
            rows.write({"next_attempt": "2000-01-01 00:00:00"})
            outbox._cron_push()
            assert set(rows.mapped("state")) == {"sent"}
            verifier = StandardWebhooksScheme().verifier([secret])
            for body, headers in handler.received:
                verifier.verify(body, headers)
                assert json.loads(body)["id"] in rows.mapped("event_id")
        finally:
            server.shutdown()
            server.server_close()
