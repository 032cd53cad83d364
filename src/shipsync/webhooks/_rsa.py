"""RSA-SHA256 signatures with a key id, as ShipEngine (ShipStation API) signs its webhooks.

Three headers travel with each delivery: the key id (``x-shipengine-rsa-sha256-key-id``), the
signature (``x-shipengine-rsa-sha256-signature``, canonical padded base64 of an RSASSA-PKCS1-v1_5
SHA-256 signature, that is JOSE's ``RS256``) and the time (``x-shipengine-timestamp``). The signed
content is ``{timestamp}.{body}``: the timestamp header exactly as received, a full stop, and the
raw body bytes. The public keys are published as a JSON Web Key Set; a host gives the verifier a
*key source*: :class:`StaticRsaKeys` (keys given directly) or :class:`JwksKeySource` (a JWKS URL
fetched and cached, refetched at most once per ``refresh_interval`` however many unknown key ids
arrive, so a flood of forged ids cannot hammer the key endpoint).

Strictness, as for the other schemes: each header exactly once; the signature canonical base64 of
exactly the key's modulus length; the timestamp an RFC 3339 UTC-offset date-time or plain Unix
seconds, within the tolerance in *both* directions; an unknown key id is refused
(:class:`~shipsync.errors.NoMatchingSignatureError`) after at most one permitted refetch; keys
shorter than 2048 bits are refused when loaded. A key endpoint that cannot be reached when a key
is needed raises :class:`~shipsync.errors.UnavailableError` (a receiver answers 5xx and the sender
retries), never a silent acceptance.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, TypeAlias, runtime_checkable

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    UnavailableError,
    WebhookSecretError,
)
from shipsync.webhooks._codec import DECIMAL, b64decode_strict, raw_body, timestamp_seconds
from shipsync.webhooks._headers import HeadersInput, read_headers
from shipsync.webhooks._scheme import Clock, Secrets, VerifiedDelivery, system_clock

__all__ = [
    "MIN_RSA_BITS",
    "SHIPENGINE_JWKS_URL",
    "SHIPENGINE_SCHEME",
    "JwksKeySource",
    "RsaKeySource",
    "RsaSha256Scheme",
    "RsaSha256Signer",
    "RsaSha256Verifier",
    "StaticRsaKeys",
    "rsa_public_key",
    "shared_jwks_source",
]

#: Where ShipEngine publishes the public keys of its webhook signatures.
SHIPENGINE_JWKS_URL: Final = "https://api.shipengine.com/jwks"
#: Shorter RSA keys are refused when loaded.
MIN_RSA_BITS: Final = 2048
_MAX_RSA_BITS: Final = 8192
_KEY_ID = re.compile(r"[\x21-\x7e]{1,200}")
# RFC 3339 date-time: date, "T", time, optional fraction, "Z" or a numeric offset. Nothing else.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")

RsaPublicKeyInput: TypeAlias = rsa.RSAPublicKey | str | bytes | Mapping[str, Any]
"""An RSA public key: a key object, PEM text or bytes, or a JWK (``kty: RSA``) as a mapping."""


def _b64url_int(value: object, field: str) -> int:
    if not isinstance(value, str) or _B64URL.fullmatch(value) is None:
        raise WebhookSecretError(f"JWK field {field!r} must be unpadded base64url")
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(f"JWK field {field!r} is not base64url") from None
    if not raw:
        raise WebhookSecretError(f"JWK field {field!r} is empty")
    # RFC 7518 asks for no leading zero octet, but published key sets carry one: accept it.
    return int.from_bytes(raw, "big")


def _check_size(key: rsa.RSAPublicKey) -> rsa.RSAPublicKey:
    if not MIN_RSA_BITS <= key.key_size <= _MAX_RSA_BITS:
        raise WebhookSecretError(f"an RSA key must have {MIN_RSA_BITS} to {_MAX_RSA_BITS} bits")
    return key


def _jwk_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    if jwk.get("kty") != "RSA":
        raise WebhookSecretError("JWK 'kty' must be 'RSA'")
    if jwk.get("alg", "RS256") != "RS256":
        raise WebhookSecretError("JWK 'alg' must be 'RS256' when present")
    if jwk.get("use", "sig") != "sig":
        raise WebhookSecretError("JWK 'use' must be 'sig' when present")
    modulus = _b64url_int(jwk.get("n"), "n")
    exponent = _b64url_int(jwk.get("e"), "e")
    if exponent < 3 or exponent % 2 == 0:
        raise WebhookSecretError("JWK 'e' is not a valid RSA public exponent")
    try:
        key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        raise WebhookSecretError("JWK does not hold a valid RSA public key") from None
    return _check_size(key)


def rsa_public_key(value: RsaPublicKeyInput) -> rsa.RSAPublicKey:
    """Load an RSA public key from a key object, PEM (text or bytes) or a JWK mapping.

    Anything else, a private key's PEM, a non-RSA key or one shorter than 2048 bits is a
    :class:`~shipsync.errors.WebhookSecretError`.
    """
    if isinstance(value, rsa.RSAPublicKey):
        return _check_size(value)
    if isinstance(value, Mapping):
        return _jwk_key(value)
    if isinstance(value, str):
        value = value.encode("utf-8", "replace")
    if isinstance(value, bytes):
        try:
            key = serialization.load_pem_public_key(value)
        except (ValueError, TypeError):
            raise WebhookSecretError("not a PEM-encoded public key") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookSecretError("the PEM key is not an RSA key")
        return _check_size(key)
    raise WebhookSecretError("an RSA public key must be a key object, PEM or a JWK mapping")


def _check_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise WebhookSecretError("a key id must be 1 to 200 visible ASCII characters")
    return key_id


@runtime_checkable
class RsaKeySource(Protocol):
    """Where a verifier finds the public key of a key id.

    ``key`` returns ``None`` for an id it does not know (after whatever refresh it allows) and may
    raise :class:`~shipsync.errors.UnavailableError` when it cannot find out.
    """

    def key(self, key_id: str) -> rsa.RSAPublicKey | None:
        """The public key of ``key_id``, or ``None``."""
        ...


class StaticRsaKeys:
    """Keys given directly, by key id: for tests, pinned deployments and offline hosts."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[str, RsaPublicKeyInput]) -> None:
        if not isinstance(keys, Mapping) or not keys:
            raise WebhookSecretError("give at least one key, as a mapping of key id to key")
        self._keys = {_check_key_id(kid): rsa_public_key(key) for kid, key in keys.items()}

    def __repr__(self) -> str:
        return f"StaticRsaKeys(<{len(self._keys)} key(s)>)"

    def key(self, key_id: str) -> rsa.RSAPublicKey | None:
        """The key of ``key_id``, or ``None``."""
        return self._keys.get(key_id)

    @classmethod
    def from_jwks(cls, document: bytes | str | Mapping[str, Any]) -> StaticRsaKeys:
        """Read the RSA signing keys of a JWKS document (other key types are skipped)."""
        return cls(parse_jwks(document))


#: A JWKS document is refused beyond this size and key count.
MAX_JWKS_BYTES: Final = 256 * 1024
MAX_JWKS_KEYS: Final = 100


def parse_jwks(document: bytes | str | Mapping[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """The RSA ``sig`` keys of a JWKS document by ``kid``; a malformed document is a
    :class:`~shipsync.errors.WebhookSecretError`. Keys of other types are skipped; a repeated
    ``kid`` is refused (which of two keys would be meant?)."""
    data: object = document
    if isinstance(document, str | bytes):
        if len(document) > MAX_JWKS_BYTES:
            raise WebhookSecretError("the JWKS document is too large")
        try:
            data = json.loads(document)
        except (ValueError, RecursionError):
            raise WebhookSecretError("the JWKS document is not JSON") from None
    items = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(items, list) or len(items) > MAX_JWKS_KEYS:
        raise WebhookSecretError(f"a JWKS document needs a 'keys' list of at most {MAX_JWKS_KEYS}")
    keys: dict[str, rsa.RSAPublicKey] = {}
    for item in items:
        if not isinstance(item, Mapping) or item.get("kty") != "RSA":
            continue
        if item.get("use", "sig") != "sig":
            continue
        kid = _check_key_id(item.get("kid"))
        if kid in keys:
            raise WebhookSecretError("the JWKS document repeats a key id")
        keys[kid] = _jwk_key(item)
    return keys


Fetch: TypeAlias = Callable[[str], bytes]
"""Fetches a URL and returns the body; raises on failure. The default uses ``httpx``."""


def _httpx_fetch(timeout: float) -> Fetch:
    def fetch(url: str) -> bytes:
        import httpx

        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("the JWKS document is too large")
            return response.content

    return fetch


class JwksKeySource:
    """Public keys from a JWKS URL, cached, with a bounded refresh.

    The set is fetched on first use and again when it is older than ``max_age``. A key id not in
    the cached set triggers a refetch only if the last fetch *attempt* is at least
    ``refresh_interval`` old: however many unknown ids arrive, the endpoint sees at most one
    request per interval. A failed fetch keeps the keys already held (known ids still verify); if
    no key is held at all, the failure is an :class:`~shipsync.errors.UnavailableError`.

    ``fetch`` takes the URL and returns the body (the default is an ``httpx`` GET with
    ``timeout`` seconds). The fetch is blocking; in an async host, call :meth:`refresh` in a
    worker thread at start-up so the event loop only ever blocks on a rotation. Thread-safe.
    """

    def __init__(
        self,
        url: str = SHIPENGINE_JWKS_URL,
        *,
        fetch: Fetch | None = None,
        refresh_interval: timedelta = timedelta(minutes=5),
        max_age: timedelta = timedelta(hours=12),
        timeout: float = 5.0,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise InvalidInputError("url must be an http(s) URL", path="url")
        for name, value in (("refresh_interval", refresh_interval), ("max_age", max_age)):
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise InvalidInputError(f"{name} must be a positive timedelta", path=name)
        self.url = url
        self._fetch = fetch if fetch is not None else _httpx_fetch(timeout)
        self._interval = refresh_interval.total_seconds()
        self._max_age = max_age.total_seconds()
        self._clock = clock
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = threading.Lock()
        #: How many times the endpoint was asked (for tests and metrics).
        self.fetches = 0

    def __repr__(self) -> str:
        return f"JwksKeySource({self.url!r}, <{len(self._keys)} key(s)>)"

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or not now - self._attempted_at < self._interval

    def refresh(self) -> None:
        """Fetch the set now (ignoring the interval). A failure raises ``UnavailableError``."""
        with self._lock:
            self._refresh(self._clock())

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            body = self._fetch(self.url)
        except Exception as exc:
            raise UnavailableError(f"the key set at {self.url} could not be fetched") from exc
        if not isinstance(body, bytes):
            raise UnavailableError("the key set fetch returned no bytes")
        try:
            keys = parse_jwks(body)
        except WebhookSecretError as exc:
            raise UnavailableError(f"the key set at {self.url} is malformed: {exc}") from exc
        self._keys = keys
        self._fetched_at = now

    def key(self, key_id: str) -> rsa.RSAPublicKey | None:
        """The key of ``key_id``, refetching the set at most once per interval."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or not now - self._fetched_at < self._max_age
            known = self._keys.get(key_id)
            if (stale or known is None) and self._may_fetch(now):
                try:
                    self._refresh(now)
                except UnavailableError:
                    if not self._keys:
                        raise
                known = self._keys.get(key_id)
            return known


def _parse_time(value: str, header: str) -> int:
    """Unix seconds of the timestamp header: RFC 3339 with an offset, or plain decimal seconds."""
    if DECIMAL.fullmatch(value) is not None:
        return int(value)
    if _RFC3339.fullmatch(value) is None:
        raise MalformedHeaderError(header, "timestamp must be RFC 3339 or Unix seconds")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedHeaderError(header, "timestamp is not a real date and time") from None
    return timestamp_seconds(moment) if moment.year >= 1970 else -1


def _check_header_name(value: str, field: str) -> None:
    if not isinstance(value, str) or re.fullmatch(r"[A-Za-z0-9-]{1,100}", value) is None:
        raise InvalidInputError(f"{field} must be an HTTP header name", path=field)


RsaKeysInput: TypeAlias = RsaKeySource | Mapping[str, RsaPublicKeyInput] | Secrets
"""A key source; a mapping of key id to public key (read as :class:`StaticRsaKeys`); or text: a
JWKS URL (one shared :class:`JwksKeySource` per URL, so its refetch bound holds however many
verifiers are built) or a JWKS JSON document (static keys)."""

_SHARED_SOURCES: dict[str, JwksKeySource] = {}
_SHARED_LOCK = threading.Lock()
_MAX_SHARED_SOURCES = 64


def shared_jwks_source(url: str) -> JwksKeySource:
    """The process-wide :class:`JwksKeySource` of ``url`` (created on first use)."""
    with _SHARED_LOCK:
        source = _SHARED_SOURCES.get(url)
        if source is None:
            if len(_SHARED_SOURCES) >= _MAX_SHARED_SOURCES:
                raise WebhookSecretError("too many distinct JWKS URLs in one process")
            source = _SHARED_SOURCES[url] = JwksKeySource(url)
        return source


def _key_source(keys: object) -> RsaKeySource:
    if isinstance(keys, bytes):
        keys = keys.decode("utf-8", "replace")
    if isinstance(keys, str):
        text = keys.strip()
        if text.startswith(("https://", "http://")):
            return shared_jwks_source(text)
        if text.startswith("{"):
            return StaticRsaKeys.from_jwks(text)
        raise WebhookSecretError("an RSA key text must be a JWKS URL or a JWKS JSON document")
    if isinstance(keys, Mapping):
        return StaticRsaKeys(keys)
    if isinstance(keys, RsaKeySource):
        return keys
    raise WebhookSecretError("keys must be a key source, a mapping of key id to key, or a JWKS")


@attrs.frozen
class RsaSha256Scheme:
    """RSA-SHA256 (``RS256``) signatures over ``{timestamp}.{body}`` with a key id header.

    The defaults are ShipEngine's headers and the 5-minute window its guide suggests.
    ``verifier`` takes a key source (:class:`JwksKeySource`, :class:`StaticRsaKeys`) or a
    mapping of key id to key; ``signer`` takes an RSA private key and the key id to announce.
    """

    key_id_header: str = "x-shipengine-rsa-sha256-key-id"
    signature_header: str = "x-shipengine-rsa-sha256-signature"
    timestamp_header: str = "x-shipengine-timestamp"
    tolerance: timedelta = attrs.field(default=timedelta(minutes=5))
    name: str = "shipengine-rsa-sha256"

    def __attrs_post_init__(self) -> None:
        _check_header_name(self.key_id_header, "key_id_header")
        _check_header_name(self.signature_header, "signature_header")
        _check_header_name(self.timestamp_header, "timestamp_header")
        if not isinstance(self.tolerance, timedelta) or self.tolerance < timedelta(0):
            raise InvalidInputError("tolerance must be a non-negative timedelta", path="tolerance")

    def verifier(self, secrets: RsaKeysInput, *, clock: Clock = system_clock) -> RsaSha256Verifier:
        """Build a verifier reading public keys from ``secrets`` (a key source or a mapping)."""
        return RsaSha256Verifier(self, secrets, clock=clock)

    def signer(
        self,
        secrets: rsa.RSAPrivateKey | Secrets,
        *,
        clock: Clock = system_clock,
        key_id: str = "key-1",
    ) -> RsaSha256Signer:
        """Build a signer (to simulate the sender in tests) from a private key or its PEM."""
        return RsaSha256Signer(self, secrets, clock=clock, key_id=key_id)


SHIPENGINE_SCHEME: Final = RsaSha256Scheme()
"""ShipEngine's webhook signatures (the ``shipengine`` driver declares it)."""


class RsaSha256Verifier:
    """Verifies RSA-SHA256 deliveries; build it with ``RsaSha256Scheme.verifier``."""

    __slots__ = ("_clock", "_headers", "_keys", "_name", "_tolerance")

    def __init__(self, scheme: RsaSha256Scheme, keys: RsaKeysInput, *, clock: Clock) -> None:
        self._keys = _key_source(keys)
        self._headers = (
            scheme.key_id_header.lower(),
            scheme.signature_header.lower(),
            scheme.timestamp_header.lower(),
        )
        self._tolerance = scheme.tolerance.total_seconds()
        self._name = scheme.name
        self._clock = clock

    def __repr__(self) -> str:
        return f"RsaSha256Verifier({self._keys!r})"

    def verify(self, body: bytes, headers: HeadersInput) -> VerifiedDelivery:
        """Return the verified timestamp, or raise a typed verification error."""
        key_header, signature_header, time_header = self._headers
        key_id, signature_text, stamp = read_headers(headers, self._headers)
        if _KEY_ID.fullmatch(key_id) is None:
            raise MalformedHeaderError(key_header, "key id must be 1 to 200 visible characters")
        if len(signature_text) > 2 * _MAX_RSA_BITS // 8:
            raise MalformedHeaderError(signature_header, "signature is too long")
        signature = b64decode_strict(signature_text, signature_header)
        timestamp = _parse_time(stamp, time_header)
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
        key = self._keys.key(key_id)
        if key is None:
            raise NoMatchingSignatureError("the key id is not a known signing key")
        if len(signature) != (key.key_size + 7) // 8:
            raise MalformedHeaderError(signature_header, "signature length does not fit the key")
        try:
            key.verify(
                signature, stamp.encode("ascii") + b"." + body, padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise NoMatchingSignatureError("the signature does not match the key") from None
        return VerifiedDelivery(self._name, None, timestamp)


class RsaSha256Signer:
    """Signs deliveries as the sender would; build it with ``RsaSha256Scheme.signer``."""

    __slots__ = ("_clock", "_headers", "_key", "_key_id")

    def __init__(
        self,
        scheme: RsaSha256Scheme,
        secret: rsa.RSAPrivateKey | Secrets,
        *,
        clock: Clock,
        key_id: str,
    ) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8", "replace")
        if isinstance(secret, bytes):
            try:
                loaded = serialization.load_pem_private_key(secret, password=None)
            except (ValueError, TypeError):
                raise WebhookSecretError("not a PEM-encoded, unencrypted private key") from None
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise WebhookSecretError("the PEM key is not an RSA private key")
            secret = loaded
        if not isinstance(secret, rsa.RSAPrivateKey):  # an Ed25519 key, a list, anything
            raise WebhookSecretError("an RSA private key or its PEM is needed to sign")
        _check_size(secret.public_key())
        self._key = secret
        self._key_id = _check_key_id(key_id)
        self._headers = (scheme.key_id_header, scheme.signature_header, scheme.timestamp_header)
        self._clock = clock

    def __repr__(self) -> str:
        return f"RsaSha256Signer(key_id={self._key_id!r})"

    def sign(
        self,
        body: bytes,
        *,
        msg_id: str | None = None,
        timestamp: datetime | int | None = None,
    ) -> dict[str, str]:
        """Return the three headers for ``body``; ``timestamp`` is sent as Unix seconds, or as
        RFC 3339 when given as a datetime. ``msg_id`` is not signed by this scheme."""
        del msg_id
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidInputError("the body must be bytes", path="body")
        if isinstance(timestamp, datetime):
            timestamp_seconds(timestamp)  # refuses a naive or pre-1970 datetime
            stamp = timestamp.isoformat().replace("+00:00", "Z")
        else:
            stamp = str(timestamp_seconds(int(self._clock()) if timestamp is None else timestamp))
        signature = self._key.sign(
            stamp.encode("ascii") + b"." + bytes(body), padding.PKCS1v15(), hashes.SHA256()
        )
        key_header, signature_header, time_header = self._headers
        return {
            key_header: self._key_id,
            signature_header: base64.b64encode(signature).decode("ascii"),
            time_header: stamp,
        }
