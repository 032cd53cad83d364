"""Track Alert: our token endpoint, the stored-hashed tokens, and the receiver's scheme."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from ups_cases import WEBHOOK_OUT_FOR_DELIVERY, driver

from shipsync.canonical import Milestone
from shipsync.carriers.ups import USER_AGENT, TrackAlertScheme, TrackAlertTokens
from shipsync.carriers.ups.app import create_token_app
from shipsync.errors import (
    MalformedHeaderError,
    MissingHeaderError,
    NoMatchingSignatureError,
    WebhookSecretError,
)
from shipsync.idempotency import MemoryStore
from shipsync.webhooks import ReceiptOutcome, WebhookReceiver, tracking_parser

CLIENT_ID, SECRET = "ups-pushes", "s3cret:with colon&plus+"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_767_600_000.0

    def __call__(self) -> float:
        return self.now


def basic(client_id: str, secret: str) -> str:
    """``client_secret_basic`` as RFC 6749 2.3.1 encodes it."""
    from urllib.parse import quote_plus

    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def fetch(
    tokens: TrackAlertTokens, authorization: str | None, body: str = "grant_type=client_credentials"
) -> httpx.Response:
    """POST to the token endpoint in-process (httpx's ASGI transport, no socket)."""
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if authorization is not None:
        headers["authorization"] = authorization

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_token_app(tokens))
        async with httpx.AsyncClient(transport=transport, base_url="http://ours") as client:
            return await client.post("/oauth/token", content=body, headers=headers)

    return asyncio.run(go())


def test_the_endpoint_issues_a_short_lived_opaque_token_and_stores_only_its_hash() -> None:
    """Right credentials get a bearer token with no-store; the store never holds it in clear."""
    tokens = TrackAlertTokens(CLIENT_ID, SECRET, lifetime=600)
    response = fetch(tokens, basic(CLIENT_ID, SECRET))
    assert response.status_code == 200
    data = response.json()
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 600
    assert response.headers["cache-control"] == "no-store"
    assert tokens.is_live(data["access_token"])
    assert data["access_token"].encode() not in repr(vars(tokens)).encode()
    assert SECRET not in repr(vars(tokens))


@pytest.mark.parametrize(
    ("authorization", "body", "status", "error"),
    [
        (None, "grant_type=client_credentials", 401, "invalid_client"),
        (basic(CLIENT_ID, "wrong"), "grant_type=client_credentials", 401, "invalid_client"),
        (basic("other", SECRET), "grant_type=client_credentials", 401, "invalid_client"),
        ("Basic !!!notbase64", "grant_type=client_credentials", 401, "invalid_client"),
        ("Bearer abc", "grant_type=client_credentials", 401, "invalid_client"),
        (basic(CLIENT_ID, SECRET), "grant_type=password", 400, "unsupported_grant_type"),
        (basic(CLIENT_ID, SECRET), "", 400, "invalid_request"),
        (basic(CLIENT_ID, SECRET), "grant_type=a&grant_type=b", 400, "invalid_request"),
        (basic(CLIENT_ID, SECRET), "x" * 5000, 413, "invalid_request"),
    ],
)
def test_the_endpoint_refuses_bad_clients_and_grants(
    authorization: str | None, body: str, status: int, error: str
) -> None:
    """Wrong or missing credentials are 401 with a challenge; other grants 400; nothing issued."""
    tokens = TrackAlertTokens(CLIENT_ID, SECRET)
    response = fetch(tokens, authorization, body)
    assert response.status_code == status
    assert response.json()["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")
    assert "access_token" not in response.json()


def _push_headers(
    token: str, client_id: str = CLIENT_ID, agent: str = USER_AGENT
) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "x-api-key": client_id, "user-agent": agent}


def test_the_scheme_accepts_only_a_live_token_from_ups() -> None:
    """A live token with the client id and UPS's User-Agent passes; expiry, others fail."""
    clock = Clock()
    tokens = TrackAlertTokens(CLIENT_ID, SECRET, lifetime=60, clock=clock)
    verifier = TrackAlertScheme(tokens).verifier(CLIENT_ID)
    token, _ = tokens.issue()
    body = json.dumps(WEBHOOK_OUT_FOR_DELIVERY).encode()
    assert verifier.verify(body, _push_headers(token)).scheme == "ups-track-alert"
    with pytest.raises(NoMatchingSignatureError):
        verifier.verify(body, _push_headers("forged"))
    with pytest.raises(NoMatchingSignatureError):
        verifier.verify(body, _push_headers(token, client_id="someone-else"))
    with pytest.raises(NoMatchingSignatureError):
        verifier.verify(body, _push_headers(token, agent="curl/8"))
    with pytest.raises(MalformedHeaderError):
        verifier.verify(body, {**_push_headers(token), "authorization": f"Basic {token}"})
    with pytest.raises(MissingHeaderError):
        verifier.verify(body, {"authorization": f"Bearer {token}", "user-agent": USER_AGENT})
    clock.now += 61
    with pytest.raises(NoMatchingSignatureError):
        verifier.verify(body, _push_headers(token))
    tokens.issue()
    tokens.revoke_all()
    assert not tokens.is_live(token)


def test_a_scheme_without_tokens_or_with_bad_secrets_fails_closed() -> None:
    """No token store, an empty client id or a signer request is a WebhookSecretError."""
    with pytest.raises(WebhookSecretError):
        TrackAlertScheme().verifier(CLIENT_ID)
    with pytest.raises(WebhookSecretError):
        TrackAlertScheme(TrackAlertTokens(CLIENT_ID, SECRET)).verifier("")
    with pytest.raises(WebhookSecretError):
        TrackAlertScheme().signer("x")
    with pytest.raises(WebhookSecretError):
        TrackAlertTokens("", SECRET)


class ListSink:
    """Keeps what the receiver hands off."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def publish(self, events: object) -> None:
        self.events.extend(events)  # type: ignore[call-overload]


def test_the_receiver_takes_a_push_end_to_end_through_our_token() -> None:
    """UPS fetches a token from us, pushes with it, and the receiver hands off one event once."""
    tokens = TrackAlertTokens(CLIENT_ID, SECRET)
    token = fetch(tokens, basic(CLIENT_ID, SECRET)).json()["access_token"]
    ups = driver()
    sink = ListSink()
    receiver = WebhookReceiver(
        TrackAlertScheme(tokens).verifier(CLIENT_ID),
        store=MemoryStore(),
        sink=sink,
        parser=tracking_parser(ups.parse_webhook, source="ups"),
        name="ups-track-alert",
    )
    body = json.dumps(WEBHOOK_OUT_FOR_DELIVERY).encode()
    first = receiver.receive(body, _push_headers(token))
    again = receiver.receive(body, _push_headers(token))
    refused = receiver.receive(body, _push_headers("stolen"))
    assert first.outcome is ReceiptOutcome.ACCEPTED
    assert again.status == 200
    assert refused.status >= 400
    assert len(sink.events) == 1
    assert sink.events[0].data.milestone is Milestone.OUT_FOR_DELIVERY
