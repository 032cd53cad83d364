"""The recorded cassettes hold no secret: credentials, cookies, sessions, tracebacks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

CASSETTES = [
    *sorted((Path(__file__).parent / "cassettes").glob("*.yaml")),
    *sorted((Path(__file__).parent / "v17" / "cassettes").glob("*.yaml")),
    *sorted((Path(__file__).parent / "v19" / "cassettes").glob("*.yaml")),
]
SECRET_KEYS = {"password", "new_password", "api_key", "apikey", "key", "token", "secret"}
SECRET_TEXT = re.compile(r"session_id|whsec_|Bearer |set-cookie|\"debug\": \"[^\"]", re.IGNORECASE)


def _interactions(path: Path) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions


def _secret_values(value: Any) -> list[Any]:
    """Every value under a secret-looking key, at any depth."""
    found: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS:
                found.append(item)
            found += _secret_values(item)
    elif isinstance(value, list):
        for item in value:
            found += _secret_values(item)
    return found


def test_there_are_cassettes_to_replay() -> None:
    """The replay suite has its recordings (a missing folder would skip nothing silently)."""
    assert len(CASSETTES) >= 20


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem[:60])
def test_a_cassette_holds_no_credentials_cookies_or_sessions(path: Path) -> None:
    """Database, login and password are placeholders; no cookie, session or traceback."""
    text = path.read_text(encoding="utf-8")
    assert not SECRET_TEXT.search(text)
    for interaction in _interactions(path):
        request, response = interaction["request"], interaction["response"]
        headers = {name.lower() for name in request.get("headers", {})}
        assert not headers & {"cookie", "authorization", "x-odoo-database"}
        assert not {name.lower() for name in response.get("headers", {})} & {"set-cookie"}
        if not request.get("body"):
            continue
        body = json.loads(request["body"])
        params = body.get("params") or {}
        args = params.get("args")
        if params.get("service") in {"common", "object"}:
            assert args[0] == "<db>"
            if len(args) > 2:
                assert args[2] == "<secret>"
        assert all(value in ("<secret>", False) for value in _secret_values(body))


@pytest.mark.skipif(
    not all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD")),
    reason="live mode only",
)
@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem[:60])
def test_a_cassette_does_not_contain_the_live_database_or_password(path: Path) -> None:
    """Recording against a live server leaves its database name and password out.

    A password that is also the login or a common word (``admin``) cannot be told apart from
    Odoo's own text, so only a quoted JSON value of at least eight characters is looked for;
    the database name is looked for as a quoted value too.
    """
    text = path.read_text(encoding="utf-8")
    password = os.environ["ODOO_PASSWORD"]
    if len(password) >= 8 and password != os.environ.get("ODOO_USER"):
        assert json.dumps(password) not in text
    assert json.dumps(os.environ["ODOO_DB"]) not in text  # as a value, not inside a word


@pytest.mark.skipif(not os.environ.get("ODOO_API_KEY"), reason="live Odoo 19 mode only")
@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem[:60])
def test_a_cassette_does_not_contain_the_live_api_key(path: Path) -> None:
    """Recording against a live Odoo 19 leaves its API key out of every cassette."""
    assert os.environ["ODOO_API_KEY"] not in path.read_text(encoding="utf-8")
