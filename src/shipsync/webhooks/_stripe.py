"""Stripe-style signatures: ``t=<seconds>,v1=<hex>[,v1=<hex>…]`` over ``{t}.{body}``.

The key is the secret string itself (UTF-8), ``whsec_`` prefix included, as Stripe does. The
timestamp must lie within the tolerance in *both* directions (Stripe's own helper only rejects old
ones). Entries other than ``t`` and ``v1`` (``v0`` test signatures, future schemes) are ignored,
but every entry must be a well-formed ``key=value`` pair and ``t`` must appear exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from hmac import compare_digest

import attrs

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    WebhookSecretError,
)
from shipsync.webhooks._codec import hexdecode_strict, parse_timestamp, raw_body, timestamp_seconds
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

__all__ = ["StripeScheme", "StripeSigner", "StripeVerifier"]

_KEY = re.compile(r"[a-z][a-z0-9]{0,15}")
_MAX_ENTRY = 80
# Values of entries we skip (``v0``, future schemes) must still be visible ASCII.
_VALUE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")


def _check_header_name(value: str) -> None:
    if not isinstance(value, str) or re.fullmatch(r"[A-Za-z0-9-]{1,100}", value) is None:
        raise InvalidInputError("header must be an HTTP header name", path="header")


@attrs.frozen
class StripeScheme:
    """Stripe-style ``t=…,v1=…`` signatures in one header (``Stripe-Signature`` by default).

    Secrets are ``str`` (used as UTF-8, ``whsec_`` prefix included, as Stripe does) or ``bytes``.
    """

    header: str = attrs.field(default="Stripe-Signature")
    tolerance: timedelta = attrs.field(default=timedelta(minutes=5))
    max_signatures: int = attrs.field(default=16)
    name: str = attrs.field(default="stripe")

    @header.validator
    def _check_header(self, _attribute: object, value: str) -> None:
        _check_header_name(value)

    @tolerance.validator
    def _check_tolerance(self, _attribute: object, value: timedelta) -> None:
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise InvalidInputError("tolerance must be a non-negative timedelta", path="tolerance")

    @max_signatures.validator
    def _check_max(self, _attribute: object, value: int) -> None:
        if not isinstance(value, int) or not 1 <= value <= 1000:
            raise InvalidInputError("max_signatures must be 1 to 1000", path="max_signatures")

    def verifier(self, secrets: Secrets, *, clock: Clock = system_clock) -> StripeVerifier:
        """Build a verifier for the active secrets."""
        return StripeVerifier(self, as_secret_list(secrets), clock=clock)

    def signer(self, secrets: Secrets, *, clock: Clock = system_clock) -> StripeSigner:
        """Build a signer; each delivery carries one ``v1`` per secret."""
        return StripeSigner(self, as_secret_list(secrets), clock=clock)


def _signable(body: object) -> bytes:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvalidInputError("the body must be bytes", path="body")
    return bytes(body)


def _keys(secrets: Sequence[Secret]) -> tuple[HmacKey, ...]:
    if not secrets:
        raise WebhookSecretError("at least one secret is needed")
    return tuple(HmacKey(hmac_secret(secret)) for secret in secrets)


class StripeVerifier:
    """Verifies Stripe-style deliveries; build it with ``StripeScheme.verifier``."""

    __slots__ = ("_clock", "_header", "_keys", "_max_sigs", "_name", "_tolerance")

    def __init__(self, scheme: StripeScheme, secrets: Sequence[Secret], *, clock: Clock) -> None:
        self._keys = _keys(secrets)
        self._header = scheme.header.lower()
        self._tolerance = scheme.tolerance.total_seconds()
        self._max_sigs = scheme.max_signatures
        self._name = scheme.name
        self._clock = clock

    def __repr__(self) -> str:
        return f"StripeVerifier(<{len(self._keys)} secret(s)>)"

    def _parse(self, value: str) -> tuple[str, list[bytes]]:
        header = self._header
        if len(value) > (self._max_sigs + 2) * _MAX_ENTRY or value.count(",") > self._max_sigs:
            raise MalformedHeaderError(header, "too many entries")
        stamp: str | None = None
        signatures: list[bytes] = []
        for entry in value.split(","):
            key, equals, item = entry.partition("=")
            if not equals or _KEY.fullmatch(key) is None or _VALUE.fullmatch(item) is None:
                raise MalformedHeaderError(header, "entries must be 'key=value'")
            if key == "t":
                if stamp is not None:
                    raise MalformedHeaderError(header, "the timestamp appears more than once")
                stamp = item
            elif key == "v1":
                signatures.append(hexdecode_strict(item, header, length=32))
        if stamp is None:
            raise MalformedHeaderError(header, "no timestamp 't='")
        return stamp, signatures

    def verify(self, body: bytes, headers: HeadersInput) -> VerifiedDelivery:
        """Return the verified timestamp, or raise a typed verification error."""
        (value,) = read_headers(headers, (self._header,))
        stamp, signatures = self._parse(value)
        timestamp = parse_timestamp(stamp, self._header)
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
        if not signatures:
            raise NoMatchingSignatureError("the header carries no v1 signature")
        if type(body) is not bytes:
            body = raw_body(body)
        prefix = stamp.encode("ascii") + b"."
        matched = False
        for key in self._keys:
            expected = key.digest_parts(prefix, body)
            for candidate in signatures:
                matched |= compare_digest(expected, candidate)
            if matched:
                return VerifiedDelivery(self._name, None, timestamp)
        raise NoMatchingSignatureError("no signature matches an active secret")


class StripeSigner:
    """Signs deliveries Stripe-style; build it with ``StripeScheme.signer``."""

    __slots__ = ("_clock", "_header", "_keys")

    def __init__(self, scheme: StripeScheme, secrets: Sequence[Secret], *, clock: Clock) -> None:
        self._keys = _keys(secrets)
        self._header = scheme.header
        self._clock = clock

    def __repr__(self) -> str:
        return f"StripeSigner(<{len(self._keys)} secret(s)>)"

    def signature(self, timestamp: datetime | int, body: bytes) -> str:
        """Return the header value for ``body`` signed at ``timestamp``."""
        seconds = timestamp_seconds(timestamp)
        body = _signable(body)
        prefix = f"{seconds}.".encode("ascii")
        signatures = ",".join(f"v1={key.digest_parts(prefix, body).hex()}" for key in self._keys)
        return f"t={seconds},{signatures}"

    def sign(
        self,
        body: bytes,
        *,
        msg_id: str | None = None,
        timestamp: datetime | int | None = None,
    ) -> dict[str, str]:
        """Return the signature header for ``body``; ``msg_id`` is not signed by this scheme."""
        del msg_id
        stamp = int(self._clock()) if timestamp is None else timestamp
        return {self._header: self.signature(stamp, body)}
