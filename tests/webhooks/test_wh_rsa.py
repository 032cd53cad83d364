"""The RSA-SHA256 scheme (ShipEngine's webhook signatures): vectors, strictness and key sources."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    MissingHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    UnavailableError,
    WebhookSecretError,
    WebhookVerificationError,
)
from shipsync.webhooks import (
    SHIPENGINE_SCHEME,
    JwksKeySource,
    RsaSha256Scheme,
    StaticRsaKeys,
    rsa_public_key,
)

NOW = 1_767_600_000  # 2026-01-05T08:00:00Z
BODY = b'{"resource_url":"https://api.shipengine.com/v1/tracking?x=1","resource_type":"API_TRACK"}'
KID = "key-2026-01"
K_HDR = "x-shipengine-rsa-sha256-key-id"
S_HDR = "x-shipengine-rsa-sha256-signature"
T_HDR = "x-shipengine-timestamp"


@cache
def private_key(bits: int = 2048, seed: int = 0) -> rsa.RSAPrivateKey:
    """A fresh RSA key per (bits, seed), made once per test run."""
    del seed
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def jwk(key: rsa.RSAPublicKey, kid: str, **extra: str) -> dict[str, str]:
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "RSA", "kid": kid, "n": b64(numbers.n), "e": b64(numbers.e), **extra}


def sign(body: bytes, stamp: str, key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
    """Sign independently of the library: cryptography's own RS256 over ``{stamp}.{body}``."""
    key = key or private_key()
    signature = key.sign(stamp.encode() + b"." + body, padding.PKCS1v15(), hashes.SHA256())
    return {K_HDR: KID, S_HDR: base64.b64encode(signature).decode(), T_HDR: stamp}


def verifier(keys: object = None, *, now: float = NOW, scheme: RsaSha256Scheme = SHIPENGINE_SCHEME):
    source = keys if keys is not None else {KID: private_key().public_key()}
    return scheme.verifier(source, clock=lambda: now)  # type: ignore[arg-type]


ISO = datetime.fromtimestamp(NOW, UTC).isoformat().replace("+00:00", "Z")


def _urlsafe(signature: str) -> str:
    """The signature in base64's URL-safe alphabet, with at least one of its two letters. The
    session's key is random, and about one signature in 220 has no ``+`` to replace."""
    return "-" + signature[1:].translate(str.maketrans("+/", "-_"))


@pytest.mark.parametrize(
    "stamp",
    [ISO, str(NOW), "2026-01-05T08:00:00.123Z", "2026-01-05T09:00:00+01:00"],
    ids=["rfc3339-z", "unix-seconds", "fraction", "offset"],
)
def test_a_delivery_signed_with_cryptography_verifies(stamp: str) -> None:
    """An RS256 signature made by cryptography itself over {timestamp}.{body} is accepted."""
    verified = verifier().verify(BODY, sign(BODY, stamp))
    assert verified.scheme == "shipengine-rsa-sha256"
    assert verified.timestamp == NOW


def test_our_signer_interoperates_with_cryptography_verification() -> None:
    """Headers from our signer verify with cryptography's own RS256 check over the same content."""
    headers = SHIPENGINE_SCHEME.signer(private_key(), key_id=KID, clock=lambda: NOW).sign(BODY)
    signature = base64.b64decode(headers[S_HDR], validate=True)
    content = headers[T_HDR].encode() + b"." + BODY
    private_key().public_key().verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
    assert headers[K_HDR] == KID
    assert verifier().verify(BODY, headers).timestamp == NOW


def test_header_names_match_in_any_case_and_as_pairs() -> None:
    """Title-case names and (bytes, bytes) pairs are read as the same headers."""
    headers = sign(BODY, ISO)
    titled = [(k.title().encode(), v.encode()) for k, v in headers.items()]
    assert verifier().verify(BODY, titled).timestamp == NOW


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda h: h.pop(K_HDR), MissingHeaderError),
        (lambda h: h.pop(S_HDR), MissingHeaderError),
        (lambda h: h.pop(T_HDR), MissingHeaderError),
        (lambda h: h.__setitem__(S_HDR, h[S_HDR].rstrip("=")), MalformedHeaderError),
        (lambda h: h.__setitem__(S_HDR, h[S_HDR] + " "), MalformedHeaderError),
        (lambda h: h.__setitem__(S_HDR, _urlsafe(h[S_HDR])), MalformedHeaderError),
        (
            lambda h: h.__setitem__(S_HDR, base64.b64encode(b"\0" * 255).decode()),
            MalformedHeaderError,
        ),
        (lambda h: h.__setitem__(T_HDR, "2026-01-05 08:00:00Z"), MalformedHeaderError),
        (lambda h: h.__setitem__(T_HDR, "+1767600000"), MalformedHeaderError),
        (lambda h: h.__setitem__(T_HDR, "2026-02-30T08:00:00Z"), MalformedHeaderError),
        (lambda h: h.__setitem__(K_HDR, "key id"), MalformedHeaderError),
        (lambda h: h.__setitem__(K_HDR, "other-key"), NoMatchingSignatureError),
    ],
    ids=[
        "no-key-id",
        "no-signature",
        "no-timestamp",
        "unpadded-base64",
        "trailing-space",
        "urlsafe-alphabet",
        "wrong-length",
        "space-in-time",
        "signed-seconds",
        "impossible-date",
        "space-in-key-id",
        "unknown-key-id",
    ],
)
def test_malformed_or_foreign_headers_are_refused_typed(mutate, error) -> None:  # type: ignore[no-untyped-def]
    """Each header defect raises its own typed error, never a crash and never acceptance."""
    headers = sign(BODY, ISO)
    mutate(headers)
    with pytest.raises(error):
        verifier().verify(BODY, headers)


def test_a_repeated_header_is_malformed() -> None:
    """Two signature headers cannot both be right: the delivery is refused."""
    pairs = [*sign(BODY, ISO).items(), (S_HDR.upper(), sign(BODY, ISO)[S_HDR])]
    with pytest.raises(MalformedHeaderError):
        verifier().verify(BODY, pairs)


def test_tampered_body_timestamp_or_key_fail_to_match() -> None:
    """A changed body, a re-stamped time or another key's signature is no match."""
    headers = sign(BODY, ISO)
    with pytest.raises(NoMatchingSignatureError):
        verifier().verify(BODY + b" ", headers)
    with pytest.raises(NoMatchingSignatureError):
        verifier().verify(BODY, {**headers, T_HDR: str(NOW)})
    other = sign(BODY, ISO, key=private_key(2048, seed=1))  # same size, another key
    with pytest.raises(NoMatchingSignatureError):
        verifier().verify(BODY, other)


@pytest.mark.parametrize(
    ("offset", "error"),
    [(-301, TimestampTooOldError), (301, TimestampTooNewError)],
    ids=["too-old", "too-new"],
)
def test_the_timestamp_window_holds_both_ways(offset: int, error: type[Exception]) -> None:
    """Five minutes either way passes, one second more is refused, in both directions."""
    assert verifier(now=NOW).verify(
        BODY, sign(BODY, str(NOW + offset - (offset > 0) + (offset < 0)))
    )
    with pytest.raises(error):
        verifier(now=NOW).verify(BODY, sign(BODY, str(NOW + offset)))


def test_a_nan_clock_fails_closed() -> None:
    """A clock that returns NaN refuses every delivery instead of accepting it."""
    with pytest.raises(TimestampTooOldError):
        verifier(now=float("nan")).verify(BODY, sign(BODY, ISO))


def test_keys_load_from_pem_jwk_and_key_objects() -> None:
    """PEM text, PEM bytes, a JWK mapping and a key object all give the same public key."""
    public = private_key().public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for value in (public, pem, pem.decode(), jwk(public, KID)):
        assert rsa_public_key(value).public_numbers() == public.public_numbers()


@pytest.mark.parametrize(
    "value",
    [
        b"not a key",
        {"kty": "EC"},
        {"kty": "RSA", "n": "AQAB"},
        "private",
        "ec",
        "small",
        {"kty": "RSA", "n": "AA==", "e": "AQAB"},
    ],
    ids=["garbage", "ec-jwk", "no-e", "private-pem", "ec-pem", "1024-bit", "padded-n"],
)
def test_unusable_keys_are_refused_when_loaded(value: object) -> None:
    """A private key, another key type, a short key or a broken JWK is a WebhookSecretError."""
    if value == "private":
        value = private_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    elif value == "ec":
        value = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    elif value == "small":
        value = private_key(1024).public_key()
    with pytest.raises(WebhookSecretError):
        rsa_public_key(value)  # type: ignore[arg-type]


class FakeJwks:
    """A key endpoint that counts its requests and can be switched to fail or rotate."""

    def __init__(self, keys: dict[str, rsa.RSAPublicKey]) -> None:
        self.keys = keys
        self.calls = 0
        self.down = False

    def __call__(self, url: str) -> bytes:
        self.calls += 1
        if self.down:
            raise ConnectionError("down")
        return json.dumps({"keys": [jwk(k, kid) for kid, k in self.keys.items()]}).encode()


def test_jwks_source_fetches_once_and_serves_from_cache() -> None:
    """Known key ids verify from the cache: one fetch for many deliveries."""
    endpoint = FakeJwks({KID: private_key().public_key()})
    source = JwksKeySource(fetch=endpoint, clock=lambda: NOW)
    check = verifier(source)
    for _ in range(5):
        check.verify(BODY, sign(BODY, ISO))
    assert endpoint.calls == 1


def test_a_flood_of_unknown_key_ids_refetches_at_most_once_per_interval() -> None:
    """Thousands of forged key ids cost the key endpoint one request per refresh interval."""
    now = [float(NOW)]
    endpoint = FakeJwks({KID: private_key().public_key()})
    source = JwksKeySource(
        fetch=endpoint, clock=lambda: now[0], refresh_interval=timedelta(minutes=5)
    )
    check = RsaSha256Scheme().verifier(source, clock=lambda: now[0])
    signed = sign(BODY, str(NOW))
    for index in range(1000):
        headers = {**signed, K_HDR: f"forged-{index}"}
        with pytest.raises(NoMatchingSignatureError):
            check.verify(BODY, headers)
    assert endpoint.calls == 1
    now[0] += 301
    with pytest.raises(NoMatchingSignatureError):
        check.verify(BODY, {**sign(BODY, str(NOW + 301)), K_HDR: "forged-x"})
    assert endpoint.calls == 2


def test_a_rotated_key_is_picked_up_by_one_refetch() -> None:
    """A new key id published after the first fetch verifies once the interval allows a refetch."""
    now = [float(NOW)]
    endpoint = FakeJwks({"old": private_key().public_key()})
    source = JwksKeySource(
        fetch=endpoint, clock=lambda: now[0], refresh_interval=timedelta(seconds=30)
    )
    source.refresh()
    new_key = private_key(3072)
    endpoint.keys = {"old": private_key().public_key(), KID: new_key.public_key()}
    now[0] += 31
    check = RsaSha256Scheme().verifier(source, clock=lambda: now[0])
    assert check.verify(BODY, sign(BODY, str(int(now[0])), key=new_key))
    assert endpoint.calls == 2


def test_an_unreachable_key_endpoint_is_unavailable_not_accepted() -> None:
    """With no key held, a fetch failure is UnavailableError (retry later); held keys still work."""
    endpoint = FakeJwks({KID: private_key().public_key()})
    endpoint.down = True
    now = [float(NOW)]
    source = JwksKeySource(fetch=endpoint, clock=lambda: now[0])
    with pytest.raises(UnavailableError):
        verifier(source).verify(BODY, sign(BODY, ISO))
    endpoint.down = False
    now[0] += 600
    check = RsaSha256Scheme().verifier(source, clock=lambda: now[0])
    stamp = str(int(now[0]))
    assert check.verify(BODY, sign(BODY, stamp))
    endpoint.down = True
    now[0] += 13 * 3600  # stale: refetch fails, the held key still verifies
    stamp = str(int(now[0]))
    assert RsaSha256Scheme().verifier(source, clock=lambda: now[0]).verify(BODY, sign(BODY, stamp))


def test_a_malformed_key_set_is_unavailable() -> None:
    """A key endpoint answering nonsense never yields a key; the caller learns it typed."""
    source = JwksKeySource(fetch=lambda url: b"<html>", clock=lambda: NOW)
    with pytest.raises(UnavailableError):
        source.key(KID)


def test_static_keys_from_a_jwks_document_skip_other_types_and_refuse_repeats() -> None:
    """A JWKS with an EC key beside the RSA one loads the RSA one; a repeated kid is refused."""
    public = private_key().public_key()
    doc = {"keys": [{"kty": "EC", "kid": "e"}, jwk(public, KID)]}
    assert StaticRsaKeys.from_jwks(json.dumps(doc)).key(KID) is not None
    with pytest.raises(WebhookSecretError):
        StaticRsaKeys.from_jwks({"keys": [jwk(public, KID), jwk(public, KID)]})


def test_configuration_mistakes_are_typed() -> None:
    """Bad header names, tolerances, URLs and key inputs raise typed errors at build time."""
    with pytest.raises(InvalidInputError):
        RsaSha256Scheme(key_id_header="bad header")
    with pytest.raises(InvalidInputError):
        RsaSha256Scheme(tolerance=timedelta(seconds=-1))
    with pytest.raises(InvalidInputError):
        JwksKeySource("ftp://keys")
    with pytest.raises(WebhookSecretError):
        SHIPENGINE_SCHEME.verifier(42)  # type: ignore[arg-type]
    with pytest.raises(WebhookSecretError):
        SHIPENGINE_SCHEME.signer(b"not pem")


_header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=60
)


@given(key_id=_header_text, signature=_header_text, stamp=_header_text)
def test_arbitrary_header_values_never_crash(key_id: str, signature: str, stamp: str) -> None:
    """Any header values give a typed verification error or (never, for random text) success."""
    headers = {K_HDR: key_id, S_HDR: signature, T_HDR: stamp}
    with pytest.raises(WebhookVerificationError):
        verifier().verify(BODY, headers)


@given(stamp=st.integers(min_value=0, max_value=10**11))
def test_any_decimal_timestamp_is_read_exactly(stamp: int) -> None:
    """Plain Unix seconds parse to themselves: inside the window they verify, outside they don't."""
    headers = sign(BODY, str(stamp))
    if abs(stamp - NOW) <= 300:
        assert verifier().verify(BODY, headers).timestamp == stamp
    else:
        with pytest.raises((TimestampTooOldError, TimestampTooNewError)):
            verifier().verify(BODY, headers)
