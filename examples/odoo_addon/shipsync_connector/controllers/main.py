"""``POST /shipsync/webhook``: verify, dedupe and apply signed carrier events to pickings.

The delivery goes through shipsync's receiver pipeline (size limit, Standard Webhooks signature,
parsing of shipsync CloudEvents, dedupe of the delivery id in a SQLite store under Odoo's data
directory). The sink applies the tracking events with ``OdooLogistics`` over the in-process
gateway and commits before the receiver records the delivery and answers 2xx, so an
acknowledged delivery is always in the database; each event is posted once even if a delivery is
replayed later, because the chatter notes carry the event's Message-Id.
"""

import logging
import os
import threading

from odoo.api import SUPERUSER_ID
from odoo.http import Controller, request, route
from odoo.tools import config

from shipsync.canonical import MilestoneEvent
from shipsync.idempotency import SQLiteStore
from shipsync.odoo import EnvGateway, OdooFieldMap, OdooLogistics
from shipsync.webhooks import StandardWebhooksScheme, WebhookReceiver

_logger = logging.getLogger(__name__)
_stores = {}
_stores_lock = threading.Lock()


def _store(dbname):
    """One SQLite delivery store per database, under Odoo's data directory."""
    with _stores_lock:
        if dbname not in _stores:
            folder = os.path.join(config["data_dir"], "shipsync")
            os.makedirs(folder, exist_ok=True)
            _stores[dbname] = SQLiteStore(
                os.path.join(folder, f"{dbname}-webhooks.sqlite"), namespace=dbname
            )
        return _stores[dbname]


class PickingSink:
    """Hands canonical events to the pickings, in the request's transaction, then commits."""

    def __init__(self, env, fields):
        self.env = env
        self.fields = fields
        self.report = None

    def publish(self, events):
        tracking = [event.data for event in events if isinstance(event, MilestoneEvent)]
        if tracking:
            logistics = OdooLogistics(EnvGateway(self.env), self.fields)
            self.report = logistics.apply_events(tracking)
        # Durable before the delivery is recorded and acknowledged.
        self.env.cr.commit()


class ShipsyncWebhookController(Controller):
    @route(
        "/shipsync/webhook",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def shipsync_webhook(self, **_params):
        env = request.env(user=SUPERUSER_ID)
        params = env["ir.config_parameter"]
        secrets = (params.get_param("shipsync_connector.webhook_secrets") or "").split()
        if not secrets:
            _logger.warning("shipsync webhook refused: no secret is configured")
            return request.make_response(
                "shipsync connector is not configured", status=503, headers=[("Retry-After", "300")]
            )
        validate = params.get_param("shipsync_connector.validate_on_delivery") in ("True", "1")
        sink = PickingSink(env, OdooFieldMap(validate_on_delivery=validate))
        receiver = WebhookReceiver(
            StandardWebhooksScheme().verifier(secrets),
            store=_store(env.cr.dbname),
            sink=sink,
            name="shipsync_connector",
        )
        receipt = receiver.receive(
            request.httprequest.get_data(cache=False), dict(request.httprequest.headers)
        )
        body = receipt.reason
        if sink.report is not None:
            report = sink.report
            body = (
                f"{receipt.reason}: {len(report.applied)} applied, "
                f"{len(report.duplicates)} duplicate, {len(report.unmatched)} unmatched"
            )
        _logger.info("shipsync webhook %s -> %s", receipt.delivery_id, body)
        return request.make_response(
            body,
            status=receipt.status,
            headers=[("Content-Type", "text/plain"), *receipt.headers.items()],
        )
