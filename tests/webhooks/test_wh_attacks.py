"""The attack suite: every forged, tampered or malformed delivery fails with the right typed error.

Each case starts from a genuine delivery and changes one thing. No error message may contain the
secret, the genuine signature or the expected value.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from _wh_helpers import ED_SECRET, HMAC_SECRET, NOW, OTHER_SECRET, clock_at

from shipsync.errors import (
    MalformedHeaderError,
    NoMatchingSignatureError,
    TimestampTooNewError,
    TimestampTooOldError,
    WebhookVerificationError,
)
from shipsync.webhooks import StandardWebhooksScheme

SCHEME = StandardWebhooksScheme()
BODY = b'{"type":"shipment.delivered","data":{"id":"shp_1"}}'
PUBLIC = StandardWebhooksScheme.public_key(ED_SECRET)

Headers = dict[str, str] | list[tuple[str, str]]


def genuine(secret: str = HMAC_SECRET, *, ts: int = NOW, body: bytes = BODY) -> dict[str, str]:
    """A correctly signed delivery's headers."""
    return SCHEME.signer(secret).sign(body, msg_id="msg_1", timestamp=ts)


def _with(**changes: str) -> dict[str, str]:
    headers = genuine()
    headers.update({k.replace("_", "-"): v for k, v in changes.items()})
    return headers


def _sig() -> str:
    return genuine()["webhook-signature"][3:]


def _ed_sig() -> str:
    return genuine(ED_SECRET)["webhook-signature"][4:]


def _non_canonical(sig: str) -> str:
    """Same decoded bytes, different spelling: flip the unused low bits of the last symbol."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(sig[-2])
    return sig[:-2] + alphabet[last | 1] + "="


# (id, body, headers factory, expected error)
CASES: list[tuple[str, bytes, Callable[[], Headers], type[WebhookVerificationError]]] = [
    ("body-one-byte", BODY.replace(b"shp_1", b"shp_2"), genuine, NoMatchingSignatureError),
    ("body-trailing-space", BODY + b" ", genuine, NoMatchingSignatureError),
    ("body-trailing-newline", BODY + b"\n", genuine, NoMatchingSignatureError),
    ("body-empty", b"", genuine, NoMatchingSignatureError),
    ("tampered-id", BODY, lambda: _with(webhook_id="msg_2"), NoMatchingSignatureError),
    (
        "tampered-timestamp",
        BODY,
        lambda: _with(webhook_timestamp=str(NOW + 1)),
        NoMatchingSignatureError,
    ),
    ("other-secret", BODY, lambda: genuine(OTHER_SECRET), NoMatchingSignatureError),
    (
        "truncated-signature",
        BODY,
        lambda: _with(webhook_signature="v1," + _sig()[:40]),
        MalformedHeaderError,
    ),
    (
        "truncated-decoded",
        BODY,
        lambda: _with(webhook_signature="v1," + base64.b64encode(b"x" * 31).decode()),
        MalformedHeaderError,
    ),
    ("empty-v1", BODY, lambda: _with(webhook_signature="v1,"), MalformedHeaderError),
    ("empty-header", BODY, lambda: _with(webhook_signature=""), MalformedHeaderError),
    ("label-only", BODY, lambda: _with(webhook_signature="v1"), MalformedHeaderError),
    ("v1a-on-hmac", BODY, lambda: _with(webhook_signature="v1a," + _sig()), MalformedHeaderError),
    (
        "v1-on-ed25519",
        BODY,
        lambda: _with(webhook_signature="v1," + _ed_sig()),
        MalformedHeaderError,
    ),
    (
        "non-canonical-base64",
        BODY,
        lambda: _with(webhook_signature="v1," + _non_canonical(_sig())),
        MalformedHeaderError,
    ),
    (
        "unpadded-base64",
        BODY,
        lambda: _with(webhook_signature="v1," + _sig().rstrip("=")),
        MalformedHeaderError,
    ),
    (
        "urlsafe-base64",
        BODY,
        lambda: _with(webhook_signature="v1," + _sig().replace("+", "-").replace("/", "_") + "-"),
        MalformedHeaderError,
    ),
    (
        "double-space",
        BODY,
        lambda: _with(webhook_signature="v1," + _sig() + "  v1," + _sig()),
        MalformedHeaderError,
    ),
    (
        "comma-joined-by-proxy",
        BODY,
        lambda: _with(webhook_signature="v1," + _sig() + ", v1," + _sig()),
        MalformedHeaderError,
    ),
    (
        "unknown-version-only",
        BODY,
        lambda: _with(webhook_signature="v2," + _sig()),
        NoMatchingSignatureError,
    ),
    ("garbage-label", BODY, lambda: _with(webhook_signature="x!," + _sig()), MalformedHeaderError),
    ("id-with-space", BODY, lambda: _with(webhook_id="msg 1"), MalformedHeaderError),
    ("id-non-ascii", BODY, lambda: _with(webhook_id="msg_ü"), MalformedHeaderError),
    ("id-empty", BODY, lambda: _with(webhook_id=""), MalformedHeaderError),
    ("id-too-long", BODY, lambda: _with(webhook_id="m" * 257), MalformedHeaderError),
    (
        "too-old",
        BODY,
        lambda: genuine(ts=NOW - 3600),
        TimestampTooOldError,
    ),
    (
        "too-new",
        BODY,
        lambda: genuine(ts=NOW + 3600),
        TimestampTooNewError,
    ),
    (
        "repeated-signature",
        BODY,
        lambda: [*genuine().items(), ("webhook-signature", "v1," + _sig())],
        MalformedHeaderError,
    ),
    (
        "repeated-id-odd-case",
        BODY,
        lambda: [*genuine().items(), ("Webhook-ID", "msg_2")],
        MalformedHeaderError,
    ),
    (
        "repeated-id-odd-case-in-dict",
        BODY,
        lambda: {**genuine(), "Webhook-Id": "msg_2"},
        MalformedHeaderError,
    ),
    (
        "repeated-signature-odd-case-in-dict",
        BODY,
        lambda: {**genuine(), "WEBHOOK-SIGNATURE": "v1," + _sig()},
        MalformedHeaderError,
    ),
    (
        "repeated-timestamp-upper",
        BODY,
        lambda: [*genuine().items(), ("WEBHOOK-TIMESTAMP", str(NOW))],
        MalformedHeaderError,
    ),
]

TIMESTAMPS = {
    "plus-sign": f"+{NOW}",
    "minus-sign": f"-{NOW}",
    "fraction": f"{NOW}.9",
    "zero-fraction": f"{NOW}.0",
    "leading-space": f" {NOW}",
    "trailing-space": f"{NOW} ",
    "underscores": "1_700_000_000",
    "leading-zero": f"0{NOW}",
    "arabic-indic-digits": str(NOW).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    "fullwidth-digits": "".join(chr(0xFF10 + int(d)) for d in str(NOW)),
    "exponent": "1.7e9",
    "hex": hex(NOW),
    "empty": "",
    "newline": f"{NOW}\n",
    "thirteen-digits": "1" * 13,
    "milliseconds": str(NOW * 1000),
}


def _verifier(*secrets: str) -> object:
    return SCHEME.verifier(list(secrets) or [HMAC_SECRET, PUBLIC], clock=clock_at(NOW))


def _assert_safe(error: BaseException, headers: Headers) -> None:
    text = str(error)
    assert HMAC_SECRET[6:] not in text
    assert _sig() not in text
    values = headers.values() if isinstance(headers, dict) else [v for _, v in headers]
    for value in values:
        if len(value) > 20:  # signatures; short values (ids, times) may be named safely
            assert value not in text


@pytest.mark.parametrize(
    ("body", "make", "error"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_attack_is_rejected_with_the_right_error(
    body: bytes, make: Callable[[], Headers], error: type[Exception]
) -> None:
    """The tampered delivery raises exactly the expected WebhookVerificationError subclass."""
    headers = make()
    with pytest.raises(WebhookVerificationError) as info:
        _verifier().verify(body, headers)  # type: ignore[attr-defined]
    assert type(info.value) is error
    _assert_safe(info.value, headers)


@pytest.mark.parametrize("stamp", list(TIMESTAMPS.values()), ids=list(TIMESTAMPS))
def test_timestamps_other_than_plain_ascii_decimals_are_malformed(stamp: str) -> None:
    """Signs, fractions, spaces, underscores, leading zeros and non-ASCII digits are malformed."""
    headers = _with(webhook_timestamp=stamp)
    with pytest.raises(MalformedHeaderError) as info:
        _verifier().verify(BODY, headers)  # type: ignore[attr-defined]
    assert info.value.header == "webhook-timestamp"


def test_signed_non_plain_timestamp_is_still_malformed() -> None:
    """Even a sender that signed '+1700000000' is refused: the spelling itself is malformed."""
    import hashlib
    import hmac

    key = base64.b64decode(HMAC_SECRET[6:])
    stamp = f"+{NOW}"
    mac = hmac.new(key, f"msg_1.{stamp}.".encode() + BODY, hashlib.sha256).digest()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    with pytest.raises(MalformedHeaderError):
        _verifier().verify(BODY, headers)  # type: ignore[attr-defined]


def test_ten_thousand_signatures_are_rejected_before_any_is_checked() -> None:
    """A header stuffed with 10,000 entries is malformed even if the first one is genuine."""
    stuffed = " ".join(["v1," + _sig()] + ["v1," + _non_canonical(_sig())] * 9_999)
    headers = _with(webhook_signature=stuffed)
    with pytest.raises(MalformedHeaderError) as info:
        _verifier().verify(BODY, headers)  # type: ignore[attr-defined]
    assert "too many" in info.value.reason


def test_the_signature_bound_is_configurable_and_inclusive() -> None:
    """max_signatures entries are accepted; one more is malformed."""
    scheme = StandardWebhooksScheme(max_signatures=3)
    wrong = "v1," + base64.b64encode(b"w" * 32).decode()
    verifier = scheme.verifier(HMAC_SECRET, clock=clock_at(NOW))
    assert verifier.verify(BODY, _with(webhook_signature=f"{wrong} {wrong} v1,{_sig()}"))
    with pytest.raises(MalformedHeaderError):
        verifier.verify(BODY, _with(webhook_signature=f"{wrong} {wrong} {wrong} v1,{_sig()}"))


def test_unknown_versions_are_ignored_beside_a_matching_v1() -> None:
    """Forward compatibility: a well-formed v2 entry does not spoil a matching v1."""
    headers = _with(webhook_signature=f"v2,c29tZXRoaW5n v1,{_sig()}")
    assert _verifier().verify(BODY, headers)  # type: ignore[attr-defined]


def test_malformed_entry_spoils_the_whole_header_even_beside_a_match() -> None:
    """Fail closed: one malformed entry rejects the header although another entry matches."""
    headers = _with(webhook_signature=f"v1, v1,{_sig()}")
    with pytest.raises(MalformedHeaderError):
        _verifier().verify(BODY, headers)  # type: ignore[attr-defined]


def test_ed25519_signature_of_another_body_does_not_match() -> None:
    """A genuine v1a signature over a different body is no match."""
    headers = genuine(ED_SECRET, body=b"other")
    with pytest.raises(NoMatchingSignatureError):
        _verifier().verify(BODY, headers)  # type: ignore[attr-defined]


def test_odd_case_headers_of_a_genuine_delivery_verify() -> None:
    """Header case is not an attack: odd-case names of a genuine delivery verify."""
    headers = {
        "WeBhOoK-iD": "msg_1",
        **{k.upper(): v for k, v in genuine().items() if "id" not in k},
    }
    assert _verifier().verify(BODY, headers).delivery_id == "msg_1"  # type: ignore[attr-defined]
