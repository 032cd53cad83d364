"""No error, receipt or log line ever carries a secret, a signature or an expected value.

Every case of the attack suite (and a mutation suite for the Stripe and plain-HMAC schemes) is
run; everything a caller or a log could see of the failure is gathered — the message, ``repr``,
``args``, attributes, notes, the whole ``__cause__``/``__context__`` chain, the receipt's
``reason`` and the log records — and searched for every spelling of the secret (text, base64,
hex, raw bytes), the genuine signature, and the signature the verifier computed for what it
received (the "expected value").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _wh_helpers import HMAC_KEY, HMAC_SECRET, NOW, clock_at
from test_wh_attacks import CASES, TIMESTAMPS, Headers, genuine

from shipsync.errors import WebhookError
from shipsync.idempotency import MemoryStore
from shipsync.webhooks import (
    GITHUB_SCHEME,
    StandardWebhooksScheme,
    StripeScheme,
    WebhookReceiver,
)

STANDARD = StandardWebhooksScheme()
STRIPE = StripeScheme()
STRIPE_SECRET = "whsec_stripe_secret_value_123"
GITHUB_SECRET = "gh-secret-value-4567"
BODY = b'{"type":"shipment.delivered","data":{"id":"shp_1"}}'


def _spellings(raw: bytes) -> set[str]:
    """Every way a byte string could show up in text."""
    forms = {
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        raw.hex().upper(),
        repr(raw)[2:-1],
    }
    if len(raw) >= 8:
        forms.add(raw.decode("latin-1"))
    return {form for form in forms if len(form) >= 8}


def _texts(error: BaseException, seen: set[int] | None = None) -> Iterator[str]:
    """Everything a caller can read off an error and the errors chained to it."""
    seen = set() if seen is None else seen
    if id(error) in seen:
        return
    seen.add(id(error))
    yield str(error)
    yield repr(error)
    for arg in error.args:
        yield repr(arg)
    for value in vars(error).values():
        yield repr(value)
    for note in getattr(error, "__notes__", ()):
        yield str(note)
    for linked in (error.__cause__, error.__context__):
        if linked is not None:
            yield from _texts(linked, seen)


def _expected_standard(headers: Headers, body: bytes) -> set[bytes]:
    """The v1 signature the verifier computes for the delivery as received."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    values = {k.lower(): v for k, v in pairs}
    try:
        content = f"{values['webhook-id']}.{values['webhook-timestamp']}.".encode() + body
    except (KeyError, UnicodeEncodeError):
        return set()
    return {hmac.digest(HMAC_KEY, content, "sha256")}


def _header_values(headers: Headers) -> list[str]:
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [value for _, value in pairs if len(value) >= 20]


def _assert_nothing_leaks(texts: list[str], forbidden: set[str]) -> None:
    for text in texts:
        for secret in forbidden:
            assert secret not in text, "a secret, signature or expected value leaked"


def _standard_cases() -> list[tuple[str, bytes, Headers]]:
    cases = [(name, body, make()) for name, body, make, _ in CASES]
    for name, stamp in TIMESTAMPS.items():
        headers = genuine()
        headers["webhook-timestamp"] = stamp
        cases.append((f"timestamp-{name}", BODY, headers))
    return cases


STANDARD_CASES = _standard_cases()


@pytest.mark.parametrize(
    ("body", "headers"),
    [case[1:] for case in STANDARD_CASES],
    ids=[case[0] for case in STANDARD_CASES],
)
def test_standard_attack_errors_and_receipts_carry_no_secret_or_signature(
    body: bytes, headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    """Each Standard Webhooks attack fails; neither its error (whole chain), the receipt's
    reason nor a log line holds the secret, a signature sent, or the one expected."""
    verifier = STANDARD.verifier(HMAC_SECRET, clock=clock_at(NOW))
    with pytest.raises(WebhookError) as info:
        verifier.verify(body, headers)
    forbidden = {HMAC_SECRET, *_spellings(HMAC_KEY)}
    forbidden |= {form for sig in _expected_standard(headers, body) for form in _spellings(sig)}
    forbidden |= {form for sig in [genuine()["webhook-signature"]] for form in (sig, sig[3:])}
    forbidden |= set(_header_values(headers))
    receiver = WebhookReceiver(verifier, store=MemoryStore(), sink=_NullSink())
    with caplog.at_level(logging.DEBUG):
        receipt = receiver.receive(body, headers)
    assert receipt.status == 400
    texts = [*_texts(info.value), receipt.reason, *(r.getMessage() for r in caplog.records)]
    _assert_nothing_leaks(texts, forbidden)


class _NullSink:
    def publish(self, events: object) -> None:
        raise AssertionError("an attack must never reach the sink")


def _stripe_sig(secret: str, stamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _mutations(value: str) -> dict[str, str]:
    return {
        "truncated": value[:-2],
        "extended": value + "0",
        "empty": "",
        "case-flipped": value.swapcase(),
        "spaced": value.replace("=", " = ", 1),
        "doubled": value + value,
    }


def _shared_secret_cases() -> Iterator[
    tuple[str, Callable[[], Any], str, bytes, Headers, set[str]]
]:
    good = STRIPE.signer(STRIPE_SECRET).sign(BODY, timestamp=NOW)["Stripe-Signature"]
    sig = good.split("v1=")[1]
    stripe_verifier = lambda: STRIPE.verifier(STRIPE_SECRET, clock=clock_at(NOW))  # noqa: E731
    stripe_forbidden = {STRIPE_SECRET, STRIPE_SECRET[6:], sig, *_spellings(bytes.fromhex(sig))}
    tampered = BODY + b" "
    expected = _stripe_sig(STRIPE_SECRET, NOW, tampered)
    yield (
        "stripe-body",
        stripe_verifier,
        "Stripe-Signature",
        tampered,
        {"Stripe-Signature": good},
        stripe_forbidden | {expected},
    )
    for name, value in _mutations(good).items():
        yield (
            f"stripe-{name}",
            stripe_verifier,
            "Stripe-Signature",
            BODY,
            {"Stripe-Signature": value},
            stripe_forbidden | {value} if len(value) >= 20 else stripe_forbidden,
        )
    gh = GITHUB_SCHEME.signer(GITHUB_SECRET).sign(BODY)["X-Hub-Signature-256"]
    gh_verifier = lambda: GITHUB_SCHEME.verifier(GITHUB_SECRET)  # noqa: E731
    gh_forbidden = {GITHUB_SECRET, gh[7:], *_spellings(bytes.fromhex(gh[7:]))}
    gh_expected = hmac.new(GITHUB_SECRET.encode(), tampered, hashlib.sha256).hexdigest()
    yield (
        "github-body",
        gh_verifier,
        "X-Hub-Signature-256",
        tampered,
        {"X-Hub-Signature-256": gh},
        gh_forbidden | {gh_expected},
    )
    for name, value in _mutations(gh).items():
        yield (
            f"github-{name}",
            gh_verifier,
            "X-Hub-Signature-256",
            BODY,
            {"X-Hub-Signature-256": value},
            gh_forbidden | {value} if len(value) >= 20 else gh_forbidden,
        )
    yield (
        "github-repeated",
        gh_verifier,
        "X-Hub-Signature-256",
        BODY,
        [("X-Hub-Signature-256", gh), ("x-hub-signature-256", gh)],
        gh_forbidden,
    )


SHARED_CASES = list(_shared_secret_cases())


@pytest.mark.parametrize(
    ("make", "body", "headers", "forbidden"),
    [(case[1], case[3], case[4], case[5]) for case in SHARED_CASES],
    ids=[case[0] for case in SHARED_CASES],
)
def test_stripe_and_hmac_attack_errors_carry_no_secret_or_signature(
    make: Callable[[], Any], body: bytes, headers: Headers, forbidden: set[str]
) -> None:
    """The same holds for Stripe and plain-HMAC verifiers: tampered bodies and mangled headers
    fail without the secret, the sent signature or the expected one in any error text."""
    with pytest.raises(WebhookError) as info:
        make().verify(body, headers)
    _assert_nothing_leaks(list(_texts(info.value)), forbidden)


def test_the_scan_would_catch_a_leak() -> None:
    """The scanner itself works: an error whose cause names the secret is caught."""
    error = ValueError("outer")
    error.__cause__ = RuntimeError(f"key={HMAC_SECRET}")
    with pytest.raises(AssertionError):
        _assert_nothing_leaks(list(_texts(error)), {HMAC_SECRET})
