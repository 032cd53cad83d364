"""A transactional outbox: Odoo's business events, written with the change, pushed by a cron.

When an outgoing picking becomes ready with a carrier, is cancelled, when a return picking is
created or a sale order confirmed, the canonical event (built by ``shipsync.odoo.OdooSource``
from the records as this transaction sees them) is written as a ``shipsync.outbox`` row *in the
same database transaction*: a rolled-back change publishes nothing, a committed one is never
lost. The cron pushes pending rows, oldest first, to shipsync's webhook receiver, signed with
Standard Webhooks (the row's event id is the ``webhook-id``, so the receiver deduplicates a row
pushed twice), and marks a row sent only after a 2xx answer. Rows are locked with ``FOR UPDATE
SKIP LOCKED`` while pushed, so two cron workers never push the same row at once; a failed push
is retried with exponential backoff (capped at one hour) and its error kept on the row.
"""

import json
import logging
from datetime import timedelta

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

_BATCH = 100
_TIMEOUT = 10.0
_MAX_BACKOFF = timedelta(hours=1)


def _source(env):
    from shipsync.odoo import EnvGateway, MemoryCursorStore, OdooSource

    return OdooSource(EnvGateway(env), MemoryCursorStore(), database=env.cr.dbname)


def _changes(spec, records):
    from shipsync.odoo import Change

    rows = records.read([f for f in spec.fields if f in records._fields] + ["write_date"])
    return [
        Change(spec.name, row["id"], fields.Datetime.to_string(row["write_date"]), _json_row(row))
        for row in rows
    ]


def _json_row(row):
    """``read()`` in process gives datetimes and tuples; the builders expect RPC shapes."""
    out = {}
    for key, value in row.items():
        if isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "isoformat"):
            value = fields.Datetime.to_string(value) if hasattr(value, "hour") else str(value)
        out[key] = value
    return out


class ShipsyncOutbox(models.Model):
    _name = "shipsync.outbox"
    _description = "shipsync outbox"
    _order = "id"

    event_id = fields.Char(required=True, index=True, readonly=True)
    event_type = fields.Char(required=True, readonly=True)
    payload = fields.Text(required=True, readonly=True)
    state = fields.Selection(
        [("pending", "Pending"), ("sent", "Sent"), ("rejected", "Rejected")],
        default="pending",
        required=True,
        index=True,
    )
    attempts = fields.Integer(default=0)
    next_attempt = fields.Datetime(default=fields.Datetime.now, index=True)
    sent_at = fields.Datetime()
    last_error = fields.Text()

    _sql_constraints = [  # noqa: RUF012 - the form Odoo reads
        ("event_id_unique", "unique(event_id)", "An event is written to the outbox once."),
    ]

    @api.model
    def enqueue(self, feed_name, records):
        """Write the events of ``records`` for feed ``feed_name`` (in this transaction)."""
        if not records:
            return self.browse()
        from shipsync.odoo import FEEDS

        spec = FEEDS[feed_name]
        events, rejected = _source(self.env).events_for(spec, _changes(spec, records))
        values = [
            {"event_id": e.id, "event_type": e.type, "payload": e.to_json().decode()}
            for e in events
        ]
        values += [
            {
                "event_id": f"{feed_name}:{record_id}:rejected",
                "event_type": feed_name,
                "payload": json.dumps({"record_id": record_id}),
                "state": "rejected",
                "last_error": reason[:2000],
            }
            for record_id, reason in rejected.items()
        ]
        existing = set(
            self.search([("event_id", "in", [v["event_id"] for v in values])]).mapped("event_id")
        )
        return self.create([v for v in values if v["event_id"] not in existing])

    @api.model
    def _cron_push(self, limit=_BATCH):
        """Push pending rows to the receiver; mark each sent only after a 2xx."""
        params = self.env["ir.config_parameter"].sudo()
        url = params.get_param("shipsync_connector.outbox_url")
        secret = params.get_param("shipsync_connector.outbox_secret")
        if not url or not secret:
            _logger.info("shipsync outbox: no receiver URL or secret configured, nothing pushed")
            return 0
        self.env.cr.execute(
            "SELECT id FROM shipsync_outbox WHERE state = 'pending'"
            " AND next_attempt <= clock_timestamp()"
            " AT TIME ZONE 'UTC' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            [limit],
        )
        rows = self.browse([r[0] for r in self.env.cr.fetchall()])
        return rows._push(url, secret)

    def _push(self, url, secret):
        import httpx

        from shipsync.webhooks import StandardWebhooksScheme

        signer = StandardWebhooksScheme().signer(secret.split())
        sent = 0
        with httpx.Client(timeout=_TIMEOUT) as client:
            for row in self:
                body = row.payload.encode()
                headers = signer.sign(body, msg_id=row.event_id)
                headers["content-type"] = "application/json"
                try:
                    answer = client.post(url, content=body, headers=headers)
                    ok, error = 200 <= answer.status_code < 300, f"HTTP {answer.status_code}"
                except httpx.HTTPError as exc:
                    ok, error = False, f"{type(exc).__name__}: {exc}"
                if ok:
                    row.write(
                        {"state": "sent", "sent_at": fields.Datetime.now(), "last_error": False}
                    )
                    sent += 1
                else:
                    delay = min(timedelta(seconds=2 ** min(row.attempts, 12)), _MAX_BACKOFF)
                    row.write(
                        {
                            "attempts": row.attempts + 1,
                            "next_attempt": fields.Datetime.now() + delay,
                            "last_error": error[:2000],
                        }
                    )
                    _logger.warning("shipsync outbox: %s not delivered: %s", row.event_id, error)
        return sent


def _publish(pickings, before):
    """Enqueue the events of the transitions ``pickings`` made (``before``: id -> old state).

    Picking states are computed from the moves, so they change without ``stock.picking.write``:
    the hooks below sit on the move and picking methods that move them, read the state after
    ``super()`` and compare it with the state before.
    """
    if not pickings:
        return
    outbox = pickings.env["shipsync.outbox"].sudo()
    ready = pickings.filtered(
        lambda p: (
            p.picking_type_code == "outgoing"
            and p.state == "assigned"
            and before.get(p.id) != "assigned"
            and p.carrier_id
            and not p.carrier_tracking_ref
        )
    )
    cancelled = pickings.filtered(
        lambda p: (
            p.picking_type_code == "outgoing"
            and p.state == "cancel"
            and before.get(p.id) != "cancel"
        )
    )
    outbox.enqueue("picking.ready", ready)
    outbox.enqueue("picking.cancelled", cancelled)


class StockPicking(models.Model):
    _inherit = "stock.picking"

    @api.model_create_multi
    def create(self, vals_list):
        pickings = super().create(vals_list)
        returns = pickings.filtered(lambda p: p.return_id)
        self.env["shipsync.outbox"].sudo().enqueue("return.initiated", returns)
        return pickings

    def write(self, vals):
        before = {p.id: p.state for p in self} if "carrier_id" in vals else None
        result = super().write(vals)
        if before is not None:  # a carrier set on a picking already ready
            _publish(self, {k: v for k, v in before.items() if v != "assigned"})
        return result

    def action_cancel(self):
        before = {p.id: p.state for p in self}
        result = super().action_cancel()
        _publish(self, before)
        return result


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_assign(self, force_qty=False):
        pickings = self.picking_id
        before = {p.id: p.state for p in pickings}
        result = super()._action_assign(force_qty=force_qty)
        _publish(pickings | self.picking_id, before)
        return result

    def _action_cancel(self):
        pickings = self.picking_id
        before = {p.id: p.state for p in pickings}
        result = super()._action_cancel()
        _publish(pickings, before)
        return result


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def action_confirm(self):
        before = {p.id: p.state for p in self.picking_ids}
        result = super().action_confirm()
        confirmed = self.filtered(lambda o: o.state == "sale")
        self.env["shipsync.outbox"].sudo().enqueue("order.confirmed", confirmed)
        _publish(confirmed.picking_ids, before)
        return result
