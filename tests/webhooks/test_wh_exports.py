"""The public surface of shipsync.webhooks is exactly this list."""

from __future__ import annotations

import inspect

import shipsync.webhooks

EXPECTED = [
    "DEFAULT_DEDUPE_RETENTION",
    "DEFAULT_MAX_BODY_SIZE",
    "EASYPOST_SCHEME",
    "GITHUB_SCHEME",
    "AsyncEventSink",
    "AsyncWebhookReceiver",
    "Clock",
    "EventSink",
    "HeadersInput",
    "HmacScheme",
    "ParsedDelivery",
    "Receipt",
    "ReceiptOutcome",
    "ReceiverOptions",
    "Secret",
    "Secrets",
    "SignatureScheme",
    "StandardWebhooksScheme",
    "StripeScheme",
    "VerifiedDelivery",
    "WebhookParser",
    "WebhookReceiver",
    "WebhookSigner",
    "WebhookVerifier",
    "generate_secret",
    "parse_canonical",
    "tracking_parser",
]
EXPECTED += [
    "SHIPENGINE_JWKS_URL",
    "SHIPENGINE_SCHEME",
    "JwksKeySource",
    "RsaKeySource",
    "RsaSha256Scheme",
    "RsaSha256Signer",
    "RsaSha256Verifier",
    "StaticRsaKeys",
    "rsa_public_key",
]
EXPECTED += [
    "AsyncTenantWebhookReceiver",
    "TenantWebhookReceiver",
    "tenant_of_request",
]


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert shipsync.webhooks.__all__ == EXPECTED


def test_every_exported_name_exists_and_is_documented() -> None:
    """Each name resolves; each class and function has a docstring."""
    for name in EXPECTED:
        value = getattr(shipsync.webhooks, name)
        if isinstance(value, type) or inspect.isfunction(value):
            assert getattr(value, "__doc__", None), name
