"""Track Alert's authentication, which runs the other way round.

UPS's Track Alert does not sign its pushes. As ``UPSTrackAlert.yaml`` documents it, UPS fetches
an OAuth2 token from a token endpoint *the subscriber* runs (client credentials,
``client_secret_basic``), then POSTs each event with ``Authorization: Bearer <token>``,
``x-api-key: <client id>`` and ``User-Agent: UPSPubSubTrackingService``.

So this module holds the subscriber's side: :class:`TrackAlertTokens` checks the client
credentials UPS presents (in constant time), issues short-lived opaque tokens and keeps only
their SHA-256 digests; :class:`TrackAlertScheme` is the signature scheme the webhook receiver
uses to accept a push only with a live token. The ASGI token endpoint lives in
``shipsync.carriers.ups.app`` (``server`` extra). Tokens live in this process's memory: run one
token endpoint per receiver process, or share a :class:`TrackAlertTokens` between them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from shipsync.errors import (
    MalformedHeaderError,
    NoMatchingSignatureError,
    WebhookSecretError,
)
from shipsync.webhooks import VerifiedDelivery
from shipsync.webhooks._headers import HeadersInput, read_headers
from shipsync.webhooks._scheme import Clock, Secrets, WebhookSigner, as_secret_list, system_clock

__all__ = ["USER_AGENT", "TrackAlertScheme", "TrackAlertTokens", "TrackAlertVerifier"]

#: The ``User-Agent`` UPS's Track Alert service sends.
USER_AGENT = "UPSPubSubTrackingService"
#: Most tokens kept at once; the oldest are dropped first.
MAX_LIVE_TOKENS = 10_000


def _digest(value: str | bytes) -> bytes:
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).digest()


class TrackAlertTokens:
    """Client credentials UPS presents, and the tokens issued to it (stored as digests).

    ``lifetime`` is each token's life in seconds (short: UPS fetches a new one when it
    expires). ``clock`` gives Unix seconds.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        lifetime: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id or not client_secret:
            raise WebhookSecretError("the Track Alert client id and secret must not be empty")
        if not 0 < lifetime <= 86_400:
            raise WebhookSecretError("token lifetime must be between 0 and 86400 seconds")
        self.client_id = client_id
        self._id_digest = _digest(client_id)
        self._secret_digest = _digest(client_secret)
        self.lifetime = lifetime
        self.clock = clock
        self._tokens: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TrackAlertTokens client_id={self.client_id!r} live={len(self._tokens)}>"

    def check_client(self, client_id: str, client_secret: str) -> bool:
        """Whether the credentials are the configured ones (constant time, both compared)."""
        same_id = hmac.compare_digest(_digest(client_id), self._id_digest)
        same_secret = hmac.compare_digest(_digest(client_secret), self._secret_digest)
        return same_id & same_secret

    def issue(self) -> tuple[str, float]:
        """A new opaque token and its lifetime; only its digest is kept."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._expire(now)
            if len(self._tokens) >= MAX_LIVE_TOKENS:
                oldest = min(self._tokens, key=self._tokens.__getitem__)
                del self._tokens[oldest]
            self._tokens[_digest(token)] = now + self.lifetime
        return token, self.lifetime

    def is_live(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        digest = _digest(token)
        now = self.clock()
        with self._lock:
            self._expire(now)
            live = list(self._tokens)
        found = False
        for stored in live:  # compare against every live digest: no early exit
            found |= hmac.compare_digest(stored, digest)
        return found

    def revoke_all(self) -> None:
        """Forget every issued token (after a credential change, say)."""
        with self._lock:
            self._tokens.clear()

    def _expire(self, now: float) -> None:
        for digest in [d for d, until in self._tokens.items() if until <= now]:
            del self._tokens[digest]


class TrackAlertVerifier:
    """Accepts a push only with a live bearer token, the configured ``x-api-key`` and UPS's
    ``User-Agent``."""

    def __init__(self, tokens: TrackAlertTokens, client_ids: list[str]) -> None:
        self.tokens = tokens
        self._client_ids = [_digest(c) for c in client_ids]

    def verify(self, body: bytes, headers: HeadersInput) -> VerifiedDelivery:
        """Return what was proved, or raise a ``WebhookVerificationError`` subclass."""
        authorization, api_key, agent = read_headers(
            headers, ("authorization", "x-api-key", "user-agent")
        )
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise MalformedHeaderError("authorization", "expected a bearer token")
        if agent != USER_AGENT:
            raise NoMatchingSignatureError("the User-Agent is not UPS Track Alert's")
        digest = _digest(api_key)
        known = False
        for client in self._client_ids:
            known |= hmac.compare_digest(client, digest)
        if not (known & self.tokens.is_live(token.strip())):
            raise NoMatchingSignatureError("no live Track Alert token for this client")
        return VerifiedDelivery("ups-track-alert")


class TrackAlertScheme:
    """The ``ups-track-alert`` scheme: bearer tokens issued by our own token endpoint.

    ``tokens`` is the :class:`TrackAlertTokens` the token endpoint issues from; the
    ``secrets`` given to :meth:`verifier` are the accepted client ids (``x-api-key``), by
    default the one ``tokens`` was made with. A scheme without ``tokens`` cannot verify.
    """

    name = "ups-track-alert"

    def __init__(self, tokens: TrackAlertTokens | None = None) -> None:
        self.tokens = tokens

    def verifier(self, secrets: Secrets, *, clock: Clock = system_clock) -> TrackAlertVerifier:
        """A verifier for pushes carrying one of the client ids in ``secrets``."""
        if self.tokens is None:
            raise WebhookSecretError(
                "give TrackAlertScheme the TrackAlertTokens its token endpoint issues from"
            )
        ids = [s.decode() if isinstance(s, bytes) else s for s in as_secret_list(secrets)]
        if not all(isinstance(s, str) and s for s in ids):
            raise WebhookSecretError("Track Alert client ids must be non-empty strings")
        return TrackAlertVerifier(self.tokens, [str(s) for s in ids])

    def signer(self, secrets: Secrets, *, clock: Clock = system_clock) -> WebhookSigner:
        """UPS signs nothing; use :class:`TrackAlertTokens` to issue tokens in tests."""
        raise WebhookSecretError("Track Alert pushes are not signed; there is no signer")
