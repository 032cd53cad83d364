"""Settings of the connector, kept as system parameters (``shipsync_connector.*``)."""

from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    shipsync_webhook_secrets = fields.Char(
        string="Webhook secrets",
        config_parameter="shipsync_connector.webhook_secrets",
        help="Standard Webhooks secrets (whsec_...); several, separated by spaces, while a "
        "secret is being rotated.",
    )
    shipsync_validate_on_delivery = fields.Boolean(
        string="Validate pickings on delivery",
        config_parameter="shipsync_connector.validate_on_delivery",
    )
    shipsync_outbox_url = fields.Char(
        string="Event receiver URL",
        config_parameter="shipsync_connector.outbox_url",
        help="Where the outbox cron pushes Odoo's events (a shipsync webhook receiver).",
    )
    shipsync_outbox_secret = fields.Char(
        string="Event signing secret",
        config_parameter="shipsync_connector.outbox_secret",
        help="The Standard Webhooks secret (whsec_...) the pushed events are signed with.",
    )
