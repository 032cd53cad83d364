"""How fast shipsync verifies and receives webhooks, next to the reference and bare primitives.

Run: ``python bench/webhooks.py`` (one process, one core). Everything is measured in the same run
on the same bytes: canonical event envelopes padded to 1 KiB and 16 KiB, signed the Standard
Webhooks way at the current time. Rows:

* Standard Webhooks ``v1`` verify: ours, the reference ``standardwebhooks`` package's
  ``Webhook.verify(json_parse=False)``, and a bare ``hmac.new(...).digest()`` +
  ``hmac.compare_digest`` over the pre-built signed content (the ceiling: no headers, no checks);
* ``v1a`` (Ed25519) verify: ours and a bare ``cryptography`` ``Ed25519PublicKey.verify``;
* the full receive path at 1 KiB: verify + size limit + ``parse_event`` + dedupe claim/complete
  in the memory store + hand-off to an in-memory sink, for a new delivery each time (and again
  with a sink that keeps the latest 1,000 events alive, to show what that costs); next to the
  reference's verify with its JSON parse (``json_parse=True``).

Contenders run in interleaved batches (ours, theirs, ours, theirs, ...; who goes first alternates
where the bytes are fresh) and each figure is the fastest batch, in microseconds and operations
per second: on a shared machine that is the batch nothing preempted, and interleaving keeps the
ratios honest when the load changes. The ratio column is their time over ours, the form the
targets are stated in: our v1 verify >= 1.5x the reference at 1 KiB and >= 0.5x the bare-HMAC
ceiling; Ed25519 >= 0.9x bare ``cryptography``; the full receive path >= 1.0x the reference's
verify + JSON parse. The last line counts the targets met.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import json
import platform
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import standardwebhooks
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shipsync.canonical import Event, TrackingEvent, event_for_tracking
from shipsync.canonical import Milestone as M
from shipsync.idempotency import MemoryStore
from shipsync.webhooks import StandardWebhooksScheme, WebhookReceiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes
SCHEME = StandardWebhooksScheme()
HEADERS_BASE = {
    "Host": "hooks.example.com",
    "User-Agent": "Svix-Webhooks/1.24",
    "Content-Type": "application/json",
    "Accept": "*/*",
}


def envelope(size: int, n: int = 0) -> bytes:
    """A valid milestone event envelope padded to exactly ``size`` bytes.

    The padding goes into the carrier's free-text description (up to its 4,000 characters), and
    beyond that into a CloudEvents extension attribute (``xpad``), which the envelope keeps.
    """
    when = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    def build(description: str, extension: str) -> bytes:
        tracking = TrackingEvent(
            event_id=f"EV-{n}",
            shipment_id=f"SHP-{n}",
            tracking_number=f"TN{n}",
            carrier="fake",
            milestone=M.IN_TRANSIT,
            occurred_at=when,
            recorded_at=when,
            carrier_code="IT",
            carrier_description=description,
        )
        event = event_for_tracking(tracking, source="shipsync/bench")
        if not extension:
            return event.model_dump_json().encode()
        obj = json.loads(event.model_dump_json())
        return json.dumps({**obj, "xpad": extension}, separators=(",", ":")).encode()

    room = size - len(build("", ""))
    if room <= 4000:
        body = build("x" * room, "")
    else:
        rest = size - len(build("x" * 4000, "x"))
        body = build("x" * 4000, "x" * (rest + 1))
    assert len(body) == size, (len(body), size)
    return body


def race(
    contenders: dict[str, Callable[[], object]], batches: int, batch: int = 100
) -> dict[str, float]:
    """Best seconds per call of each contender over ``batches`` interleaved batches.

    Each contender runs ``batch`` calls in turn (A B C, A B C, ...), and the fastest batch counts:
    on a shared machine the fastest batch is the one nothing preempted, and interleaving exposes
    every contender to the same load, so the ratios hold even when the absolute figures wander.
    """
    best = dict.fromkeys(contenders, float("inf"))
    gc.disable()
    try:
        for _ in range(batches):
            for name, fn in contenders.items():
                start = time.perf_counter()
                for _ in range(batch):
                    fn()
                best[name] = min(best[name], (time.perf_counter() - start) / batch)
    finally:
        gc.enable()
    return best


def envelope_delivery(signer: object) -> tuple[bytes, dict[str, str]]:
    """One extra signed delivery, to check the receiver accepts what the benchmark sends."""
    body = envelope(1024, -1)
    headers = signer.sign(body, msg_id="msg_check", timestamp=int(time.time()))  # type: ignore[attr-defined]
    return body, {**HEADERS_BASE, **headers}


class MemorySink:
    """An in-memory sink: counts the events and holds the latest batch.

    A real sink writes the events out (an event log, a queue) and lets the objects go; this one
    does the same minus the write, so the figure is the receive path's own cost.
    """

    def __init__(self) -> None:
        self.latest: Sequence[Event] = ()
        self.published = 0

    def publish(self, events: Sequence[Event]) -> None:
        self.latest = events
        self.published += len(events)


class RetainingSink(MemorySink):
    """An in-memory sink that also keeps the latest 1,000 events alive (a queue not yet drained).

    Keeping thousands of parsed events alive costs every later allocation cache misses; the
    extra row shows how much, for hosts that buffer events in memory.
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: deque[Event] = deque(maxlen=1000)

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
        self.published += len(events)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="interleaved batches per row")
    parser.add_argument("--batch", type=int, default=100, help="calls per batch")
    args = parser.parse_args(argv)
    batches, batch = args.batches, args.batch

    reference = standardwebhooks.Webhook(SECRET)
    verifier = SCHEME.verifier(SECRET)
    key = reference._whsecret
    rows: list[tuple[str, float, str, float, float | None]] = []

    for size in (1024, 16 * 1024):
        body = envelope(size)
        stamp = int(time.time())
        signed = SCHEME.signer(SECRET).sign(body, msg_id="msg_1", timestamp=stamp)
        headers = {**HEADERS_BASE, **signed}
        content = b"msg_1." + str(stamp).encode() + b"." + body
        expected = hmac.new(key, content, hashlib.sha256).digest()
        assert verifier.verify(body, headers).delivery_id == "msg_1"
        reference.verify(body, headers, json_parse=False)

        def bare(c: bytes = content, e: bytes = expected) -> bool:
            return hmac.compare_digest(hmac.new(key, c, hashlib.sha256).digest(), e)

        got = race(
            {
                "ours": lambda b=body, h=headers: verifier.verify(b, h),
                "ref": lambda b=body, h=headers: reference.verify(b, h, json_parse=False),
                "bare": bare,
            },
            batches,
            batch,
        )
        kib = size // 1024
        first = kib == 1
        label = f"v1 verify {kib} KiB"
        rows.append((label, got["ours"], "standardwebhooks", got["ref"], 1.5 if first else None))
        rows.append((label, got["ours"], "bare hmac ceiling", got["bare"], 0.5 if first else None))

    # Ed25519 (v1a) at 1 KiB
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    body = envelope(1024)
    stamp = int(time.time())
    signed = SCHEME.signer(private).sign(body, msg_id="msg_1", timestamp=stamp)
    headers = {**HEADERS_BASE, **signed}
    content = b"msg_1." + str(stamp).encode() + b"." + body
    signature = private.sign(content)
    ed_verifier = SCHEME.verifier(public)
    got = race(
        {
            "ours": lambda: ed_verifier.verify(body, headers),
            "bare": lambda: public.verify(signature, content),
        },
        max(batches // 10, 20),
        batch // 5 or 1,
    )
    rows.append(("v1a verify 1 KiB", got["ours"], "bare cryptography", got["bare"], 0.9))

    # The full receive path at 1 KiB: a fresh delivery (new id, new body) every time, so that
    # no delivery is a duplicate; the reference verifies and parses the very same batch.
    stamp = int(time.time())
    signer = SCHEME.signer(SECRET)
    deliveries = []
    for i in range(batches * batch):
        body = envelope(1024, i)
        hdrs = {**HEADERS_BASE, **signer.sign(body, msg_id=f"msg_{i}", timestamp=stamp)}
        deliveries.append((body, hdrs))
    for sink_cls, label, target in (
        (MemorySink, "full receive 1 KiB", 1.0),
        (RetainingSink, "  sink keeps 1,000", None),
    ):
        receiver = WebhookReceiver(verifier, store=MemoryStore(), sink=sink_cls())
        assert receiver.receive(*envelope_delivery(signer)).status == 200
        full = ref_json = float("inf")
        gc.disable()
        try:
            for index, start_at in enumerate(range(0, len(deliveries), batch)):
                chunk = deliveries[start_at : start_at + batch]
                # Alternate who goes first, so neither always meets the chunk's bytes cold.
                for who in ("ours", "ref") if index % 2 else ("ref", "ours"):
                    start = time.perf_counter()
                    if who == "ours":
                        for body, hdrs in chunk:
                            receiver.receive(body, hdrs)
                        full = min(full, (time.perf_counter() - start) / batch)
                    else:
                        for body, hdrs in chunk:
                            reference.verify(body, hdrs)
                        ref_json = min(ref_json, (time.perf_counter() - start) / batch)
        finally:
            gc.enable()
        assert receiver._sink.published == len(deliveries) + 1  # type: ignore[attr-defined]
        rows.append((label, full, "ref verify+json", ref_json, target))

    print(f"shipsync webhooks benchmark — Python {platform.python_version()}, {platform.machine()}")
    print(f"{batches} interleaved batches of {batch} calls per row; fastest batch shown\n")
    header = (
        f"{'measure':<22}{'ours µs':>9}{'ours op/s':>12}  {'versus':<20}{'µs':>8}{'op/s':>11}"
        f"{'ratio':>8}  {'target':<10}"
    )
    print(header)
    print("-" * len(header))
    failed = 0
    for label, ours_s, versus, theirs_s, target in rows:
        ratio = theirs_s / ours_s
        mark = ""
        if target is not None:
            ok = ratio >= target
            failed += not ok
            mark = f">={target:g}x {'ok' if ok else 'MISS'}"
        print(
            f"{label:<22}{ours_s * 1e6:>9.2f}{1 / ours_s:>12,.0f}  {versus:<20}"
            f"{theirs_s * 1e6:>8.2f}{1 / theirs_s:>11,.0f}{ratio:>7.2f}x  {mark}"
        )
    print("\nratio = their time / our time (higher is better for us)")
    targets = sum(1 for row in rows if row[4] is not None)
    print(f"targets met: {targets - failed} of {targets}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
