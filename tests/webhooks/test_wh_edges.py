"""Edges of verification and signing: odd headers, timestamps at the limits, secrets of the
wrong kind, a broken clock. Every case is a typed error or a clean verification, never a crash.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from _wh_helpers import ED_SECRET, HMAC_SECRET, NOW, clock_at
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import (
    InvalidInputError,
    MalformedHeaderError,
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
    StandardWebhooksScheme,
    StripeScheme,
    generate_secret,
)

STANDARD = StandardWebhooksScheme()
STRIPE = StripeScheme()
BODY = b'{"id":"evt_1"}'


def _standard(**changes: str) -> dict[str, str]:
    headers = STANDARD.signer(HMAC_SECRET).sign(BODY, msg_id="msg_1", timestamp=NOW)
    headers.update(changes)
    return headers


def _verify_standard(headers: dict[str, str], now: float = NOW) -> object:
    return STANDARD.verifier(HMAC_SECRET, clock=clock_at(now)).verify(BODY, headers)


# --- timestamps at the edges ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "error"),
    [
        ("0", TimestampTooOldError),
        ("1", TimestampTooOldError),
        ("-1", MalformedHeaderError),
        ("-0", MalformedHeaderError),
        ("00", MalformedHeaderError),
        ("999999999999", TimestampTooNewError),  # 12 digits: the largest well-formed value
        ("1000000000000", MalformedHeaderError),  # 10**12: 13 digits
        ("9" * 400, MalformedHeaderError),
        ("1700000000\x00", MalformedHeaderError),
        ("1700000000\r\n", MalformedHeaderError),
        ("\t1700000000", MalformedHeaderError),
    ],
    ids=[
        "zero",
        "one",
        "negative",
        "negative-zero",
        "double-zero",
        "max-12-digits",
        "ten-to-the-12",
        "four-hundred-digits",
        "nul",
        "crlf",
        "tab",
    ],
)
def test_edge_timestamps_fail_with_the_right_typed_error(stamp: str, error: type) -> None:
    """Zero and tiny times are too old, far-future ones too new, anything not a plain decimal of
    at most 12 digits is malformed, before any signature is checked."""
    with pytest.raises(error):
        _verify_standard(_standard(**{"webhook-timestamp": stamp}))


@pytest.mark.parametrize("scheme_name", ["standard", "stripe"])
@pytest.mark.parametrize(
    ("skew", "error"),
    [(-301, TimestampTooOldError), (-300, None), (300, None), (301, TimestampTooNewError)],
    ids=["past-301", "past-300", "future-300", "future-301"],
)
def test_the_tolerance_boundary_is_inclusive_in_both_directions_for_both_schemes(
    scheme_name: str, skew: int, error: type | None
) -> None:
    """Exactly 300 s either way verifies; one second more is too old / too new."""
    if scheme_name == "standard":
        headers = STANDARD.signer(HMAC_SECRET).sign(BODY, msg_id="m", timestamp=NOW + skew)
        verifier = STANDARD.verifier(HMAC_SECRET, clock=clock_at(NOW))
    else:
        headers = STRIPE.signer("whsec_s").sign(BODY, timestamp=NOW + skew)
        verifier = STRIPE.verifier("whsec_s", clock=clock_at(NOW))  # type: ignore[assignment]
    if error is None:
        assert verifier.verify(BODY, headers).timestamp == NOW + skew
    else:
        with pytest.raises(error):
            verifier.verify(BODY, headers)


@pytest.mark.parametrize("now", [0.5, NOW + 0.999, NOW - 300.5], ids=["epoch", "frac", "edge"])
def test_fractional_clocks_compare_exactly(now: float) -> None:
    """A fractional clock is compared as is: 300.5 s in the past is outside a 300 s window."""
    headers = _standard()
    if abs(now - NOW) <= 300:
        assert _verify_standard(headers, now)
    else:
        with pytest.raises(TimestampTooNewError if now < NOW else TimestampTooOldError):
            _verify_standard(headers, now)


@pytest.mark.parametrize("bad_now", [float("nan"), float("inf"), float("-inf")])
def test_a_broken_clock_fails_closed(bad_now: float) -> None:
    """A clock returning NaN or infinity rejects every delivery instead of accepting any time."""
    with pytest.raises(WebhookVerificationError):
        _verify_standard(_standard(), bad_now)
    headers = STRIPE.signer("s").sign(BODY, timestamp=NOW)
    with pytest.raises(WebhookVerificationError):
        STRIPE.verifier("s", clock=clock_at(bad_now)).verify(BODY, headers)


@pytest.mark.parametrize(
    "timestamp",
    [10**12, 10**20, datetime.max.replace(tzinfo=UTC) + timedelta(0)],
    ids=["ten-to-the-12", "ten-to-the-20", "datetime-max"],
)
def test_signers_refuse_times_no_verifier_could_read(timestamp: int | datetime) -> None:
    """Signing a time of 13 or more digits is refused (datetime.max still fits in 12)."""
    signer = STANDARD.signer(HMAC_SECRET)
    if isinstance(timestamp, datetime):
        headers = signer.sign(BODY, msg_id="m", timestamp=timestamp)
        assert len(headers["webhook-timestamp"]) == 12
        return
    with pytest.raises(InvalidInputError):
        signer.sign(BODY, msg_id="m", timestamp=timestamp)
    with pytest.raises(InvalidInputError):
        STRIPE.signer("s").sign(BODY, timestamp=timestamp)


# --- malformed header values -----------------------------------------------------------------

SIG = _standard()["webhook-signature"]
MALFORMED_SIGNATURE_HEADERS = {
    "nul-in-unknown-entry": f"v2,\x00abc {SIG}",
    "control-in-unknown-entry": f"v2,a\x7fb {SIG}",
    "non-ascii-in-unknown-entry": f"v2,ü {SIG}",
    "surrogate-in-unknown-entry": f"v2,\udcff {SIG}",
    "empty-unknown-entry": f"v2, {SIG}",
    "comma-in-unknown-entry": f"v2,a,b {SIG}",
    "huge-unknown-entry": f"v2,{'A' * 600} {SIG}",
    "leading-space": f" {SIG}",
    "trailing-space": f"{SIG} ",
    "tab-separated": f"{SIG}\t{SIG}",
    "newline-separated": f"{SIG}\n{SIG}",
    "only-commas": "," * 50,
    "only-spaces": " " * 5,
    "many-commas": "v1," + "," * 200,
    "huge": "v1," + "A" * 1_000_000,
    "non-ascii-signature": "v1," + "Ä" * 44,
    "fullwidth-label": "\uff561," + SIG[3:],
    "upper-label": "V1," + SIG[3:],
}


@pytest.mark.parametrize(
    "value", list(MALFORMED_SIGNATURE_HEADERS.values()), ids=list(MALFORMED_SIGNATURE_HEADERS)
)
def test_odd_signature_headers_are_malformed_even_beside_a_genuine_signature(value: str) -> None:
    """Control characters, non-ASCII, empty parts, stray separators and oversized values in any
    entry make the whole header malformed: the verifier fails closed."""
    with pytest.raises(MalformedHeaderError) as info:
        _verify_standard(_standard(**{"webhook-signature": value}))
    assert info.value.header == "webhook-signature"


@pytest.mark.parametrize(
    "msg_id",
    ["", " ", "a b", "a\x00", "a\r\nX-Injected: 1", "é", "\udcff", "m" * 257, "m" * 100_000],
    ids=["empty", "space", "inner-space", "nul", "crlf", "non-ascii", "surrogate", "257", "huge"],
)
def test_odd_message_ids_are_malformed(msg_id: str) -> None:
    """The id must be 1 to 256 visible ASCII characters."""
    with pytest.raises(MalformedHeaderError) as info:
        _verify_standard(_standard(**{"webhook-id": msg_id}))
    assert info.value.header == "webhook-id"


def test_a_longest_message_id_verifies() -> None:
    """256 visible ASCII characters (all of them allowed, '/' and ',' included) verify."""
    msg_id = ("/,.~!" * 60)[:256]
    headers = STANDARD.signer(HMAC_SECRET).sign(BODY, msg_id=msg_id, timestamp=NOW)
    assert _verify_standard(headers).delivery_id == msg_id  # type: ignore[attr-defined]


def test_very_many_unrelated_headers_do_not_hide_the_signed_ones() -> None:
    """A request with 100,000 other headers still verifies (the host bounds header counts)."""
    noise = [(f"x-noise-{i}", "v") for i in range(100_000)]
    assert _verify_standard(noise + list(_standard().items()))  # type: ignore[arg-type]


def test_bytes_headers_with_non_latin1_bytes_are_malformed_not_a_crash() -> None:
    """Raw header bytes are read as Latin-1 (never a decode error) and then checked strictly."""
    headers = [(k.encode(), v.encode() + b"\xff\xfe") for k, v in _standard().items()]
    with pytest.raises(MalformedHeaderError):
        STANDARD.verifier(HMAC_SECRET, clock=clock_at(NOW)).verify(BODY, headers)


@pytest.mark.parametrize(
    "twin",
    [
        {"Webhook-Id": "msg_1"},
        {b"webhook-timestamp": str(NOW).encode()},
        {"WEBHOOK-SIGNATURE": SIG},
    ],
    ids=["id-odd-case", "timestamp-bytes", "signature-upper"],
)
def test_a_dict_holding_a_header_twice_in_two_spellings_is_malformed(twin: dict) -> None:
    """A plain dict with the same header under two spellings was sent twice: malformed, even
    when both copies carry the genuine value (the exact-lookup fast path must not hide it)."""
    with pytest.raises(MalformedHeaderError, match="repeated"):
        _verify_standard({**_standard(), **twin})
    value = GITHUB_SCHEME.signer("s").sign(BODY)["X-Hub-Signature-256"]
    with pytest.raises(MalformedHeaderError, match="repeated"):
        GITHUB_SCHEME.verifier("s").verify(
            BODY, {"x-hub-signature-256": value, "X-Hub-Signature-256": value}
        )


def test_a_dict_with_unrelated_headers_besides_the_signed_ones_verifies() -> None:
    """Other headers in a lower-case dict do not trip the twin check."""
    headers = {**_standard(), "content-type": "application/json", "x-webhook-id": "other"}
    assert _verify_standard(headers)


STRIPE_MALFORMED = {
    "control-in-v0": "t={t},v0=\x00,v1={s}",
    "non-ascii-in-v0": "t={t},v0=ü,v1={s}",
    "empty-v0": "t={t},v0=,v1={s}",
    "space-after-comma": "t={t}, v1={s}",
    "trailing-comma": "t={t},v1={s},",
    "double-comma": "t={t},,v1={s}",
    "upper-key": "T={t},v1={s}",
    "two-t": "t={t},t={t},v1={s}",
    "t-with-plus": "t=+{t},v1={s}",
    "many-commas": "t={t}" + "," * 5000 + "v1={s}",
}


@pytest.mark.parametrize("template", list(STRIPE_MALFORMED.values()), ids=list(STRIPE_MALFORMED))
def test_odd_stripe_headers_are_malformed_even_beside_a_genuine_signature(template: str) -> None:
    """Every entry of a Stripe header must be a clean key=value; otherwise the header is bad."""
    genuine = STRIPE.signer("s").signature(NOW, BODY)
    signature = genuine.split("v1=")[1]
    value = template.format(t=NOW, s=signature)
    with pytest.raises(MalformedHeaderError):
        STRIPE.verifier("s", clock=clock_at(NOW)).verify(BODY, {"Stripe-Signature": value})


# --- secrets of the wrong kind ---------------------------------------------------------------

SEED = bytes(range(32))
PUBLIC_OF_SEED = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD_SECRETS: dict[str, object] = {
    "none": None,
    "int": 5,
    "float": 1.5,
    "dict": {"whsec": "x"},
    "list-with-int": [HMAC_SECRET, 5],
    "list-with-none": [None],
    "surrogate": "whsec_\udcff",
    "upper-prefix": "WHSEC_" + HMAC_SECRET[6:],
    "no-prefix": HMAC_SECRET[6:],
    "prefix-only": "whsec_",
    "space-after-prefix": "whsec_ " + HMAC_SECRET[6:],
    "whsk-31": "whsk_" + _b64(SEED[:31]),
    "whsk-33": "whsk_" + _b64(SEED + b"x"),
    "whsk-63": "whsk_" + _b64((SEED + PUBLIC_OF_SEED)[:63]),
    "whsk-64-foreign-public-half": "whsk_" + _b64(SEED + bytes(32)),
    "whsk-64-own-public-half-flipped": "whsk_"
    + _b64(SEED + PUBLIC_OF_SEED[:-1] + bytes([PUBLIC_OF_SEED[-1] ^ 1])),
    "whsk-96": "whsk_" + _b64(SEED * 3),
    "whpk-31": "whpk_" + _b64(PUBLIC_OF_SEED[:31]),
    "whpk-33": "whpk_" + _b64(PUBLIC_OF_SEED + b"x"),
    "whpk-64": "whpk_" + _b64(PUBLIC_OF_SEED * 2),
    "whpk-urlsafe": "whpk_" + base64.urlsafe_b64encode(b"\xfb" * 32).decode(),
    "whsec-unpadded": "whsec_" + _b64(b"k" * 20).rstrip("="),
    "empty-bytes": b"",
}


@pytest.mark.parametrize("secret", list(BAD_SECRETS.values()), ids=list(BAD_SECRETS))
def test_bad_standard_secrets_are_secret_errors_that_do_not_echo_them(secret: object) -> None:
    """Wrong types, prefixes, lengths and mismatched halves are WebhookSecretError, for verifiers
    and signers alike, and the message never contains the secret's payload."""
    for build in (STANDARD.verifier, STANDARD.signer):
        with pytest.raises(WebhookSecretError) as info:
            build(secret)  # type: ignore[arg-type]
        if isinstance(secret, str) and len(secret) > 8:
            assert secret[6:] not in str(info.value)


def test_the_64_byte_form_with_its_own_public_half_signs_like_the_seed() -> None:
    """whsk_ of seed+public is the same key as whsk_ of the seed."""
    long_form = "whsk_" + _b64(SEED + PUBLIC_OF_SEED)
    assert long_form != ED_SECRET
    one = STANDARD.signer(long_form).sign(BODY, msg_id="m", timestamp=NOW)
    two = STANDARD.signer(ED_SECRET).sign(BODY, msg_id="m", timestamp=NOW)
    assert one == two
    assert STANDARD.public_key(long_form) == STANDARD.public_key(ED_SECRET)


@pytest.mark.parametrize("secret", [None, 5, [], [5], "\udcff", b""], ids=repr)
@pytest.mark.parametrize(
    "scheme", [STRIPE, GITHUB_SCHEME, EASYPOST_SCHEME], ids=["stripe", "github", "easypost"]
)
def test_bad_shared_secrets_are_secret_errors(scheme: object, secret: object) -> None:
    """Stripe and plain-HMAC schemes refuse the same wrong kinds with WebhookSecretError."""
    for build in (scheme.verifier, scheme.signer):  # type: ignore[attr-defined]
        with pytest.raises(WebhookSecretError):
            build(secret)


@pytest.mark.parametrize("value", [5, "whsec_" + "A" * 44, None], ids=["int", "whsec", "none"])
def test_public_key_of_something_that_is_not_a_secret_key_is_a_secret_error(value: object) -> None:
    """public_key only derives from a whsk_ secret or a private key object."""
    with pytest.raises(WebhookSecretError):
        StandardWebhooksScheme.public_key(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", ["32", 32.0, None, 23, 65], ids=repr)
def test_generate_secret_sizes_are_checked(size: object) -> None:
    """A size that is not an int from 24 to 64 is an InvalidInputError."""
    with pytest.raises(InvalidInputError):
        generate_secret("whsec", size=size)  # type: ignore[arg-type]


# --- bodies that are not bytes ---------------------------------------------------------------


@pytest.mark.parametrize("body", ["text", None, 5, ["x"]], ids=["str", "none", "int", "list"])
@pytest.mark.parametrize(
    "signer",
    [
        STANDARD.signer(HMAC_SECRET),
        STRIPE.signer("s"),
        GITHUB_SCHEME.signer("s"),
        HmacScheme(header="X-Sig", encoding="base64").signer("s"),
    ],
    ids=["standard", "stripe", "github", "hmac-base64"],
)
def test_every_signer_refuses_a_body_that_is_not_bytes(signer: object, body: object) -> None:
    """Signing a str or any other object is an InvalidInputError, never a TypeError."""
    with pytest.raises(InvalidInputError):
        signer.sign(body, msg_id="m", timestamp=NOW)  # type: ignore[attr-defined]


@pytest.mark.parametrize("wrap", [bytearray, memoryview])
def test_every_signer_accepts_buffers_of_bytes(wrap: type) -> None:
    """bytearray and memoryview bodies sign exactly as bytes do."""
    for signer in (STANDARD.signer(HMAC_SECRET), STRIPE.signer("s"), GITHUB_SCHEME.signer("s")):
        expected = signer.sign(BODY, msg_id="m", timestamp=NOW)
        assert signer.sign(wrap(BODY), msg_id="m", timestamp=NOW) == expected


# --- outsiders' headers, fuzzed --------------------------------------------------------------

NASTY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="ascii"),
        st.sampled_from(["\x00", "\x7f", "\r", "\n", "\t", "é", "\u200b", "\udcff", "٣", ","]),
    ),
    max_size=300,
)


@given(
    msg_id=NASTY_TEXT,
    stamp=st.one_of(NASTY_TEXT, st.integers(-(10**15), 10**15).map(str)),
    signature=st.one_of(
        NASTY_TEXT,
        st.lists(st.sampled_from([SIG, "v1,", "v1a,", "v2,x", " ", ",", "\t"]), max_size=40).map(
            "".join
        ),
    ),
    body=st.one_of(st.binary(max_size=64), st.just(BODY)),
)
def test_nasty_standard_headers_verify_only_when_all_three_are_genuine(
    msg_id: str, stamp: str, signature: str, body: bytes
) -> None:
    """Whatever text arrives, the result is a verification error, or (only for the exact
    genuine id, time, body and a genuine entry) a verified delivery."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    try:
        verified = _verify_standard(headers)
    except WebhookVerificationError:
        return
    assert (msg_id, stamp, body) == ("msg_1", str(NOW), BODY)
    assert verified.delivery_id == "msg_1"  # type: ignore[attr-defined]


@given(
    value=st.one_of(
        NASTY_TEXT,
        st.lists(
            st.sampled_from(["t=", str(NOW), "v1=", "v0=", ",", "=", "a" * 64, "0" * 64]),
            max_size=30,
        ).map("".join),
    ),
    body=st.binary(max_size=64),
)
def test_nasty_stripe_and_hmac_headers_raise_only_verification_errors(
    value: str, body: bytes
) -> None:
    """Stripe and plain-HMAC verifiers answer any header text with a typed error or a match."""
    for verifier, name in (
        (STRIPE.verifier("s", clock=clock_at(NOW)), "Stripe-Signature"),
        (GITHUB_SCHEME.verifier("s"), "X-Hub-Signature-256"),
        (HmacScheme(header="X-Sig", encoding="base64").verifier("s"), "x-sig"),
    ):
        with contextlib.suppress(WebhookVerificationError):
            verifier.verify(body, {name: value})  # type: ignore[attr-defined]


def test_signatures_of_unknown_versions_must_not_match_to_pass() -> None:
    """A header of only well-formed unknown-version entries is no match, not a pass."""
    with pytest.raises(NoMatchingSignatureError):
        _verify_standard(_standard(**{"webhook-signature": "v2,abc v3a,def"}))


# --- any single change to a genuine delivery is caught -----------------------------------------


def _flip(text: str, index: int, char: str) -> str:
    index %= len(text)
    if text[index] == char:
        char = "A" if char != "A" else "B"
    return text[:index] + char + text[index + 1 :]


@given(
    body=st.binary(min_size=1, max_size=128),
    part=st.sampled_from(["body", "webhook-id", "webhook-timestamp", "webhook-signature"]),
    index=st.integers(0, 10_000),
    char=st.characters(codec="latin-1"),
    byte=st.integers(0, 255),
)
def test_any_single_change_to_a_genuine_standard_delivery_is_rejected(
    body: bytes, part: str, index: int, char: str, byte: int
) -> None:
    """Changing one byte of the body or one character of any signed header never verifies."""
    headers = STANDARD.signer(HMAC_SECRET).sign(body, msg_id="msg_1", timestamp=NOW)
    if part == "body":
        position = index % len(body)
        if body[position] == byte:
            byte ^= 1
        body = body[:position] + bytes([byte]) + body[position + 1 :]
    else:
        headers[part] = _flip(headers[part], index, char)
    with pytest.raises(WebhookVerificationError):
        STANDARD.verifier(HMAC_SECRET, clock=clock_at(NOW)).verify(body, headers)


@given(
    body=st.binary(min_size=1, max_size=128),
    index=st.integers(0, 10_000),
    char=st.characters(codec="latin-1"),
    change_body=st.booleans(),
)
def test_any_single_change_to_a_genuine_stripe_or_hmac_delivery_is_rejected(
    body: bytes, index: int, char: str, change_body: bool
) -> None:
    """The same for Stripe's header and plain HMAC in hex and base64."""
    for scheme, secret, is_hex in (
        (STRIPE, "whsec_s", True),
        (GITHUB_SCHEME, "gh", True),
        (HmacScheme(header="X-Sig", encoding="base64", algorithm="sha512"), "k", False),
    ):
        headers = scheme.signer(secret).sign(body, timestamp=NOW)  # type: ignore[attr-defined]
        (name,) = headers
        tampered = body
        if change_body:
            position = index % len(body)
            tampered = body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :]
        else:
            headers[name] = _flip(headers[name], index, char)
        verifier = scheme.verifier(secret, clock=clock_at(NOW))  # type: ignore[attr-defined]
        genuine_value = scheme.signer(secret).sign(body, timestamp=NOW)[name]  # type: ignore[attr-defined]
        if is_hex and headers[name].lower() == genuine_value.lower():
            continue  # only a letter's case changed: hex is read in either case on purpose
        with pytest.raises(WebhookVerificationError):
            verifier.verify(tampered, headers)
