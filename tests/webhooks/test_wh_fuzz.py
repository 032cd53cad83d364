"""Fuzzing verifiers with arbitrary headers and bodies: only typed errors, never a crash."""

from __future__ import annotations

import base64
import contextlib
from datetime import timedelta

from _wh_helpers import ED_SECRET, HMAC_SECRET, NOW, clock_at
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import WebhookVerificationError
from shipsync.webhooks import (
    EASYPOST_SCHEME,
    GITHUB_SCHEME,
    HmacScheme,
    StandardWebhooksScheme,
    StripeScheme,
)

PUBLIC = StandardWebhooksScheme.public_key(ED_SECRET)
VERIFIERS = [
    StandardWebhooksScheme().verifier([HMAC_SECRET, PUBLIC], clock=clock_at(NOW)),
    StripeScheme().verifier("whsec_stripe", clock=clock_at(NOW)),
    GITHUB_SCHEME.verifier("gh-secret"),
    EASYPOST_SCHEME.verifier("ep-secret"),
    HmacScheme(header="X-Sig", algorithm="sha512", encoding="base64").verifier(b"k"),
]
NAMES = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "Webhook-Signature",
    "stripe-signature",
    "x-hub-signature-256",
    "X-Hmac-Signature",
    "x-sig",
    "content-type",
]
B64 = st.binary(min_size=0, max_size=70).map(lambda b: base64.b64encode(b).decode())
FRAGMENTS = st.one_of(
    st.sampled_from(
        ["v1", "v1a", "v2", ",", " ", "=", "t=", "v1=", "sha256=", "hmac-sha256-hex=", str(NOW)]
    ),
    B64,
    st.text(max_size=8),
    st.binary(max_size=32).map(bytes.hex),
)
VALUES = st.one_of(st.text(max_size=200), st.lists(FRAGMENTS, max_size=12).map("".join))
HEADER_LISTS = st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=8)
BYTE_HEADER_LISTS = st.lists(
    st.tuples(st.sampled_from(NAMES).map(str.encode), st.binary(max_size=120)), max_size=8
)


@given(body=st.binary(max_size=256), headers=st.one_of(HEADER_LISTS, BYTE_HEADER_LISTS))
def test_arbitrary_headers_raise_only_verification_errors(body: bytes, headers: list) -> None:
    """Whatever arrives, every verifier either verifies or raises a WebhookVerificationError."""
    for verifier in VERIFIERS:
        with contextlib.suppress(WebhookVerificationError):
            verifier.verify(body, headers)


@given(
    body=st.binary(max_size=256),
    msg_id=st.text(max_size=20),
    stamp=st.one_of(st.integers(NOW - 400, NOW + 400).map(str), st.text(max_size=12)),
    signature=VALUES,
)
def test_near_miss_standard_headers_raise_only_verification_errors(
    body: bytes, msg_id: str, stamp: str, signature: str
) -> None:
    """Well-shaped but wrong Standard Webhooks headers never escape the error tree."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    with contextlib.suppress(WebhookVerificationError):
        VERIFIERS[0].verify(body, headers)


@given(body=st.binary(max_size=512), tolerance=st.integers(0, 1000), skew=st.integers(-2000, 2000))
def test_signed_bodies_verify_exactly_when_inside_the_tolerance(
    body: bytes, tolerance: int, skew: int
) -> None:
    """Any byte string signed at any time verifies iff |skew| <= tolerance."""
    scheme = StandardWebhooksScheme(tolerance=timedelta(seconds=tolerance))
    headers = scheme.signer(HMAC_SECRET).sign(body, msg_id="m", timestamp=NOW + skew)
    verifier = scheme.verifier(HMAC_SECRET, clock=clock_at(NOW))
    try:
        verifier.verify(body, headers)
        ok = True
    except WebhookVerificationError:
        ok = False
    assert ok == (abs(skew) <= tolerance)


@given(
    key=st.binary(min_size=1, max_size=300),
    message=st.binary(max_size=600),
    algorithm=st.sampled_from(["sha256", "sha512"]),
)
def test_precomputed_hmac_equals_the_standard_library(
    key: bytes, message: bytes, algorithm: str
) -> None:
    """The precomputed-pad HMAC is byte-for-byte hmac.digest, for keys shorter and longer than
    the block size."""
    import hmac

    from shipsync.webhooks._hmac_key import HmacKey

    prepared = HmacKey(key, algorithm)  # type: ignore[arg-type]
    expected = hmac.digest(key, message, algorithm)
    assert prepared.digest(message) == expected
    assert prepared.digest_parts(message[:7], message[7:]) == expected
    assert prepared.digest(message) == expected  # the prepared states are not consumed


@given(public=st.binary(min_size=32, max_size=32), signature=st.binary(min_size=64, max_size=64))
def test_any_public_key_and_v1a_signature_fail_only_with_typed_errors(
    public: bytes, signature: bytes
) -> None:
    """Arbitrary (even invalid) Ed25519 keys and signatures never escape the error tree."""
    scheme = StandardWebhooksScheme()
    verifier = scheme.verifier("whpk_" + base64.b64encode(public).decode(), clock=clock_at(NOW))
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1a," + base64.b64encode(signature).decode(),
    }
    with contextlib.suppress(WebhookVerificationError):
        verifier.verify(b"body", headers)
