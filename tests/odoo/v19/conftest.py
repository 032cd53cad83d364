"""Fixtures for running the Odoo tests against Odoo 19 over JSON-2, replayed from cassettes.

The test modules here import test functions from ``tests/odoo`` so the very same tests run on
Odoo 19; these fixtures replace the parent's ``cassette``, ``gateway`` and ``run_tag`` with a
:class:`~shipsync.odoo.Json2Gateway` and this folder's ``cassettes/``.

Replay (the default, used by CI): no server is needed. Live (re-recording): set ``ODOO_URL``,
``ODOO_DB`` and ``ODOO_API_KEY`` (a key of an administrator) for an Odoo 19 server, and run
this folder only. Cassettes hold no secret: the ``Authorization`` and ``X-Odoo-Database``
headers are dropped, and Odoo's tracebacks (``debug``) are emptied.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import vcr

from shipsync.odoo import Json2Gateway, RetryPolicy, RpcGateway

CASSETTES = Path(__file__).parent / "cassettes"
TAG_FILE = CASSETTES / "run_tag.txt"
LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_API_KEY"))
REPLAY_URL = "http://127.0.0.1:8070"
REPLAY_KEY = "odoo-api-key"


def _json(body: bytes | str | None) -> Any:
    """The request body, with JSON-RPC's random id dropped and its credentials as placeholders
    (JSON-2 bodies carry none: the key and database travel in headers)."""
    if not body:
        return None
    data = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    if isinstance(data, dict) and "jsonrpc" in data:
        data.pop("id", None)
        params = data.get("params") or {}
        args = params.get("args")
        if params.get("service") in {"common", "object"} and isinstance(args, list) and args:
            args[0] = "<db>"
            if len(args) > 2:
                args[2] = "<secret>"
            if params.get("method") in {"login", "authenticate"} and len(args) > 1:
                args[1] = "<login>"
    return _hide_passwords(data)


def _hide_passwords(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<secret>" if k in {"password", "new_password"} else _hide_passwords(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hide_passwords(v) for v in value]
    return value


def _host() -> str:
    return urlsplit(os.environ["ODOO_URL"] if LIVE else REPLAY_URL).hostname or ""


def _scrub_request(request: Any) -> Any:
    if request.host != _host():
        return None  # not Odoo (the in-process fake carrier): neither recorded nor replayed
    for header in ("Cookie", "Authorization", "X-Odoo-Database"):
        request.headers.pop(header, None)
    if request.body:
        request.body = json.dumps(_json(request.body), sort_keys=True).encode("utf-8")
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for header in list(headers):
        if header.lower() in {"set-cookie", "date", "server"}:
            headers.pop(header)
    body = response.get("body", {}).get("string")
    if body and b'"debug"' in (body if isinstance(body, bytes) else body.encode()):
        # Odoo's traceback names local paths and quotes Odoo's source: drop it.
        data = json.loads(body)
        if isinstance(data, dict) and "debug" in data:
            data["debug"] = ""
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            data["error"].get("data", {})["debug"] = ""
        text = json.dumps(data)
        response["body"]["string"] = text.encode() if isinstance(body, bytes) else text
        for header in list(headers):
            if header.lower() == "content-length":
                headers[header] = [str(len(text.encode()))]
    return response


def _json_body_matcher(r1: Any, r2: Any) -> None:
    assert _json(r1.body) == _json(r2.body), "JSON-2 bodies differ"


def _recorder() -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if LIVE else "none",
        match_on=["method", "path", "json_body"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_body", _json_body_matcher)
    return recorder


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A tag that makes this recording's names unique; replay reads the recorded one."""
    if LIVE:
        tag = "19" + time.strftime("%m%d%H%M%S")
        CASSETTES.mkdir(exist_ok=True)
        TAG_FILE.write_text(tag + "\n", encoding="utf-8")
        return tag
    return TAG_FILE.read_text(encoding="utf-8").strip()


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's Odoo 19 cassette, in use for the whole test."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    if LIVE:
        (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
    with _recorder().use_cassette(f"{name}.yaml") as active:
        yield active
        if not LIVE:
            unplayed = len(active.data) - active.play_count
            assert active.all_played, f"{unplayed} recorded request(s) were not sent"


def connect19() -> Json2Gateway:
    """A JSON-2 gateway on the live Odoo 19, or on the cassette with a placeholder key."""
    retry = RetryPolicy(initial=0, maximum=0)
    if LIVE:
        return Json2Gateway(
            os.environ["ODOO_URL"], os.environ["ODOO_DB"], os.environ["ODOO_API_KEY"], retry=retry
        )
    return Json2Gateway(REPLAY_URL, "odoo-db", REPLAY_KEY, retry=retry)


def rpc19(login: str | None = None, password: str | None = None) -> RpcGateway:
    """A JSON-RPC gateway on the same Odoo 19 (an API key is also a JSON-RPC password)."""
    retry = RetryPolicy(initial=0, maximum=0)
    if LIVE:
        return RpcGateway(
            os.environ["ODOO_URL"],
            os.environ["ODOO_DB"],
            login or os.environ.get("ODOO_USER", "admin"),
            password or os.environ["ODOO_API_KEY"],
            retry=retry,
        )
    return RpcGateway(
        REPLAY_URL, "odoo-db", login or "odoo-user", password or REPLAY_KEY, retry=retry
    )


@pytest.fixture
def target() -> tuple[str, str]:
    """The server URL and database the tests talk to (placeholders in replay)."""
    if LIVE:
        return os.environ["ODOO_URL"], os.environ["ODOO_DB"]
    return REPLAY_URL, "odoo-db"


@pytest.fixture
def gateway(cassette: Any) -> Iterator[Json2Gateway]:
    """A connected JSON-2 gateway (two requests: version and the key's user)."""
    with connect19() as connected:
        yield connected


@pytest.fixture(scope="module")
def tag() -> str:
    """The source tests' own run tag (``cassettes/source_run_tag.txt``), as in tests/odoo."""
    tag_file = CASSETTES / "source_run_tag.txt"
    if LIVE:
        value = "src19" + time.strftime("%m%d%H%M%S")
        tag_file.write_text(value + "\n", encoding="utf-8")
        return value
    return tag_file.read_text(encoding="utf-8").strip()
