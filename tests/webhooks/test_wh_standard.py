"""Standard Webhooks v1/v1a: signing, verifying, secrets, rotation and the clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from _wh_helpers import ED_SECRET, ED_SEED, HMAC_KEY, HMAC_SECRET, NOW, OTHER_SECRET, clock_at
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
    MissingHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    WebhookSecretError,
)
from shipsync.webhooks import (
    SignatureScheme,
    StandardWebhooksScheme,
    VerifiedDelivery,
    WebhookSigner,
    WebhookVerifier,
    generate_secret,
)

SCHEME = StandardWebhooksScheme()
BODY = b'{"type":"shipment.delivered","data":{"id":"shp_1"}}'


def _sign(secrets: object, body: bytes = BODY, *, ts: int = NOW, msg_id: str = "msg_1") -> dict:
    return SCHEME.signer(secrets).sign(body, msg_id=msg_id, timestamp=ts)  # type: ignore[arg-type]


def test_v1_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    """The v1 entry is base64(HMAC-SHA256(key, "id.ts.body")) computed independently here."""
    headers = _sign(HMAC_SECRET)
    expected = hmac.new(HMAC_KEY, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(expected).decode(),
    }


def test_v1_round_trip_returns_the_signed_id_and_timestamp() -> None:
    """A delivery signed with a secret verifies with that secret and reports id and time."""
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    assert verifier.verify(BODY, _sign(HMAC_SECRET)) == VerifiedDelivery(
        "standard-webhooks", "msg_1", NOW
    )


def test_v1a_round_trip_with_public_key() -> None:
    """An Ed25519 (v1a) signature verifies with the whpk_ public key of the signing whsk_ key."""
    public = StandardWebhooksScheme.public_key(ED_SECRET)
    assert public.startswith("whpk_")
    headers = _sign(ED_SECRET)
    assert headers["webhook-signature"].startswith("v1a,")
    raw = base64.b64decode(headers["webhook-signature"][4:])
    Ed25519PrivateKey.from_private_bytes(ED_SEED).public_key().verify(
        raw, b"msg_1.1700000000." + BODY
    )
    assert SCHEME.verifier(public, clock=clock_at(NOW)).verify(BODY, headers).delivery_id == "msg_1"


def test_v1a_accepts_the_64_byte_seed_and_public_form() -> None:
    """A whsk_ key holding seed+public signs exactly like the 32-byte seed form."""
    public_raw = Ed25519PrivateKey.from_private_bytes(ED_SEED).public_key().public_bytes_raw()
    long_form = "whsk_" + base64.b64encode(ED_SEED + public_raw).decode()
    assert _sign(long_form) == _sign(ED_SECRET)


def test_v1a_64_byte_form_with_a_foreign_public_half_is_refused() -> None:
    """A seed+public key whose halves do not belong together is a secret error."""
    bad = "whsk_" + base64.b64encode(ED_SEED + b"\x01" * 32).decode()
    with pytest.raises(WebhookSecretError):
        SCHEME.signer(bad)


def test_private_key_objects_sign_and_verify() -> None:
    """cryptography key objects work as secrets on both sides."""
    key = Ed25519PrivateKey.generate()
    headers = SCHEME.signer(key).sign(BODY, msg_id="m", timestamp=NOW)
    assert SCHEME.verifier(key.public_key(), clock=clock_at(NOW)).verify(BODY, headers)


def test_a_public_key_cannot_sign() -> None:
    """whpk_ keys are for verifying only."""
    with pytest.raises(WebhookSecretError):
        SCHEME.signer(StandardWebhooksScheme.public_key(ED_SECRET))


def test_rotation_header_with_old_and_new_signatures_verifies_with_either_secret() -> None:
    """During a rotation the sender signs with both; a receiver holding either one accepts."""
    headers = _sign([OTHER_SECRET, HMAC_SECRET])
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (OTHER_SECRET, HMAC_SECRET):
        assert SCHEME.verifier(secret, clock=clock_at(NOW)).verify(BODY, headers)


def test_receiver_with_several_active_secrets_accepts_any_of_them() -> None:
    """A verifier with old and new secrets accepts deliveries signed by either one alone."""
    verifier = SCHEME.verifier([OTHER_SECRET, HMAC_SECRET, ED_SECRET], clock=clock_at(NOW))
    for secret in (OTHER_SECRET, HMAC_SECRET, ED_SECRET):
        assert verifier.verify(BODY, _sign(secret)).timestamp == NOW


def test_mixed_v1_and_v1a_header_verifies_with_only_the_public_key() -> None:
    """A header carrying v1a and v1 entries verifies when only the Ed25519 key is active."""
    headers = _sign([HMAC_SECRET, ED_SECRET])
    public = StandardWebhooksScheme.public_key(ED_SECRET)
    assert SCHEME.verifier(public, clock=clock_at(NOW)).verify(BODY, headers)
    with pytest.raises(NoMatchingSignatureError):
        SCHEME.verifier(OTHER_SECRET, clock=clock_at(NOW)).verify(BODY, headers)


@pytest.mark.parametrize(
    ("offset", "error"),
    [(-301, TimestampTooOldError), (301, TimestampTooNewError)],
    ids=["too-old", "too-new"],
)
def test_default_tolerance_is_five_minutes_both_ways(offset: int, error: type) -> None:
    """Timestamps more than 300 s away from the clock are refused, in the past and the future."""
    headers = _sign(HMAC_SECRET, ts=NOW + offset)
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    with pytest.raises(error) as info:
        verifier.verify(BODY, headers)
    assert info.value.tolerance == 300


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_at_the_tolerance_edges_are_accepted(offset: int) -> None:
    """Exactly 300 s either way is still inside the window."""
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    assert verifier.verify(BODY, _sign(HMAC_SECRET, ts=NOW + offset))


def test_tolerance_is_configurable() -> None:
    """A scheme with a 10 s tolerance refuses an 11 s old delivery."""
    scheme = StandardWebhooksScheme(tolerance=timedelta(seconds=10))
    with pytest.raises(TimestampTooOldError):
        scheme.verifier(HMAC_SECRET, clock=clock_at(NOW + 11)).verify(BODY, _sign(HMAC_SECRET))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        datetime(2023, 11, 15, 7, 13, 20, tzinfo=timezone(timedelta(hours=9))),
        datetime(2023, 11, 14, 17, 13, 20, 999_999, tzinfo=timezone(timedelta(hours=-5))),
    ],
    ids=["utc", "tokyo", "new-york-with-microseconds"],
)
def test_signing_with_aware_datetimes_uses_the_right_unix_second(moment: datetime) -> None:
    """Any timezone gives the same Unix second (floored), unlike the reference signer."""
    assert _sign(HMAC_SECRET, ts=moment) == _sign(HMAC_SECRET, ts=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", [datetime(2023, 1, 1), -1, True, 1.5], ids=["naive", "negative", "bool", "float"]
)
def test_signing_refuses_naive_datetimes_and_odd_timestamps(bad: object) -> None:
    """A naive datetime, a negative number, a bool or a float is an input error."""
    with pytest.raises(InvalidInputError):
        SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="m", timestamp=bad)  # type: ignore[arg-type]


def test_signing_without_a_timestamp_uses_the_signers_clock() -> None:
    """The signer's injected clock supplies the default timestamp."""
    headers = SCHEME.signer(HMAC_SECRET, clock=clock_at(NOW + 0.9)).sign(BODY, msg_id="m")
    assert headers["webhook-timestamp"] == str(NOW)


@pytest.mark.parametrize("msg_id", [None, "", "has space", "é", "x" * 257])
def test_signing_refuses_missing_or_odd_message_ids(msg_id: str | None) -> None:
    """The message id must be 1 to 256 visible ASCII characters."""
    with pytest.raises(InvalidInputError):
        SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id=msg_id, timestamp=NOW)


def test_non_utf8_bodies_are_signed_and_verified_as_bytes() -> None:
    """Bodies are raw bytes: a non-UTF-8 body verifies, and a tampered one does not."""
    body = b"\xff\xfe\x00binary\x80"
    headers = _sign(HMAC_SECRET, body)
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    assert verifier.verify(body, headers)
    assert verifier.verify(bytearray(body), headers)
    with pytest.raises(NoMatchingSignatureError):
        verifier.verify(body + b"\x00", headers)


def test_a_str_body_is_refused() -> None:
    """Only the raw bytes received can be verified, never a decoded or re-serialised body."""
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    with pytest.raises(InvalidInputError):
        verifier.verify(BODY.decode(), _sign(HMAC_SECRET))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "form",
    ["dict-title-case", "pairs", "bytes-pairs", "dict-upper"],
)
def test_headers_are_found_in_any_case_and_container(form: str) -> None:
    """Header names match case-insensitively in dicts and in (name, value) pair lists."""
    headers = _sign(HMAC_SECRET)
    given: object
    if form == "dict-title-case":
        given = {k.title(): v for k, v in headers.items()}
    elif form == "dict-upper":
        given = {k.upper(): v for k, v in headers.items()}
    elif form == "pairs":
        given = [
            ("Content-Type", "application/json"),
            *((k.title(), v) for k, v in headers.items()),
        ]
    else:
        given = [(k.encode(), v.encode()) for k, v in headers.items()]
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    assert verifier.verify(BODY, given).delivery_id == "msg_1"  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(missing: str) -> None:
    """A missing header raises MissingHeaderError naming it."""
    headers = _sign(HMAC_SECRET)
    del headers[missing]
    with pytest.raises(MissingHeaderError) as info:
        SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW)).verify(BODY, headers)
    assert info.value.header == missing


@pytest.mark.parametrize(
    "secret",
    [
        "whsek_" + base64.b64encode(b"k" * 24).decode(),
        "WHSEC_" + base64.b64encode(b"k" * 24).decode(),
        base64.b64encode(b"k" * 24).decode(),
        "whsec_",
        "whsec_a2tr",  # base64 of "kkk": fine
        "whsec_a2t",  # missing padding
        "whsec_a2t-a2tr",  # url-safe alphabet
        "whpk_" + base64.b64encode(b"p" * 31).decode(),
        "whsk_" + base64.b64encode(b"s" * 33).decode(),
        b"",
    ],
    ids=[
        "typo-prefix",
        "upper-prefix",
        "no-prefix",
        "empty",
        "short-but-valid",
        "unpadded",
        "urlsafe",
        "short-public-key",
        "odd-secret-key",
        "empty-bytes",
    ],
)
def test_malformed_secrets_are_refused_without_echoing_them(secret: str | bytes) -> None:
    """Wrong prefix, bad base64 or key length raise WebhookSecretError; the message is safe."""
    if secret == "whsec_a2tr":
        assert SCHEME.verifier(secret)
        return
    with pytest.raises(WebhookSecretError) as info:
        SCHEME.verifier(secret)
    text = secret.decode() if isinstance(secret, bytes) else secret
    if len(text) > 6:
        assert text not in str(info.value)
        assert text[6:] not in str(info.value)


def test_no_secrets_at_all_is_refused() -> None:
    """A verifier or signer needs at least one secret."""
    with pytest.raises(WebhookSecretError):
        SCHEME.verifier([])
    with pytest.raises(WebhookSecretError):
        SCHEME.signer([])


def test_reprs_do_not_show_secrets() -> None:
    """Verifier and signer reprs count keys but never show them."""
    for obj in (SCHEME.verifier(HMAC_SECRET), SCHEME.signer(HMAC_SECRET)):
        assert HMAC_SECRET[6:] not in repr(obj)


def test_generated_secrets_work_and_differ() -> None:
    """generate_secret returns fresh whsec_/whsk_ secrets that sign and verify."""
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    key = generate_secret("whsk")
    verifier = SCHEME.verifier([first, StandardWebhooksScheme.public_key(key)], clock=clock_at(NOW))
    assert verifier.verify(BODY, _sign(first))
    assert verifier.verify(BODY, _sign(key))
    with pytest.raises(InvalidInputError):
        generate_secret("other")
    with pytest.raises(InvalidInputError):
        generate_secret(size=8)


def test_schemes_fulfil_the_protocols() -> None:
    """The scheme, its verifier and its signer satisfy the public protocols."""
    assert isinstance(SCHEME, SignatureScheme)
    assert isinstance(SCHEME.verifier(HMAC_SECRET), WebhookVerifier)
    assert isinstance(SCHEME.signer(HMAC_SECRET), WebhookSigner)


@pytest.mark.parametrize(
    "kwargs",
    [{"tolerance": timedelta(seconds=-1)}, {"max_signatures": 0}, {"max_signatures": 10_001}],
)
def test_scheme_settings_are_validated(kwargs: dict) -> None:
    """Negative tolerances and absurd signature bounds are configuration errors."""
    with pytest.raises(InvalidInputError):
        StandardWebhooksScheme(**kwargs)


def test_headers_from_an_email_message_are_read_through_items() -> None:
    """http.client / email-style header objects (items(), repeats kept) work too."""
    from email.message import Message

    message = Message()
    for name, value in _sign(HMAC_SECRET).items():
        message[name.title()] = value
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    assert verifier.verify(BODY, message).delivery_id == "msg_1"  # type: ignore[arg-type]
    message["Webhook-Id"] = "msg_2"  # Message keeps both: a repeat
    with pytest.raises(MalformedHeaderError):
        verifier.verify(BODY, message)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers", [["webhook-id"], [("webhook-id", 1)], 42, [("a", "b", "c")]], ids=repr
)
def test_headers_that_are_not_pairs_are_the_hosts_input_error(headers: object) -> None:
    """Headers of the wrong shape are an InvalidInputError (a host bug), never a crash."""
    verifier = SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW))
    with pytest.raises(InvalidInputError):
        verifier.verify(BODY, headers)  # type: ignore[arg-type]
