"""Plain HMAC signatures of the body in one header: GitHub, EasyPost and their many cousins.

The header carries ``{prefix}{digest}`` where the digest is HMAC-SHA256 or HMAC-SHA512 of the raw
body, in hex or canonical base64. No timestamp is signed, so there is no replay window: replays
are caught by the receiver's dedupe on the delivery's event id or body hash instead.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from datetime import datetime
from hmac import compare_digest
from typing import Final, Literal

import attrs

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    NoMatchingSignatureError,
    WebhookSecretError,
)
from shipsync.webhooks._codec import b64decode_strict, hexdecode_strict, raw_body
from shipsync.webhooks._headers import HeadersInput, read_headers
from shipsync.webhooks._hmac_key import HmacKey
from shipsync.webhooks._scheme import (
    Clock,
    Secret,
    Secrets,
    VerifiedDelivery,
    as_secret_list,
    system_clock,
)
from shipsync.webhooks._secrets import hmac_secret

__all__ = ["EASYPOST_SCHEME", "GITHUB_SCHEME", "HmacScheme", "HmacSigner", "HmacVerifier"]

_DIGEST_SIZE: Final = {"sha256": 32, "sha512": 64}


@attrs.frozen
class HmacScheme:
    """HMAC of the raw body in one header, e.g. ``X-Hub-Signature-256: sha256=<hex>``.

    ``algorithm`` is ``"sha256"`` or ``"sha512"``; ``encoding`` ``"hex"`` (either case accepted)
    or ``"base64"`` (canonical, padded); ``prefix`` is literal text before the digest;
    ``normalize_secret="NFKD"`` normalises a ``str`` secret before UTF-8 encoding it. ``name``
    identifies the sender in receipts and dedupe keys.
    """

    header: str = attrs.field()
    algorithm: Literal["sha256", "sha512"] = attrs.field(default="sha256")
    encoding: Literal["hex", "base64"] = attrs.field(default="hex")
    prefix: str = attrs.field(default="")
    normalize_secret: Literal["NFKD"] | None = attrs.field(default=None)
    name: str = attrs.field(default="hmac")

    @header.validator
    def _check_header(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or re.fullmatch(r"[A-Za-z0-9-]{1,100}", value) is None:
            raise InvalidInputError("header must be an HTTP header name", path="header")

    @algorithm.validator
    def _check_algorithm(self, _attribute: object, value: str) -> None:
        if value not in _DIGEST_SIZE:
            raise InvalidInputError("algorithm must be 'sha256' or 'sha512'", path="algorithm")

    @encoding.validator
    def _check_encoding(self, _attribute: object, value: str) -> None:
        if value not in ("hex", "base64"):
            raise InvalidInputError("encoding must be 'hex' or 'base64'", path="encoding")

    @prefix.validator
    def _check_prefix(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or not value.isascii() or len(value) > 64:
            raise InvalidInputError("prefix must be at most 64 ASCII characters", path="prefix")

    @normalize_secret.validator
    def _check_normalize(self, _attribute: object, value: str | None) -> None:
        if value not in (None, "NFKD"):
            raise InvalidInputError("normalize_secret must be None or 'NFKD'", path="normalize")

    def verifier(self, secrets: Secrets, *, clock: Clock = system_clock) -> HmacVerifier:
        """Build a verifier for the active secrets (``clock`` is unused: nothing is timed)."""
        del clock
        return HmacVerifier(self, as_secret_list(secrets))

    def signer(self, secrets: Secrets, *, clock: Clock = system_clock) -> HmacSigner:
        """Build a signer (the first secret signs; a plain HMAC header holds one signature)."""
        del clock
        return HmacSigner(self, as_secret_list(secrets))


GITHUB_SCHEME: Final = HmacScheme(
    header="X-Hub-Signature-256",
    algorithm="sha256",
    encoding="hex",
    prefix="sha256=",
    name="github",
)
"""GitHub's ``X-Hub-Signature-256: sha256=<hex>``."""

EASYPOST_SCHEME: Final = HmacScheme(
    header="X-Hmac-Signature",
    algorithm="sha256",
    encoding="hex",
    prefix="hmac-sha256-hex=",
    normalize_secret="NFKD",
    name="easypost",
)
"""EasyPost's ``X-Hmac-Signature: hmac-sha256-hex=<hex>`` with an NFKD-normalised secret."""


def _keys(scheme: HmacScheme, secrets: Sequence[Secret]) -> tuple[HmacKey, ...]:
    if not secrets:
        raise WebhookSecretError("at least one secret is needed")
    return tuple(
        HmacKey(hmac_secret(secret, normalize=scheme.normalize_secret), scheme.algorithm)
        for secret in secrets
    )


class HmacVerifier:
    """Verifies plain-HMAC deliveries; build it with ``HmacScheme.verifier``."""

    __slots__ = ("_header", "_keys", "_scheme", "_size")

    def __init__(self, scheme: HmacScheme, secrets: Sequence[Secret]) -> None:
        self._scheme = scheme
        self._keys = _keys(scheme, secrets)
        self._header = scheme.header.lower()
        self._size = _DIGEST_SIZE[scheme.algorithm]

    def __repr__(self) -> str:
        return f"HmacVerifier({self._scheme.name!r}, <{len(self._keys)} secret(s)>)"

    def verify(self, body: bytes, headers: HeadersInput) -> VerifiedDelivery:
        """Return a delivery without id or timestamp, or raise a typed verification error."""
        (value,) = read_headers(headers, (self._header,))
        prefix = self._scheme.prefix
        if not value.startswith(prefix):
            raise MalformedHeaderError(self._header, "the signature does not carry its prefix")
        encoded = value[len(prefix) :]
        if self._scheme.encoding == "hex":
            signature = hexdecode_strict(encoded, self._header, length=self._size)
        else:
            if len(encoded) != 4 * ((self._size + 2) // 3):  # before decoding: bounded work
                raise MalformedHeaderError(self._header, f"a signature must be {self._size} bytes")
            signature = b64decode_strict(encoded, self._header)
            if len(signature) != self._size:
                raise MalformedHeaderError(self._header, f"a signature must be {self._size} bytes")
        if type(body) is not bytes:
            body = raw_body(body)
        for key in self._keys:
            if compare_digest(key.digest(body), signature):
                return VerifiedDelivery(self._scheme.name)
        raise NoMatchingSignatureError("no signature matches an active secret")


class HmacSigner:
    """Signs deliveries with plain HMAC; build it with ``HmacScheme.signer``."""

    __slots__ = ("_key", "_scheme")

    def __init__(self, scheme: HmacScheme, secrets: Sequence[Secret]) -> None:
        self._scheme = scheme
        self._key = _keys(scheme, secrets)[0]

    def __repr__(self) -> str:
        return f"HmacSigner({self._scheme.name!r}, <secret>)"

    def signature(self, body: bytes) -> str:
        """Return the header value for ``body``."""
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidInputError("the body must be bytes", path="body")
        raw = self._key.digest(bytes(body))
        if self._scheme.encoding == "hex":
            encoded = raw.hex()
        else:
            encoded = binascii.b2a_base64(raw, newline=False).decode("ascii")
        return self._scheme.prefix + encoded

    def sign(
        self,
        body: bytes,
        *,
        msg_id: str | None = None,
        timestamp: datetime | int | None = None,
    ) -> dict[str, str]:
        """Return the signature header for ``body``; no id or time is signed by this scheme."""
        del msg_id, timestamp
        return {self._scheme.header: self.signature(body)}
