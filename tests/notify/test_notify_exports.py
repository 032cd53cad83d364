"""The public surface of shipsync.notify is pinned, and every name in it imports."""

from __future__ import annotations

import shipsync.notify

EXPECTED = [
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


def test_the_public_names_are_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert shipsync.notify.__all__ == EXPECTED


def test_every_public_name_exists() -> None:
    """Each name in __all__ is importable from the package."""
    for name in shipsync.notify.__all__:
        assert getattr(shipsync.notify, name) is not None


def test_the_library_imports_neither_click_nor_the_testing_kit() -> None:
    """shipsync.notify is a library package: no click, no shipsync.testing in its modules."""
    from pathlib import Path

    root = Path(shipsync.notify.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import click" not in text, path.name
        assert "from shipsync.testing" not in text, path.name
        assert "import shipsync.testing" not in text, path.name
