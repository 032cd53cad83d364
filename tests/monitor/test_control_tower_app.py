"""The control tower's guard, its command and its demo hook, without a browser."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.errors import ConfigurationError
from shipsync.monitor import MonitorStore
from shipsync.monitor.web import TowerAuth, control_tower_for, create_app, serve_in_background
from shipsync.testing.sample_flow import SampleFlow

from .conftest import Populated

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def store(populated: Populated) -> MonitorStore:
    return MonitorStore(populated.store)


async def test_without_credentials_only_loopback_clients_are_answered(store: MonitorStore) -> None:
    """With no auth configured, a request from another machine gets 403, a local one 200."""
    app = create_app(store)
    far = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    near = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=far, base_url="http://tower") as client:
        assert (await client.get("/")).status_code == 403
    async with httpx.AsyncClient(transport=near, base_url="http://tower") as client:
        answer = await client.get("/api/indicators")
    assert answer.status_code == 200
    assert answer.json()["values"]["shipments"] == 40
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    store.close()


async def test_with_credentials_every_request_needs_them(store: MonitorStore) -> None:
    """With a token and basic credentials, a request needs one of them, from anywhere."""
    auth = TowerAuth(token=TOKEN, username="ops", password="correct horse battery")
    app = create_app(store, auth=auth)
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    basic = base64.b64encode(b"ops:correct horse battery").decode()
    wrong = base64.b64encode(b"ops:guess").decode()
    async with httpx.AsyncClient(transport=transport, base_url="http://tower") as client:
        assert (await client.get("/")).status_code == 401
        assert (await client.get("/", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (
            await client.get("/", headers={"Authorization": f"Basic {wrong}"})
        ).status_code == 401
        assert (
            await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
        ).status_code == 200
        assert (
            await client.get("/", headers={"Authorization": f"Basic {basic}"})
        ).status_code == 200
    assert TOKEN not in repr(auth)
    store.close()


def test_serving_beyond_loopback_without_credentials_is_refused(populated: Populated) -> None:
    """``serve --host 0.0.0.0`` without credentials refuses to start, naming the fix."""
    result = CliRunner().invoke(
        main, ["control-tower", "serve", "--store", str(populated.store), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 1
    assert "bearer token or basic credentials" in result.output
    with pytest.raises(ConfigurationError):
        TowerAuth(token="short")
    missing = CliRunner().invoke(
        main,
        ["control-tower", "serve", "--store", str(populated.store), "--token-env", "NO_SUCH_VAR"],
    )
    assert missing.exit_code == 1
    assert "NO_SUCH_VAR" in missing.output


def test_the_demo_hook_serves_the_page_while_a_flow_fills_it(tmp_path: Path) -> None:
    """``control_tower_for`` subscribes a monitor and serves a page that follows the flow."""
    flow = SampleFlow(tmp_path, shipments=8)
    store = MonitorStore(tmp_path / "monitor.db")
    try:
        with control_tower_for(
            flow.dispatcher,
            store=store,
            dead_letters=flow.dead_letters,
            sink=flow.log,
            clock=flow.now,
        ) as (monitor, running):
            before = httpx.get(running.url + "/api/indicators").json()["values"]["shipments"]
            flow.run(hours=48)
            after = httpx.get(running.url + "/api/indicators").json()["values"]
            assert before == 0
            assert after["shipments"] == 8 == monitor.indicators().shipments
    finally:
        flow.close()
        store.close()


def test_a_tower_refuses_to_serve_beyond_loopback_without_auth(store: MonitorStore) -> None:
    """``serve_in_background`` on a public address without auth raises before listening."""
    with pytest.raises(ConfigurationError), serve_in_background(create_app(store), host="0.0.0.0"):
        pass
    store.close()


async def test_a_store_that_went_away_is_a_503_page(tmp_path: Path) -> None:
    """When the store fails, pages answer 503 naming the error class, not a stack trace."""
    store = MonitorStore(tmp_path / "m.db")
    app = create_app(store)
    store.close()  # every query now fails inside the store
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tower") as client:
        answer = await client.get("/")
    assert answer.status_code == 503
    assert "UnavailableError" in answer.text
