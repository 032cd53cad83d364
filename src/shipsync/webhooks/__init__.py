"""Verify and sign webhooks, and receive them without losing or doubling a delivery.

Schemes (configuration, no secrets) build verifiers and signers from the host's secrets:
:class:`StandardWebhooksScheme` (``v1`` HMAC-SHA256, ``v1a`` Ed25519), :class:`StripeScheme` and
:class:`HmacScheme` with the :data:`GITHUB_SCHEME` and :data:`EASYPOST_SCHEME` presets. Every
failure is a typed ``shipsync.errors.WebhookError``; no message carries a secret or a signature.

:class:`WebhookReceiver` and :class:`AsyncWebhookReceiver` run the whole pipeline (limit, verify,
parse, dedupe through an idempotency store, hand off to an :class:`EventSink`) and return a
:class:`Receipt` carrying the HTTP status to answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipsync._lazy import lazy, publish
from shipsync.webhooks._headers import HeadersInput
from shipsync.webhooks._hmac import (
    EASYPOST_SCHEME,
    GITHUB_SCHEME,
    HmacScheme,
)
from shipsync.webhooks._rsa import (
    SHIPENGINE_JWKS_URL,
    SHIPENGINE_SCHEME,
    JwksKeySource,
    RsaKeySource,
    RsaSha256Scheme,
    RsaSha256Signer,
    RsaSha256Verifier,
    StaticRsaKeys,
    rsa_public_key,
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
    generate_secret,
)
from shipsync.webhooks._stripe import StripeScheme

if TYPE_CHECKING:
    from shipsync.webhooks._parse import (
        ParsedDelivery,
        WebhookParser,
        parse_canonical,
        tracking_parser,
    )
    from shipsync.webhooks._receiver import (
        DEFAULT_DEDUPE_RETENTION,
        DEFAULT_MAX_BODY_SIZE,
        AsyncWebhookReceiver,
        Receipt,
        ReceiptOutcome,
        ReceiverOptions,
        WebhookReceiver,
    )
    from shipsync.webhooks._sink import AsyncEventSink, EventSink
    from shipsync.webhooks._tenants import (
        AsyncTenantWebhookReceiver,
        TenantWebhookReceiver,
        tenant_of_request,
    )

__all__ = [
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
__all__ += [
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
__all__ += [
    "AsyncTenantWebhookReceiver",
    "TenantWebhookReceiver",
    "tenant_of_request",
]

if not TYPE_CHECKING:  # mypy must not see __getattr__: it would accept any name
    __getattr__, __dir__ = lazy(__name__, __file__)
publish(__name__, __all__, globals())
