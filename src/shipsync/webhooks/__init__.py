"""Verify and sign webhooks, and receive them without losing or doubling a delivery.

Schemes (configuration, no secrets) build verifiers and signers from the host's secrets:
:class:`StandardWebhooksScheme` (``v1`` HMAC-SHA256, ``v1a`` Ed25519), :class:`StripeScheme` and
:class:`HmacScheme` with the :data:`GITHUB_SCHEME` and :data:`EASYPOST_SCHEME` presets. Every
failure is a typed ``shipsync.errors.WebhookError``; no message carries a secret or a signature.
"""

from shipsync.webhooks._headers import HeadersInput
from shipsync.webhooks._hmac import (
    EASYPOST_SCHEME,
    GITHUB_SCHEME,
    HmacScheme,
    HmacSigner,
    HmacVerifier,
)
from shipsync.webhooks._scheme import (
    Clock,
    Secret,
    Secrets,
    SignatureScheme,
    VerifiedDelivery,
    WebhookSigner,
    WebhookVerifier,
)
from shipsync.webhooks._standard import (
    StandardWebhooksScheme,
    StandardWebhooksSigner,
    StandardWebhooksVerifier,
    generate_secret,
)
from shipsync.webhooks._stripe import StripeScheme, StripeSigner, StripeVerifier

__all__ = [
    "EASYPOST_SCHEME",
    "GITHUB_SCHEME",
    "Clock",
    "HeadersInput",
    "HmacScheme",
    "HmacSigner",
    "HmacVerifier",
    "Secret",
    "Secrets",
    "SignatureScheme",
    "StandardWebhooksScheme",
    "StandardWebhooksSigner",
    "StandardWebhooksVerifier",
    "StripeScheme",
    "StripeSigner",
    "StripeVerifier",
    "VerifiedDelivery",
    "WebhookSigner",
    "WebhookVerifier",
    "generate_secret",
]
