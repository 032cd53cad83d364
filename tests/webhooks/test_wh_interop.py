"""Byte-for-byte interoperability with the reference ``standardwebhooks`` package, both ways.

The reference verifies against the real clock, so these tests sign at the current time.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from shipsync.webhooks import StandardWebhooksScheme

SCHEME = StandardWebhooksScheme()

keys = st.binary(min_size=1, max_size=64)
msg_ids = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)
texts = st.text(max_size=2048)  # the reference only takes bodies that decode as UTF-8


def _whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


@given(key=keys, msg_id=msg_ids, text=texts, skew=st.integers(-250, 250))
def test_what_the_reference_signs_we_verify(key: bytes, msg_id: str, text: str, skew: int) -> None:
    """A reference signature verifies here, with the same secret string, for any input."""
    now = int(time.time())
    moment = datetime.fromtimestamp(now + skew, tz=UTC)
    reference = standardwebhooks.Webhook(_whsec(key))
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now + skew),
        "webhook-signature": reference.sign(msg_id, moment, text),
    }
    verified = SCHEME.verifier(_whsec(key), clock=lambda: now).verify(text.encode(), headers)
    assert verified.delivery_id == msg_id
    assert verified.timestamp == now + skew


@given(key=keys, msg_id=msg_ids, text=texts, skew=st.integers(-250, 250), rotated=keys)
def test_what_we_sign_the_reference_verifies(
    key: bytes, msg_id: str, text: str, skew: int, rotated: bytes
) -> None:
    """Our header (with a second, rotated signature) verifies in the reference for any input."""
    stamp = int(time.time()) + skew
    headers = SCHEME.signer([_whsec(rotated), _whsec(key)]).sign(
        text.encode(), msg_id=msg_id, timestamp=stamp
    )
    reference = standardwebhooks.Webhook(_whsec(key))
    assert reference.verify(text.encode(), headers, json_parse=False) is None


@given(key=keys, msg_id=msg_ids, text=texts)
def test_signatures_are_identical_to_the_reference(key: bytes, msg_id: str, text: str) -> None:
    """For UTC datetimes the signature strings are equal character for character."""
    moment = datetime.fromtimestamp(int(time.time()), tz=UTC)
    ours = SCHEME.signer(_whsec(key)).sign(text.encode(), msg_id=msg_id, timestamp=moment)
    theirs = standardwebhooks.Webhook(_whsec(key)).sign(msg_id, moment, text)
    assert ours["webhook-signature"] == theirs


@given(key=keys, msg_id=msg_ids, text=texts)
def test_raw_key_bytes_and_whsec_string_are_the_same_secret(
    key: bytes, msg_id: str, text: str
) -> None:
    """Raw key bytes (as the reference also accepts) sign like their whsec_ spelling."""
    stamp = int(time.time())
    a = SCHEME.signer(key).sign(text.encode(), msg_id=msg_id, timestamp=stamp)
    b = SCHEME.signer(_whsec(key)).sign(text.encode(), msg_id=msg_id, timestamp=stamp)
    assert a == b
    assert standardwebhooks.Webhook(key).verify(text.encode(), a, json_parse=False) is None
