"""Standard Webhooks (https://www.standardwebhooks.com/): ``v1`` HMAC-SHA256 and ``v1a`` Ed25519.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` with the id and timestamp
exactly as they appear in the headers and the body as raw bytes. ``webhook-signature`` holds one or
more space-separated ``version,base64`` entries; a delivery is authentic when any ``v1`` entry
equals the HMAC under any active ``whsec_`` secret, or any ``v1a`` entry verifies under any active
``whpk_`` key. Entries of unknown versions are ignored (the standard's forward compatibility), but
every entry must be well formed and a known version's signature must be canonical base64 of the
right length, so truncated, padded-off or mislabelled signatures are malformed, never "no match".
"""

from __future__ import annotations

import binascii
import hmac
import re
from binascii import a2b_base64
from collections.abc import Sequence
from datetime import datetime, timedelta
from hmac import compare_digest
from secrets import token_bytes
from typing import Final

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    WebhookSecretError,
)
from shipsync.webhooks._codec import (
    DECIMAL,
    b64decode_strict,
    parse_timestamp,
    raw_body,
    timestamp_seconds,
)
from shipsync.webhooks._headers import HeadersInput, check_case_twins, read_headers
from shipsync.webhooks._hmac_key import HmacKey
from shipsync.webhooks._scheme import (
    Clock,
    Secret,
    Secrets,
    VerifiedDelivery,
    as_secret_list,
    system_clock,
)

__all__ = [
    "StandardWebhooksScheme",
    "StandardWebhooksSigner",
    "StandardWebhooksVerifier",
    "generate_secret",
]

ID_HEADER: Final = "webhook-id"
TIMESTAMP_HEADER: Final = "webhook-timestamp"
SIGNATURE_HEADER: Final = "webhook-signature"
_NAMES: Final = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

_HMAC_PREFIX: Final = "whsec_"
_PUBLIC_PREFIX: Final = "whpk_"
_SECRET_KEY_PREFIX: Final = "whsk_"

_MSG_ID = re.compile(r"[\x21-\x7e]{1,256}")
_VERSION = re.compile(r"v[0-9]{1,3}[a-z]?")
_MAX_ENTRY = 512
# Canonical padded base64 of exactly 32 and 64 bytes: the last character before the padding
# may only use the bits that carry data, so no two spellings decode to the same signature.
_V1 = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")
_ONLY_V1 = re.compile(r"v1,([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)")
_V1A = re.compile(r"[A-Za-z0-9+/]{85}[AQgw]==")
# Signatures of versions we do not know are skipped, but must still be visible ASCII (no commas).
_OTHER_VALUE = re.compile(rf"[\x21-\x2b\x2d-\x7e]{{1,{_MAX_ENTRY}}}")
_match_only_v1 = _ONLY_V1.fullmatch
_match_msg_id = _MSG_ID.fullmatch
_match_decimal = DECIMAL.fullmatch


def _bad_signature(value: str, size: int) -> str:
    if not value:
        return "empty signature"
    return f"a signature must be canonical padded base64 of {size} bytes"


def _b64_secret(value: str, prefix: str) -> bytes:
    try:
        return b64decode_strict(value[len(prefix) :], "secret", what="secret")
    except MalformedHeaderError:
        raise WebhookSecretError(
            f"a {prefix}… secret must be canonical padded base64 after its prefix"
        ) from None


def _private_key(value: str) -> Ed25519PrivateKey:
    raw = _b64_secret(value, _SECRET_KEY_PREFIX)
    if len(raw) not in (32, 64):
        raise WebhookSecretError("a whsk_… key must hold a 32-byte seed or 64 bytes seed+public")
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and not hmac.compare_digest(key.public_key().public_bytes_raw(), raw[32:]):
        raise WebhookSecretError("the public half of a 64-byte whsk_… key does not match its seed")
    return key


def _verification_key(secret: Secret) -> bytes | Ed25519PublicKey:
    if isinstance(secret, Ed25519PublicKey):
        return secret
    if isinstance(secret, Ed25519PrivateKey):
        return secret.public_key()
    if isinstance(secret, bytes):
        if not secret:
            raise WebhookSecretError("a webhook secret must not be empty")
        return secret
    if isinstance(secret, str):
        if secret.startswith(_HMAC_PREFIX):
            key = _b64_secret(secret, _HMAC_PREFIX)
            if not key:
                raise WebhookSecretError("a webhook secret must not be empty")
            return key
        if secret.startswith(_PUBLIC_PREFIX):
            raw = _b64_secret(secret, _PUBLIC_PREFIX)
            if len(raw) != 32:
                raise WebhookSecretError("a whpk_… key must hold a 32-byte Ed25519 public key")
            try:
                return Ed25519PublicKey.from_public_bytes(raw)
            except ValueError:
                raise WebhookSecretError("a whpk_… key is not an Ed25519 public key") from None
        if secret.startswith(_SECRET_KEY_PREFIX):
            return _private_key(secret).public_key()
    raise WebhookSecretError("a Standard Webhooks secret must start with whsec_, whpk_ or whsk_")


def _signing_key(secret: Secret) -> bytes | Ed25519PrivateKey:
    if isinstance(secret, Ed25519PrivateKey):
        return secret
    if isinstance(secret, str) and secret.startswith(_SECRET_KEY_PREFIX):
        return _private_key(secret)
    if isinstance(secret, Ed25519PublicKey) or (
        isinstance(secret, str) and secret.startswith(_PUBLIC_PREFIX)
    ):
        raise WebhookSecretError("a public key cannot sign: use the whsk_… secret key")
    key = _verification_key(secret)
    assert isinstance(key, bytes)
    return key


def generate_secret(kind: str = "whsec", *, size: int = 32) -> str:
    """Return a new random secret: ``whsec_`` (HMAC key of ``size`` bytes) or ``whsk_`` (Ed25519).

    The public key of a ``whsk_`` secret is ``StandardWebhooksScheme.public_key(secret)``.
    """
    if kind == "whsec":
        if not isinstance(size, int) or not 24 <= size <= 64:
            raise InvalidInputError("HMAC secrets should be 24 to 64 bytes", path="size")
        return _HMAC_PREFIX + binascii.b2a_base64(token_bytes(size), newline=False).decode()
    if kind == "whsk":
        return _SECRET_KEY_PREFIX + binascii.b2a_base64(token_bytes(32), newline=False).decode(
            "ascii"
        )
    raise InvalidInputError("kind must be 'whsec' or 'whsk'", path="kind")


@attrs.frozen
class StandardWebhooksScheme:
    """Standard Webhooks ``v1`` and ``v1a`` signatures in ``webhook-*`` headers.

    Verifier secrets: ``whsec_…`` (HMAC key, base64), raw ``bytes`` (HMAC key), ``whpk_…``
    (Ed25519 public key, base64 of 32 bytes), ``whsk_…`` or an ``Ed25519PrivateKey``/``PublicKey``.
    Signer secrets: ``whsec_…``, raw ``bytes``, ``whsk_…`` (base64 of the 32-byte seed or the
    64-byte seed+public form) or an ``Ed25519PrivateKey``.

    ``tolerance`` bounds how far the signed timestamp may lie in the past or the future;
    ``max_signatures`` bounds the entries one header may carry, so a header stuffed with thousands
    of signatures is rejected before any cryptography runs.
    """

    tolerance: timedelta = attrs.field(default=timedelta(minutes=5))
    max_signatures: int = attrs.field(default=16)

    @tolerance.validator
    def _check_tolerance(self, _attribute: object, value: timedelta) -> None:
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise InvalidInputError("tolerance must be a non-negative timedelta", path="tolerance")

    @max_signatures.validator
    def _check_max(self, _attribute: object, value: int) -> None:
        if not isinstance(value, int) or not 1 <= value <= 1000:
            raise InvalidInputError("max_signatures must be 1 to 1000", path="max_signatures")

    @property
    def name(self) -> str:
        """``"standard-webhooks"``."""
        return "standard-webhooks"

    def verifier(
        self, secrets: Secrets, *, clock: Clock = system_clock
    ) -> StandardWebhooksVerifier:
        """Build a verifier for the active secrets and public keys."""
        return StandardWebhooksVerifier(self, as_secret_list(secrets), clock=clock)

    def signer(self, secrets: Secrets, *, clock: Clock = system_clock) -> StandardWebhooksSigner:
        """Build a signer; each delivery gets one signature per secret (rotation)."""
        return StandardWebhooksSigner(as_secret_list(secrets), clock=clock)

    @staticmethod
    def public_key(secret: str | Ed25519PrivateKey) -> str:
        """Return the ``whpk_…`` public key of a ``whsk_…`` secret key, for the receiver."""
        if isinstance(secret, Ed25519PrivateKey):
            key = secret
        elif isinstance(secret, str) and secret.startswith(_SECRET_KEY_PREFIX):
            key = _private_key(secret)
        else:
            raise WebhookSecretError("a public key derives from a whsk_… secret key")
        raw = key.public_key().public_bytes_raw()
        return _PUBLIC_PREFIX + binascii.b2a_base64(raw, newline=False).decode("ascii")


class StandardWebhooksVerifier:
    """Verifies Standard Webhooks deliveries; build it with ``StandardWebhooksScheme.verifier``."""

    __slots__ = ("_clock", "_ed_keys", "_hmac_keys", "_max_len", "_max_sigs", "_tolerance")

    def __init__(
        self, scheme: StandardWebhooksScheme, secrets: Sequence[Secret], *, clock: Clock
    ) -> None:
        if not secrets:
            raise WebhookSecretError("at least one secret or key is needed to verify")
        keys = [_verification_key(secret) for secret in secrets]
        self._hmac_keys = tuple(HmacKey(k) for k in keys if isinstance(k, bytes))
        self._ed_keys = tuple(k for k in keys if isinstance(k, Ed25519PublicKey))
        self._tolerance = scheme.tolerance.total_seconds()
        self._max_sigs = scheme.max_signatures
        self._max_len = scheme.max_signatures * _MAX_ENTRY
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"StandardWebhooksVerifier(<{len(self._hmac_keys)} HMAC secret(s), "
            f"{len(self._ed_keys)} Ed25519 key(s)>)"
        )

    def _entries(self, header: str) -> tuple[list[bytes], list[bytes]]:
        if len(header) > self._max_len or header.count(" ") >= self._max_sigs:
            raise MalformedHeaderError(SIGNATURE_HEADER, "too many signatures")
        v1: list[bytes] = []
        v1a: list[bytes] = []
        for entry in header.split(" "):
            version, comma, value = entry.partition(",")
            if version == "v1":
                if _V1.fullmatch(value) is None:
                    raise MalformedHeaderError(SIGNATURE_HEADER, _bad_signature(value, 32))
                v1.append(binascii.a2b_base64(value))
            elif version == "v1a":
                if _V1A.fullmatch(value) is None:
                    raise MalformedHeaderError(SIGNATURE_HEADER, _bad_signature(value, 64))
                v1a.append(binascii.a2b_base64(value))
            elif (
                not comma
                or _VERSION.fullmatch(version) is None
                or _OTHER_VALUE.fullmatch(value) is None
            ):
                raise MalformedHeaderError(SIGNATURE_HEADER, "entries must be 'version,signature'")
        return v1, v1a

    def verify(self, body: bytes, headers: HeadersInput) -> VerifiedDelivery:
        """Return the verified delivery id and timestamp, or raise a typed verification error."""
        # This is the hot path of every receiver: the steps are inlined on purpose.
        if type(headers) is dict:  # exact lookups first; read_headers handles anything else
            msg_id = headers.get(ID_HEADER)
            stamp = headers.get(TIMESTAMP_HEADER)
            header = headers.get(SIGNATURE_HEADER)
            if type(msg_id) is not str or type(stamp) is not str or type(header) is not str:
                msg_id, stamp, header = read_headers(headers, _NAMES)
            elif len(headers) != 3:
                # Each name is present; another spelling of one (Webhook-Id) would be a repeat.
                # One join and one count settle the usual case; anything odd is looked at closely.
                try:
                    twins = "\n".join(headers).lower().count("webhook-") != 3
                except TypeError:  # bytes keys beside str ones
                    twins = True
                if twins:
                    check_case_twins(headers, _NAMES)
        else:
            msg_id, stamp, header = read_headers(headers, _NAMES)
        if _match_msg_id(msg_id) is None:
            raise MalformedHeaderError(ID_HEADER, "must be 1 to 256 visible ASCII characters")
        if _match_decimal(stamp) is None:
            parse_timestamp(stamp, TIMESTAMP_HEADER)  # raises the malformed-timestamp error
        timestamp = int(stamp)
        single = _match_only_v1(header)
        if single is not None:
            v1: list[bytes] = [a2b_base64(single.group(1))]
            v1a: list[bytes] = []
        else:
            v1, v1a = self._entries(header)
        now = self._clock()
        # Written as "not within" so a clock that returns NaN fails closed instead of open.
        if not now - timestamp <= self._tolerance:
            raise TimestampTooOldError(
                "the signed timestamp is older than the tolerance allows", tolerance=self._tolerance
            )
        if not timestamp - now <= self._tolerance:
            raise TimestampTooNewError(
                "the signed timestamp is further in the future than the tolerance allows",
                tolerance=self._tolerance,
            )
        if type(body) is not bytes:
            body = raw_body(body)
        prefix = f"{msg_id}.{stamp}.".encode("ascii")  # both checked: visible ASCII only
        matched = False
        if v1:
            for key in self._hmac_keys:
                inner = key.inner.copy()
                inner.update(prefix)
                inner.update(body)
                outer = key.outer.copy()
                outer.update(inner.digest())
                expected = outer.digest()
                for candidate in v1:
                    matched |= compare_digest(expected, candidate)
                if matched:
                    break
        if v1a and not matched:
            matched = self._ed25519_matches(v1a, prefix + body)
        if not matched:
            raise NoMatchingSignatureError("no signature matches an active secret or key")
        return VerifiedDelivery("standard-webhooks", msg_id, timestamp)

    def _ed25519_matches(self, signatures: list[bytes], content: bytes) -> bool:
        for key in self._ed_keys:
            for signature in signatures:
                try:
                    key.verify(signature, content)
                except InvalidSignature:
                    continue
                return True
        return False


class StandardWebhooksSigner:
    """Signs outbound deliveries in Standard Webhooks format (``v1`` and/or ``v1a``)."""

    __slots__ = ("_clock", "_keys")

    def __init__(self, secrets: Sequence[Secret], *, clock: Clock = system_clock) -> None:
        if not secrets:
            raise WebhookSecretError("at least one secret or key is needed to sign")
        self._keys = tuple(_signing_key(secret) for secret in secrets)
        self._clock = clock

    def __repr__(self) -> str:
        return f"StandardWebhooksSigner(<{len(self._keys)} key(s)>)"

    def signature(self, msg_id: str, timestamp: datetime | int, body: bytes) -> str:
        """Return the ``webhook-signature`` value for one delivery."""
        if not isinstance(msg_id, str) or _MSG_ID.fullmatch(msg_id) is None:
            raise InvalidInputError(
                "msg_id must be 1 to 256 visible ASCII characters", path="msg_id"
            )
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidInputError("the body must be bytes", path="body")
        seconds = timestamp_seconds(timestamp)
        content = b"".join((msg_id.encode("ascii"), b".", str(seconds).encode("ascii"), b".", body))
        entries = []
        for key in self._keys:
            if isinstance(key, bytes):
                raw, version = hmac.digest(key, content, "sha256"), "v1"
            else:
                raw, version = key.sign(content), "v1a"
            entries.append(f"{version},{binascii.b2a_base64(raw, newline=False).decode('ascii')}")
        return " ".join(entries)

    def sign(
        self,
        body: bytes,
        *,
        msg_id: str | None = None,
        timestamp: datetime | int | None = None,
    ) -> dict[str, str]:
        """Return ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for ``body``.

        ``timestamp`` defaults to the signer's clock; ``msg_id`` is required.
        """
        if msg_id is None:
            raise InvalidInputError("Standard Webhooks signatures need a msg_id", path="msg_id")
        seconds = timestamp_seconds(int(self._clock()) if timestamp is None else timestamp)
        return {
            ID_HEADER: msg_id,
            TIMESTAMP_HEADER: str(seconds),
            SIGNATURE_HEADER: self.signature(msg_id, seconds, body),
        }
