"""The small contract every signature scheme fulfils, and the value a verification returns.

A *scheme* is configuration without secrets: which headers, which algorithm, which encoding,
which tolerance. A carrier driver declares one as a class attribute; the host supplies the
secrets at run time and asks the scheme for a *verifier* (or a *signer*), which parses the secrets
once and then checks (or signs) deliveries as fast as it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, TypeAlias, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shipsync.errors import WebhookSecretError
from shipsync.webhooks._headers import HeadersInput

__all__ = [
    "Clock",
    "Secret",
    "Secrets",
    "SignatureScheme",
    "VerifiedDelivery",
    "WebhookSigner",
    "WebhookVerifier",
    "system_clock",
]

Clock: TypeAlias = Callable[[], float]
"""Returns the current time in Unix seconds; ``time.time`` unless a test injects another."""

Secret: TypeAlias = str | bytes | Ed25519PublicKey | Ed25519PrivateKey
"""One secret or key. What each scheme accepts is documented on the scheme."""

Secrets: TypeAlias = Secret | Sequence[Secret]
"""One secret, or several active at once while a secret is being rotated."""

system_clock: Clock = time.time


class VerifiedDelivery(NamedTuple):
    """What a successful verification proved about a delivery.

    ``delivery_id`` is the sender's signed delivery id when the scheme has one (Standard
    Webhooks' ``webhook-id``), else ``None``; ``timestamp`` is the signed time in Unix seconds when
    the scheme signs one. An immutable record, built once per delivery on the hot path.
    """

    scheme: str
    delivery_id: str | None = None
    timestamp: int | None = None


@runtime_checkable
class WebhookVerifier(Protocol):
    """Checks deliveries against the secrets it was built with."""

    def verify(self, body: bytes, headers: HeadersInput) -> VerifiedDelivery:
        """Return what was proved, or raise a ``WebhookVerificationError`` subclass."""
        ...


@runtime_checkable
class WebhookSigner(Protocol):
    """Signs outbound deliveries with the secrets it was built with."""

    def sign(
        self,
        body: bytes,
        *,
        msg_id: str | None = None,
        timestamp: datetime | int | None = None,
    ) -> dict[str, str]:
        """Return the headers that authenticate ``body`` (signature, and id and time if signed)."""
        ...


@runtime_checkable
class SignatureScheme(Protocol):
    """How a sender signs its webhooks. Holds no secrets; carrier drivers declare one.

    ``name`` identifies the scheme in receipts and dedupe keys. ``verifier`` and ``signer`` parse
    the secrets once (raising ``WebhookSecretError`` for a malformed one) and return objects that
    do the per-delivery work.
    """

    @property
    def name(self) -> str:
        """A short stable name such as ``"standard-webhooks"``."""
        ...

    def verifier(self, secrets: Secrets, *, clock: Clock = system_clock) -> WebhookVerifier:
        """Build a verifier for the active ``secrets`` (several during a rotation)."""
        ...

    def signer(self, secrets: Secrets, *, clock: Clock = system_clock) -> WebhookSigner:
        """Build a signer; with several secrets each delivery carries one signature per secret."""
        ...


def as_secret_list(secrets: Secrets) -> list[Secret]:
    """Return ``secrets`` as a list, treating a lone string, bytes or key as one secret.

    Anything else that is not a sequence of those (``None``, a number, a mapping) is a
    :class:`~shipsync.errors.WebhookSecretError`, named by kind only.
    """
    if isinstance(secrets, str | bytes | Ed25519PublicKey | Ed25519PrivateKey):
        return [secrets]
    given: object = secrets  # a host may pass anything at all
    if isinstance(given, Sequence):
        items: list[Secret] = [s for s in given if isinstance(s, _ONE_SECRET)]
        if len(items) == len(given):
            return items
    raise WebhookSecretError("secrets must be a str, bytes or Ed25519 key, or a sequence of them")


_ONE_SECRET = (str, bytes, Ed25519PublicKey, Ed25519PrivateKey)
