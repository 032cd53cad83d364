"""What the clients' per-client HTTP shortcuts must not change: cookies and request URLs.

A client that makes its own httpx client skips the cookie jar for answers that set no cookie
and parses each request URL once; these tests pin that cookies still round-trip and that every
request still goes to its own URL, however many distinct paths a client sends.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest

from shipsync.carriers import AsyncCarrierClient, CarrierClient, SleepRecorder
from shipsync.carriers._client import _URL_CACHE
from shipsync.carriers.fake import FakeDriver


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(mode: str, handler: Any, **kwargs: Any) -> Any:
    transport = httpx.MockTransport(handler)
    kwargs.setdefault("sleeper", SleepRecorder())
    if mode == "sync":
        return CarrierClient(FakeDriver(), transport=transport, **kwargs)
    return AsyncCarrierClient(FakeDriver(), transport=transport, **kwargs)


async def call(client: Any, name: str, *args: Any) -> Any:
    result = getattr(client, name)(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def carrier(seen: list[tuple[str, str | None]], *, set_cookie: bool) -> Any:
    """Token endpoint plus ``/v1/tracking/{n}``; records (path, Cookie header) of each request."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("cookie")))
        if request.url.path == "/oauth/token":
            headers = {"set-cookie": "lb=node-7; Path=/"} if set_cookie else {}
            body = {"access_token": "tok", "expires_in": 3600}
            return httpx.Response(200, json=body, headers=headers)
        number = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"reference": number, "events": []})

    return handle


async def test_a_cookie_the_carrier_sets_is_sent_back(mode: str) -> None:
    """A ``Set-Cookie`` on one answer is stored and sent with the next request, as httpx does."""
    seen: list[tuple[str, str | None]] = []
    client = make(mode, carrier(seen, set_cookie=True))
    await call(client, "track", "FK1")
    await call(client, "track", "FK2")
    assert seen == [
        ("/oauth/token", None),
        ("/v1/tracking/FK1", "lb=node-7"),
        ("/v1/tracking/FK2", "lb=node-7"),
    ]
    assert dict(client.http.cookies) == {"lb": "node-7"}


async def test_cookies_set_on_the_client_are_sent_and_kept(mode: str) -> None:
    """Cookies given to ``client.http.cookies`` go out, and answers without cookies keep them."""
    seen: list[tuple[str, str | None]] = []
    client = make(mode, carrier(seen, set_cookie=False))
    client.http.cookies = {"session": "abc"}
    await call(client, "track", "FK1")
    await call(client, "track", "FK2")
    assert [cookie for _, cookie in seen] == ["session=abc"] * 3
    assert dict(client.http.cookies) == {"session": "abc"}


async def test_every_request_goes_to_its_own_url_past_the_url_cache(mode: str) -> None:
    """Tracking more distinct numbers than the client keeps parsed URLs for still sends each
    request to its own path (and its own answer comes back), twice over."""
    seen: list[tuple[str, str | None]] = []
    client = make(mode, carrier(seen, set_cookie=False))
    numbers = [f"FK{i:05d}" for i in range(_URL_CACHE + 5)]
    for number in [*numbers, *reversed(numbers)]:
        events = await call(client, "track", number)
        assert events == []
    paths = [path for path, _ in seen if path != "/oauth/token"]
    assert paths == [f"/v1/tracking/{n}" for n in [*numbers, *reversed(numbers)]]


async def test_a_base_url_with_a_path_and_query_parameters_survive(mode: str) -> None:
    """The parsed URL keeps the base URL's own path, and query parameters are added per call."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        return httpx.Response(200, content=json.dumps({"invoices": []}).encode())

    client = make(mode, handle, base_url="http://carrier.invalid/api/v2/")
    await call(client, "fetch_invoices")
    await call(client, "fetch_invoices")
    assert seen[0] == "http://carrier.invalid/api/v2/oauth/token"
    assert seen[1] == seen[2]
    assert seen[1].startswith("http://carrier.invalid/api/v2/v1/invoices")
