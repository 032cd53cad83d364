"""How fast the RSA-SHA256 (ShipEngine) verifier checks deliveries, next to the HMAC schemes.

Run: ``python bench/webhooks_rsa.py``. On the same 1 KiB body, in deliveries per CPU-second of
this process (best of interleaved rounds, so other load disturbs it little):

* Stripe-style HMAC-SHA256 and Standard Webhooks ``v1a`` (Ed25519): the peers;
* RSA-SHA256 with a 2048-bit and a 4096-bit key (ShipEngine's scheme), keys held;
* a flood of unknown key ids against a ``JwksKeySource``: refusals per second and how many times
  the key endpoint was asked (the bound is one per refresh interval).

The machine load (``os.getloadavg``) is printed with the table: these figures are from a shared
machine and should be read beside each other, not as absolutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from shipsync.errors import NoMatchingSignatureError
from shipsync.webhooks import (
    SHIPENGINE_SCHEME,
    JwksKeySource,
    StandardWebhooksScheme,
    StaticRsaKeys,
    StripeScheme,
)

NOW = 1_767_600_000.0
BODY = json.dumps({"resource_type": "API_TRACK", "pad": "x" * 960}).encode()


def _clock() -> float:
    return NOW


def _rate(call: Callable[[], object], seconds: float = 0.4, rounds: int = 3) -> float:
    best = 0.0
    for _ in range(rounds):
        count = 0
        start = time.process_time()
        while (elapsed := time.process_time() - start) < seconds:
            for _ in range(20):
                call()
            count += 20
        best = max(best, count / elapsed)
    return best


def main() -> None:
    """Print the table."""
    rows: list[tuple[str, float, str]] = []
    stripe = StripeScheme()
    stripe_headers = stripe.signer("whsec_bench", clock=_clock).sign(BODY)
    stripe_verifier = stripe.verifier("whsec_bench", clock=_clock)
    rows.append(
        ("Stripe HMAC-SHA256", _rate(lambda: stripe_verifier.verify(BODY, stripe_headers)), "")
    )
    ed = ed25519.Ed25519PrivateKey.generate()
    standard = StandardWebhooksScheme()
    ed_headers = standard.signer(ed, clock=_clock).sign(BODY, msg_id="msg_1")
    ed_verifier = standard.verifier(ed.public_key(), clock=_clock)
    rows.append(("Standard v1a Ed25519", _rate(lambda: ed_verifier.verify(BODY, ed_headers)), ""))
    for bits in (2048, 4096):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        headers = SHIPENGINE_SCHEME.signer(key, key_id="k", clock=_clock).sign(BODY)
        verifier = SHIPENGINE_SCHEME.verifier(StaticRsaKeys({"k": key.public_key()}), clock=_clock)
        rows.append(
            (f"RSA-SHA256 {bits}-bit", _rate(lambda v=verifier, h=headers: v.verify(BODY, h)), "")
        )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = SHIPENGINE_SCHEME.signer(key, key_id="k", clock=_clock).sign(BODY)
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return b'{"keys": []}'

    source = JwksKeySource(fetch=fetch, refresh_interval=timedelta(minutes=5), clock=_clock)
    verifier = SHIPENGINE_SCHEME.verifier(source, clock=_clock)
    counter = iter(range(10**9))

    def forged() -> None:
        with contextlib.suppress(NoMatchingSignatureError):
            verifier.verify(
                BODY, {**headers, "x-shipengine-rsa-sha256-key-id": f"f{next(counter)}"}
            )

    rate = _rate(forged)
    rows.append(
        ("unknown key id flood", rate, f"{next(counter)} ids, endpoint asked {len(asked)}x")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average: {load}; cpus: {os.cpu_count()}")
    print(f"{'verifier':<24} {'deliveries/cpu-s':>18}  note")
    for name, value, note in rows:
        print(f"{name:<24} {value:>18,.0f}  {note}")


if __name__ == "__main__":
    main()
