"""The FastAPI example receives real signed requests through FastAPI's test client."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _wh_helpers import HMAC_SECRET, OTHER_SECRET, event_body, load_example

from shipsync.canonical import Event
from shipsync.errors import EventLogUnavailableError
from shipsync.flows import SQLiteEventLog
from shipsync.idempotency import AsyncMemoryStore
from shipsync.webhooks import AsyncWebhookReceiver, StandardWebhooksScheme

with warnings.catch_warnings():
    # Starlette deprecates its test client on httpx in favour of httpx2, which this environment
    # does not have; the client itself works unchanged.
    warnings.filterwarnings("ignore", message=".*install `httpx2`", category=UserWarning)
    from fastapi.testclient import TestClient

example: Any = load_example("fastapi_receiver")
SCHEME = StandardWebhooksScheme()
URL = "/webhooks/shipsync"


def _signed(body: bytes, msg_id: str = "msg_fa", secret: str = HMAC_SECRET) -> dict[str, str]:
    headers = SCHEME.signer(secret).sign(body, msg_id=msg_id, timestamp=int(time.time()))
    return {"Content-Type": "application/json", **{k.title(): v for k, v in headers.items()}}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Any:
    app = example.create_app(example.build_receiver(data_dir, [HMAC_SECRET]), max_body_size=8192)
    with TestClient(app) as test_client:
        yield test_client


def test_signed_delivery_is_stored_in_the_event_log_and_acknowledged(
    client: TestClient, data_dir: Path
) -> None:
    """A genuine POST answers 200 accepted, and its event is durably in the SQLite event log."""
    body = event_body("SHP-F", 1)
    response = client.post(URL, content=body, headers=_signed(body))
    assert response.status_code == 200
    assert response.json()["outcome"] == "accepted"
    log = SQLiteEventLog(data_dir / "events.db")
    try:
        deliveries = log.receive(10)
        assert [d.event.id for d in deliveries] == response.json()["events"]
    finally:
        log.close()


def test_redelivery_is_a_duplicate(client: TestClient) -> None:
    """The same delivery posted twice answers 200 both times, the second as a duplicate."""
    body = event_body("SHP-F", 2)
    first = client.post(URL, content=body, headers=_signed(body))
    second = client.post(URL, content=body, headers=_signed(body))
    assert (first.json()["outcome"], second.json()["outcome"]) == ("accepted", "duplicate")
    assert second.status_code == 200


@pytest.mark.parametrize(
    ("mutate", "status", "reason"),
    [
        (lambda b, h: (b + b" ", h), 400, "NoMatchingSignatureError"),
        (lambda b, h: (b, _signed(b, secret=OTHER_SECRET)), 400, "NoMatchingSignatureError"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "Webhook-Id"}), 400, "Missing"),
        (lambda b, h: (b"x" * 9000, h), 413, ""),
        (lambda b, h: (b"{}", _signed(b"{}")), 400, "WebhookPayloadError"),
    ],
    ids=["tampered", "other-secret", "missing-id", "too-large", "not-an-event"],
)
def test_bad_requests_get_4xx(client: TestClient, mutate: Any, status: int, reason: str) -> None:
    """Forgeries, oversized and unreadable bodies get the right 4xx and a safe reason."""
    body = event_body("SHP-F", 3)
    body, headers = mutate(body, _signed(body))
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == status
    assert reason in response.json()["reason"]
    assert HMAC_SECRET[6:] not in response.text


def test_sink_outage_answers_503_with_retry_after_then_recovers() -> None:
    """When the sink is down the endpoint answers 503 + Retry-After; the retry is processed."""

    class FlakySink:
        def __init__(self) -> None:
            self.down = True
            self.events: list[Event] = []

        async def publish(self, events: Sequence[Event]) -> None:
            if self.down:
                self.down = False
                raise EventLogUnavailableError("log down")
            self.events.extend(events)

    sink = FlakySink()
    receiver = AsyncWebhookReceiver(
        SCHEME.verifier(HMAC_SECRET), store=AsyncMemoryStore(), sink=sink, retry_after=7
    )
    body = event_body("SHP-F", 4)
    with TestClient(example.create_app(receiver)) as client:
        down = client.post(URL, content=body, headers=_signed(body))
        assert (down.status_code, down.headers["retry-after"]) == (503, "7")
        assert down.json()["outcome"] == "deferred"
        up = client.post(URL, content=body, headers=_signed(body))
        assert up.status_code == 200
    assert len(sink.events) == 1


def test_app_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """create_app_from_env reads the secrets and data directory from the environment."""
    monkeypatch.setenv("SHIPSYNC_WEBHOOK_SECRET", f"{OTHER_SECRET} {HMAC_SECRET}")
    monkeypatch.setenv("SHIPSYNC_DATA_DIR", str(tmp_path / "env-data"))
    body = event_body("SHP-F", 5)
    with TestClient(example.create_app_from_env()) as client:
        assert client.post(URL, content=body, headers=_signed(body)).status_code == 200
    assert (tmp_path / "env-data" / "events.db").exists()
