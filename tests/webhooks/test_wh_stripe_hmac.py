"""Stripe-style and plain HMAC schemes, with the GitHub and EasyPost presets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata

import pytest
from _wh_helpers import NOW, clock_at

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    MissingHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    WebhookSecretError,
    WebhookVerificationError,
)
from shipsync.webhooks import (
    EASYPOST_SCHEME,
    GITHUB_SCHEME,
    HmacScheme,
    SignatureScheme,
    StripeScheme,
    VerifiedDelivery,
)

BODY = b'{"id":"evt_1","object":"event"}'
STRIPE_SECRET = "whsec_test_secret"
STRIPE = StripeScheme()


def _stripe_sig(secret: str, stamp: int, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _stripe_verify(value: str, body: bytes = BODY) -> VerifiedDelivery:
    verifier = STRIPE.verifier(STRIPE_SECRET, clock=clock_at(NOW))
    return verifier.verify(body, {"Stripe-Signature": value})


def test_stripe_header_computed_independently_verifies() -> None:
    """t=…,v1=<hex HMAC-SHA256 of "t.body"> keyed by the whole secret string verifies."""
    value = f"t={NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)}"
    assert _stripe_verify(value) == VerifiedDelivery("stripe", None, NOW)


def test_stripe_signer_matches_the_independent_computation() -> None:
    """Our signer writes exactly the header Stripe would."""
    headers = STRIPE.signer(STRIPE_SECRET).sign(BODY, timestamp=NOW)
    assert headers == {"Stripe-Signature": f"t={NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)}"}


def test_stripe_several_v1_and_v0_entries() -> None:
    """Any matching v1 among several verifies; v0 and unknown entries are ignored."""
    good = _stripe_sig(STRIPE_SECRET, NOW)
    value = f"t={NOW},v1={'0' * 64},v0={'1' * 64},v1={good.upper()},scheme2=abc"
    assert _stripe_verify(value).timestamp == NOW


def test_stripe_rotation_signer_and_verifier() -> None:
    """A signer with two secrets writes two v1 entries; a verifier with either secret accepts."""
    headers = STRIPE.signer(["whsec_old", STRIPE_SECRET]).sign(BODY, timestamp=NOW)
    assert headers["Stripe-Signature"].count("v1=") == 2
    for secret in ("whsec_old", STRIPE_SECRET):
        assert STRIPE.verifier(secret, clock=clock_at(NOW)).verify(BODY, headers)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (f"t={NOW - 301},v1={_stripe_sig(STRIPE_SECRET, NOW - 301)}", TimestampTooOldError),
        (f"t={NOW + 301},v1={_stripe_sig(STRIPE_SECRET, NOW + 301)}", TimestampTooNewError),
        (f"t={NOW},v1={_stripe_sig('whsec_other', NOW)}", NoMatchingSignatureError),
        (f"t={NOW + 1},v1={_stripe_sig(STRIPE_SECRET, NOW)}", NoMatchingSignatureError),
        (f"t={NOW},v0={_stripe_sig(STRIPE_SECRET, NOW)}", NoMatchingSignatureError),
        (f"v1={_stripe_sig(STRIPE_SECRET, NOW)}", MalformedHeaderError),
        (f"t={NOW},t={NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)}", MalformedHeaderError),
        (f"t={NOW}.5,v1={_stripe_sig(STRIPE_SECRET, NOW)}", MalformedHeaderError),
        (f"t= {NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)}", MalformedHeaderError),
        (f"t={NOW},v1=", MalformedHeaderError),
        (f"t={NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)[:-2]}", MalformedHeaderError),
        (f"t={NOW},v1= {_stripe_sig(STRIPE_SECRET, NOW)[1:]}", MalformedHeaderError),
        (f"t={NOW}, v1={_stripe_sig(STRIPE_SECRET, NOW)}", MalformedHeaderError),
        (f"t={NOW},v1", MalformedHeaderError),
        ("", MalformedHeaderError),
        (f"t={NOW}," + ",".join(["v1=" + "0" * 64] * 10_000), MalformedHeaderError),
    ],
    ids=[
        "too-old",
        "too-new",
        "other-secret",
        "tampered-t",
        "only-v0",
        "no-t",
        "two-t",
        "fractional-t",
        "spaced-t",
        "empty-v1",
        "truncated-v1",
        "spaced-v1",
        "spaced-entry",
        "v1-without-value",
        "empty",
        "ten-thousand",
    ],
)
def test_stripe_attacks(value: str, error: type[Exception]) -> None:
    """Each malformed or forged Stripe header fails with its typed error, without echoing it."""
    with pytest.raises(WebhookVerificationError) as info:
        _stripe_verify(value)
    assert type(info.value) is error
    assert STRIPE_SECRET not in str(info.value)
    assert _stripe_sig(STRIPE_SECRET, NOW) not in str(info.value)


def test_stripe_tampered_body() -> None:
    """A trailing space in the body is no match."""
    with pytest.raises(NoMatchingSignatureError):
        _stripe_verify(f"t={NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)}", BODY + b" ")


def test_stripe_missing_and_repeated_header() -> None:
    """No header is MissingHeaderError; two headers are malformed."""
    verifier = STRIPE.verifier(STRIPE_SECRET, clock=clock_at(NOW))
    with pytest.raises(MissingHeaderError):
        verifier.verify(BODY, {})
    value = f"t={NOW},v1={_stripe_sig(STRIPE_SECRET, NOW)}"
    with pytest.raises(MalformedHeaderError):
        verifier.verify(BODY, [("stripe-signature", value), ("Stripe-Signature", value)])


def test_github_preset_matches_githubs_documented_example() -> None:
    """GitHub's docs: secret "It's a Secret to Everybody", body "Hello, World!"."""
    verifier = GITHUB_SCHEME.verifier("It's a Secret to Everybody")
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert verifier.verify(b"Hello, World!", {"X-Hub-Signature-256": expected}) == (
        VerifiedDelivery("github")
    )
    signer = GITHUB_SCHEME.signer("It's a Secret to Everybody")
    assert signer.sign(b"Hello, World!") == {"X-Hub-Signature-256": expected}


def test_easypost_preset_normalises_the_secret_and_reads_the_header_in_any_case() -> None:
    """EasyPost signs with the NFKD-normalised secret; the header name is case-insensitive."""
    secret = "ﬁsh-secret"  # the "fi" ligature normalises to "fi" under NFKD
    key = unicodedata.normalize("NFKD", secret).encode()
    value = "hmac-sha256-hex=" + hmac.new(key, BODY, hashlib.sha256).hexdigest()
    verifier = EASYPOST_SCHEME.verifier(secret)
    for name in ("X-Hmac-Signature", "x-hmac-signature", "X-HMAC-SIGNATURE"):
        assert verifier.verify(BODY, {name: value}).scheme == "easypost"
    assert EASYPOST_SCHEME.signer(secret).sign(BODY) == {"X-Hmac-Signature": value}


@pytest.mark.parametrize(
    ("algorithm", "encoding", "prefix"),
    [
        ("sha256", "hex", ""),
        ("sha512", "hex", "sha512="),
        ("sha256", "base64", ""),
        ("sha512", "base64", "x:"),
    ],
)
def test_plain_hmac_variants_round_trip_against_hashlib(
    algorithm: str, encoding: str, prefix: str
) -> None:
    """Every algorithm/encoding/prefix combination verifies an independently computed header."""
    scheme = HmacScheme(header="X-Sig", algorithm=algorithm, encoding=encoding, prefix=prefix)  # type: ignore[arg-type]
    raw = hmac.new(b"secret" * 30, BODY, algorithm).digest()  # long key: hashed first
    encoded = raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()
    headers = {"x-sig": prefix + encoded}
    assert scheme.verifier(b"secret" * 30).verify(BODY, headers)
    assert scheme.signer(b"secret" * 30).sign(BODY) == {"X-Sig": prefix + encoded}
    with pytest.raises(NoMatchingSignatureError):
        scheme.verifier(b"other").verify(BODY, headers)


@pytest.mark.parametrize(
    "value",
    [
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17 ",
        "sha256=",
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ],
    ids=["no-prefix", "prefix-case", "truncated", "space", "trailing-space", "empty", "not-hex"],
)
def test_github_malformed_signatures(value: str) -> None:
    """A signature without its exact prefix or of the wrong length or alphabet is malformed."""
    verifier = GITHUB_SCHEME.verifier("It's a Secret to Everybody")
    with pytest.raises(MalformedHeaderError):
        verifier.verify(b"Hello, World!", {"X-Hub-Signature-256": value})


def test_base64_hmac_refuses_non_canonical_and_wrong_length() -> None:
    """Base64 HMAC signatures must be canonical and of the digest's length."""
    scheme = HmacScheme(header="X-Sig", encoding="base64")
    raw = hmac.new(b"k", BODY, "sha256").digest()
    verifier = scheme.verifier(b"k")
    with pytest.raises(MalformedHeaderError):
        verifier.verify(BODY, {"X-Sig": base64.b64encode(raw[:-1]).decode()})
    with pytest.raises(MalformedHeaderError):
        verifier.verify(BODY, {"X-Sig": base64.b64encode(raw).decode().rstrip("=")})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"header": "bad header"},
        {"header": "X-Sig", "algorithm": "md5"},
        {"header": "X-Sig", "encoding": "base32"},
        {"header": "X-Sig", "prefix": "é="},
        {"header": "X-Sig", "normalize_secret": "NFC"},
    ],
)
def test_hmac_settings_are_validated(kwargs: dict) -> None:
    """Bad scheme settings are configuration errors at construction."""
    with pytest.raises(InvalidInputError):
        HmacScheme(**kwargs)


def test_hmac_and_stripe_refuse_empty_or_key_object_secrets() -> None:
    """Empty secrets and Ed25519 key objects are secret errors for shared-secret schemes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for scheme in (GITHUB_SCHEME, STRIPE):
        for secret in ("", b"", Ed25519PrivateKey.generate()):
            with pytest.raises(WebhookSecretError):
                scheme.verifier(secret)
        with pytest.raises(WebhookSecretError):
            scheme.signer([])


def test_shared_secret_schemes_fulfil_the_protocol() -> None:
    """Drivers can declare any of these as their SignatureScheme."""
    for scheme in (STRIPE, GITHUB_SCHEME, EASYPOST_SCHEME):
        assert isinstance(scheme, SignatureScheme)
