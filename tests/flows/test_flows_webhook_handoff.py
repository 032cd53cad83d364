"""The webhook receiver's sink is the event log: a 200 means the events are durable in the log."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

from shipsync.flows import SQLiteEventLog
from shipsync.idempotency import MemoryStore
from shipsync.testing.flows import make_tracking_event
from shipsync.webhooks import ReceiptOutcome, StandardWebhooksScheme, WebhookReceiver

SCHEME = StandardWebhooksScheme()
SECRET = "whsec_" + base64.b64encode(b"f" * 24).decode()
NOW = 1_800_000_000


def test_a_webhook_is_acknowledged_only_once_its_events_are_in_the_log(tmp_path: Path) -> None:
    """While the log cannot take the events the receiver answers 503 and keeps nothing; the
    sender's retry is then accepted, and another process's handle on the log finds the event."""
    path = tmp_path / "log.db"
    log = SQLiteEventLog(path, timeout=0.05)
    receiver = WebhookReceiver(
        SCHEME.verifier(SECRET, clock=lambda: NOW), store=MemoryStore(), sink=log
    )
    event = make_tracking_event("S1", 1)
    body = event.model_dump_json().encode()
    headers = SCHEME.signer(SECRET).sign(body, msg_id="msg_1", timestamp=NOW)

    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: publish fails
    try:
        refused = receiver.receive(body, headers)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert refused.status == 503
    assert log.pending() == 0

    accepted = receiver.receive(body, headers)
    assert (accepted.outcome, accepted.status) == (ReceiptOutcome.ACCEPTED, 200)
    log.close()
    with SQLiteEventLog(path) as reader:
        (delivery,) = reader.receive(10)
        assert delivery.event == event
