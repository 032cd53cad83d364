"""The Flask example receives real signed requests through Flask's test client."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _wh_helpers import HMAC_SECRET, OTHER_SECRET, event_body, load_example

from shipsync.flows import SQLiteEventLog
from shipsync.webhooks import StandardWebhooksScheme

example: Any = load_example("flask_receiver")
SCHEME = StandardWebhooksScheme()
URL = "/webhooks/shipsync"


def _signed(body: bytes, msg_id: str = "msg_fl", secret: str = HMAC_SECRET) -> dict[str, str]:
    headers = SCHEME.signer(secret).sign(body, msg_id=msg_id, timestamp=int(time.time()))
    return {"Content-Type": "application/json", **headers}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Any:
    app = example.create_app(example.build_receiver(data_dir, [HMAC_SECRET]), max_body_size=8192)
    return app.test_client()


def test_signed_delivery_is_stored_and_acknowledged(client: Any, data_dir: Path) -> None:
    """A genuine POST answers 200 accepted and its event is in the SQLite event log."""
    body = event_body("SHP-W", 1)
    response = client.post(URL, data=body, headers=_signed(body))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "accepted"
    log = SQLiteEventLog(data_dir / "events.db")
    try:
        assert [d.event.id for d in log.receive(10)] == response.get_json()["events"]
    finally:
        log.close()


def test_redelivery_is_a_duplicate(client: Any) -> None:
    """The same delivery twice: accepted, then duplicate, both 200."""
    body = event_body("SHP-W", 2)
    outcomes = [client.post(URL, data=body, headers=_signed(body)).get_json()["outcome"]]
    outcomes.append(client.post(URL, data=body, headers=_signed(body)).get_json()["outcome"])
    assert outcomes == ["accepted", "duplicate"]


def test_forgery_and_oversize_are_refused(client: Any) -> None:
    """Another secret's signature answers 400; a body over the limit answers 413."""
    body = event_body("SHP-W", 3)
    forged = client.post(URL, data=body, headers=_signed(body, secret=OTHER_SECRET))
    assert forged.status_code == 400
    assert forged.get_json()["reason"].startswith("NoMatchingSignatureError")
    assert client.post(URL, data=b"x" * 9000, headers=_signed(b"x" * 9000)).status_code == 413


def test_repeated_signature_header_is_malformed(client: Any) -> None:
    """A request carrying webhook-signature twice is refused as malformed."""
    body = event_body("SHP-W", 4)
    headers = [*_signed(body).items(), ("Webhook-Signature", "v1,AAAA")]
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 400
    assert "MalformedHeaderError" in response.get_json()["reason"]


def test_app_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """create_app_from_env reads the secrets and data directory from the environment."""
    monkeypatch.setenv("SHIPSYNC_WEBHOOK_SECRET", HMAC_SECRET)
    monkeypatch.setenv("SHIPSYNC_DATA_DIR", str(tmp_path / "env-data"))
    body = event_body("SHP-W", 5)
    client = example.create_app_from_env().test_client()
    assert client.post(URL, data=body, headers=_signed(body)).status_code == 200


def test_a_sink_that_breaks_answers_503_then_the_retry_is_stored_once() -> None:
    """A sink raising a foreign exception makes the endpoint answer 503 + Retry-After with a
    reason that names no internals; the sender's retry is stored exactly once."""
    from collections.abc import Sequence

    from shipsync.canonical import Event
    from shipsync.idempotency import MemoryStore
    from shipsync.webhooks import WebhookReceiver

    class BrokenOnceSink:
        def __init__(self) -> None:
            self.broken = True
            self.events: list[Event] = []

        def publish(self, events: Sequence[Event]) -> None:
            if self.broken:
                self.broken = False
                raise OSError("disk full at /srv/private/events.db")
            self.events.extend(events)

    sink = BrokenOnceSink()
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET), store=MemoryStore(), sink=sink, retry_after=11
    )
    client = example.create_app(receiver).test_client()
    body = event_body("SHP-FL", 9)
    down = client.post(URL, data=body, headers=_signed(body, "msg_broken"))
    assert (down.status_code, down.headers["Retry-After"]) == (503, "11")
    assert down.get_json()["reason"] == "deferred"
    assert "/srv/private" not in down.get_data(as_text=True)
    up = client.post(URL, data=body, headers=_signed(body, "msg_broken"))
    assert up.status_code == 200
    again = client.post(URL, data=body, headers=_signed(body, "msg_broken"))
    assert again.get_json()["outcome"] == "duplicate"
    assert len(sink.events) == 1
