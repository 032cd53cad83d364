"""Odoo-side tests: the in-process gateway on a real registry, and the webhook controller.

Run with ``odoo-bin -d <db> -u shipsync_connector --test-enable --test-tags /shipsync_connector
--stop-after-init`` (add ``--http-port`` if a server already listens on 8069).
"""

import importlib.util
import uuid
from datetime import UTC, datetime, timedelta

from odoo.tests import HttpCase, TransactionCase, tagged

from shipsync.canonical import Milestone, ShipmentDelivered, ShipmentInTransit, TrackingEvent
from shipsync.errors import OdooAuthError, OdooError, OdooMissingError
from shipsync.odoo import EnvGateway, OdooFieldMap, OdooLogistics, RpcGateway
from shipsync.webhooks import StandardWebhooksScheme, generate_secret

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _event(ref, n, milestone):
    return TrackingEvent(
        event_id=f"{ref}-{n}",
        shipment_id=f"shp-{ref}",
        tracking_number=ref,
        carrier="fake",
        milestone=milestone,
        occurred_at=T0 + timedelta(hours=n),
        recorded_at=T0 + timedelta(hours=n),
        carrier_code=milestone.value.upper(),
        carrier_description=f"scan {n}",
    )


class _PickingMixin:
    def _picking(self, ref):
        kind = self.env["stock.picking.type"].search([("code", "=", "outgoing")], limit=1)
        product = self.env["product.product"].create({"name": f"Item {ref}", "type": "consu"})
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": kind.id,
                "location_id": kind.default_location_src_id.id,
                "location_dest_id": kind.default_location_dest_id.id,
                "carrier_tracking_ref": ref,
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Item",
                            "product_id": product.id,
                            "product_uom_qty": 1,
                            "location_id": kind.default_location_src_id.id,
                            "location_dest_id": kind.default_location_dest_id.id,
                        },
                    )
                ],
            }
        )
        picking.action_confirm()
        return picking

    def _notes(self, picking):
        return self.env["mail.message"].search(
            [
                ("model", "=", "stock.picking"),
                ("res_id", "=", picking.id),
                ("message_id", "=like", "<shipsync.%"),
            ]
        )


@tagged("post_install", "-at_install")
class TestEnvGateway(_PickingMixin, TransactionCase):
    def test_events_are_posted_once_and_delivery_validates(self):
        picking = self._picking("ENV-1")
        odoo = OdooLogistics(EnvGateway(self.env), OdooFieldMap(validate_on_delivery=True))
        events = [_event("ENV-1", 1, Milestone.IN_TRANSIT), _event("ENV-1", 2, Milestone.DELIVERED)]
        report = odoo.apply_events(events)
        assert len(report.applied) == 2
        assert report.validated == (picking.id,)
        assert picking.state == "done"
        assert len(self._notes(picking)) == 2
        assert self._notes(picking).subtype_id == self.env.ref("mail.mt_note")
        again = odoo.apply_events(events)
        assert len(again.duplicates) == 2
        assert len(self._notes(picking)) == 2

    def test_odoo_errors_are_translated_and_leave_the_transaction_usable(self):
        gateway = EnvGateway(self.env)
        with self.assertRaises(OdooMissingError):  # noqa: PT027 (no pytest inside Odoo)
            gateway.call("res.partner", "write", [[2_000_000_000], {"name": "x"}])
        assert gateway.call("res.partner", "search_count", [[]])

    def test_any_exception_of_odoo_is_an_odoo_error_as_over_rpc(self):
        gateway = EnvGateway(self.env)
        with self.assertRaises(OdooError) as caught:  # noqa: PT027 (no pytest inside Odoo)
            gateway.call("stock.picking", "search", [[["no_such_field", "=", 1]]])
        assert "no_such_field" in (caught.exception.odoo_message or "")
        assert gateway.call("stock.picking", "search_count", [[]]) >= 0


@tagged("post_install", "-at_install")
class TestWebhookController(_PickingMixin, HttpCase):
    def test_signed_delivery_is_applied_once_and_a_forgery_is_refused(self):
        secret = generate_secret()
        self.env["ir.config_parameter"].sudo().set_param(
            "shipsync_connector.webhook_secrets", secret
        )
        picking = self._picking("HOOK-1")
        events = [
            ShipmentInTransit.of(
                _event("HOOK-1", 1, Milestone.IN_TRANSIT), source="urn:test", time=T0
            ),
            ShipmentDelivered.of(
                _event("HOOK-1", 2, Milestone.DELIVERED), source="urn:test", time=T0
            ),
        ]
        body = b"[" + b",".join(e.to_json() for e in events) + b"]"
        headers = StandardWebhooksScheme().signer(secret).sign(body, msg_id=f"d-{picking.id}")
        headers["Content-Type"] = "application/json"

        first = self.url_open("/shipsync/webhook", data=body, headers=headers)
        assert first.status_code == 200, first.text
        assert "2 applied" in first.text
        replay = self.url_open("/shipsync/webhook", data=body, headers=headers)
        assert replay.status_code == 200
        assert len(self._notes(picking)) == 2

        forged = dict(headers, **{"webhook-signature": "v1," + "A" * 44})
        refused = self.url_open("/shipsync/webhook", data=body, headers=forged)
        assert refused.status_code == 400

    def test_events_for_unknown_pickings_are_acknowledged_as_unmatched(self):
        secret = generate_secret()
        self.env["ir.config_parameter"].sudo().set_param(
            "shipsync_connector.webhook_secrets", secret
        )
        event = ShipmentInTransit.of(
            _event("NO-SUCH-PICKING", 1, Milestone.IN_TRANSIT), source="urn:test", time=T0
        )
        body = b"[" + event.to_json() + b"]"
        # The delivery store outlives the test's rolled-back transaction: a fresh delivery id.
        msg_id = f"d-unmatched-{uuid.uuid4()}"
        headers = StandardWebhooksScheme().signer(secret).sign(body, msg_id=msg_id)
        headers["Content-Type"] = "application/json"
        answer = self.url_open("/shipsync/webhook", data=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert "1 unmatched" in answer.text

    def test_without_a_secret_deliveries_are_deferred(self):
        self.env["ir.config_parameter"].sudo().set_param("shipsync_connector.webhook_secrets", "")
        answer = self.url_open("/shipsync/webhook", data=b"[]", headers={"webhook-id": "x"})
        assert answer.status_code == 503
        assert answer.headers.get("Retry-After")


@tagged("post_install", "-at_install")
class TestRpcGatewayApiKey(HttpCase):
    def test_the_rpc_gateway_logs_in_with_an_api_key_and_refuses_a_wrong_one(self):
        if importlib.util.find_spec("odoorpc") is None:
            self.skipTest("odoorpc is not installed (pip install 'shipsync[odoo]')")
        admin = self.env.ref("base.user_admin")
        expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)  # Odoo's naive UTC
        key = (
            self.env["res.users.apikeys"]
            .with_user(admin)
            .sudo()
            ._generate(None, "shipsync test", expires)
        )
        gateway = RpcGateway(self.base_url(), self.env.cr.dbname, admin.login, key)
        assert gateway.server_version[0] == 18
        assert gateway.uid == admin.id
        assert gateway.call("res.partner", "search_count", [[["id", "=", admin.partner_id.id]]])
        with self.assertRaises(OdooAuthError):  # noqa: PT027 (no pytest inside Odoo)
            RpcGateway(self.base_url(), self.env.cr.dbname, admin.login, key[:-1] + "x")
