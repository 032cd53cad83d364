"""Customer communication: a customer-facing status, notification rules and channels.

The notifier projects the shipment state fold onto a small customer vocabulary
(:class:`CustomerStatus`) that never goes backwards, applies the rules (which change goes to
which channel, quiet hours, coalescing, preferences) and publishes each change as a
``notify.requested`` event into the flows' event log; one dispatcher handler per channel renders
it (Jinja2 and Babel, plain text and HTML) and sends it: outbound webhooks
(:class:`WebhookChannel`, Standard Webhooks-signed, retried for about a day), e-mail
(:class:`EmailChannel`, SMTP) and the Odoo chatter (:class:`OdooChatterChannel`). Needs the
``notify`` extra (Jinja2, Babel, aiosmtplib).
"""

from shipsync.notify._channel import (
    Channel,
    OutboundMessage,
    RecordingChannel,
    SendReceipt,
    ShadowChannel,
)
from shipsync.notify._email import EmailChannel, build_email
from shipsync.notify._endpoints import (
    Attempt,
    Delivery,
    Endpoint,
    EndpointStore,
    PostgresEndpointStore,
    SigningSecret,
    redact,
)
from shipsync.notify._guard import Resolver, Target, check_address, resolve_target
from shipsync.notify._letters import NotifyDeadLetters
from shipsync.notify._model import (
    NOTIFICATION_SOURCE,
    Notification,
    NotificationRequested,
    Recipient,
    notification_id,
    notify_catalogue,
)
from shipsync.notify._notifier import (
    Notifier,
    NotifyState,
    PostgresNotifyState,
    default_recipients,
)
from shipsync.notify._odoo import OdooChatterChannel
from shipsync.notify._render import TEXTS, Renderer, webhook_payload
from shipsync.notify._rules import (
    DEFAULT_RULES,
    PreferenceBook,
    Preferences,
    QuietHours,
    Rule,
    Rules,
)
from shipsync.notify._service import NotificationService
from shipsync.notify._status import (
    ACTION_REASONS,
    DEFAULT_RANKS,
    DEFAULT_TABLE,
    CustomerStatus,
    CustomerView,
    StatusProjection,
)
from shipsync.notify._tenants import TenantEndpoints, TenantNotifiers
from shipsync.notify._webhook import (
    DEFAULT_SCHEDULE,
    DeliveryReport,
    WebhookChannel,
    WebhookSender,
)

__all__ = [
    "ACTION_REASONS",
    "DEFAULT_RANKS",
    "DEFAULT_RULES",
    "DEFAULT_SCHEDULE",
    "DEFAULT_TABLE",
    "NOTIFICATION_SOURCE",
    "TEXTS",
    "Attempt",
    "Channel",
    "CustomerStatus",
    "CustomerView",
    "Delivery",
    "DeliveryReport",
    "EmailChannel",
    "Endpoint",
    "EndpointStore",
    "Notification",
    "NotificationRequested",
    "NotificationService",
    "Notifier",
    "NotifyDeadLetters",
    "NotifyState",
    "OdooChatterChannel",
    "OutboundMessage",
    "PostgresEndpointStore",
    "PostgresNotifyState",
    "PreferenceBook",
    "Preferences",
    "QuietHours",
    "Recipient",
    "RecordingChannel",
    "Renderer",
    "Resolver",
    "Rule",
    "Rules",
    "SendReceipt",
    "ShadowChannel",
    "SigningSecret",
    "StatusProjection",
    "Target",
    "TenantEndpoints",
    "TenantNotifiers",
    "WebhookChannel",
    "WebhookSender",
    "build_email",
    "check_address",
    "default_recipients",
    "notification_id",
    "notify_catalogue",
    "redact",
    "resolve_target",
    "webhook_payload",
]
