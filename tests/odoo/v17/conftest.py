"""Fixtures for running the Odoo tests against Odoo 17 over JSON-RPC, replayed from cassettes.

The test modules here import test functions from ``tests/odoo`` so the very same tests run on
Odoo 17; these fixtures replace the parent's ``cassette``, ``gateway``, ``run_tag`` and ``tag``
with this folder's ``cassettes/``. Requests are scrubbed and matched exactly as in the parent
folder (the parent's ``conftest.py`` holds the scrubbers and the matcher).

Replay (the default, used by CI): no server is needed. Live (re-recording): set ``ODOO_URL``,
``ODOO_DB``, ``ODOO_USER`` and ``ODOO_PASSWORD`` for an Odoo 17 server whose admin may work in
two companies of different currencies, and run this folder only.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr

from shipsync.odoo import RpcGateway

_spec = importlib.util.spec_from_file_location(
    "shipsync_odoo18_conftest", Path(__file__).parent.parent / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
_parent = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_parent)

CASSETTES = Path(__file__).parent / "cassettes"
TAG_FILE = CASSETTES / "run_tag.txt"
LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))
NO_WAIT = _parent.NO_WAIT
REPLAY_URL = "http://127.0.0.1:8071"


def _recorder() -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if LIVE else "none",
        match_on=["method", "path", "json_body"],
        before_record_request=_parent._scrub_request,
        before_record_response=_parent._scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_body", _parent._json_body_matcher)
    return recorder


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A tag that makes this recording's names unique; replay reads the recorded one."""
    if LIVE:
        tag = "17" + time.strftime("%m%d%H%M%S")
        TAG_FILE.write_text(tag + "\n", encoding="utf-8")
        return tag
    return TAG_FILE.read_text(encoding="utf-8").strip()


@pytest.fixture(scope="module")
def tag() -> str:
    """The source and company tests' own run tag (``cassettes/source_run_tag.txt``)."""
    tag_file = CASSETTES / "source_run_tag.txt"
    if LIVE:
        value = "src17" + time.strftime("%m%d%H%M%S")
        tag_file.write_text(value + "\n", encoding="utf-8")
        return value
    return tag_file.read_text(encoding="utf-8").strip()


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's Odoo 17 cassette, in use for the whole test."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    if LIVE:
        (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
    with _recorder().use_cassette(f"{name}.yaml") as active:
        yield active
        if not LIVE:
            unplayed = len(active.data) - active.play_count
            assert active.all_played, f"{unplayed} recorded request(s) were not sent"


def connect17() -> RpcGateway:
    """A JSON-RPC gateway on the live Odoo 17, or on the cassette with placeholders."""
    if LIVE:
        return RpcGateway(
            os.environ["ODOO_URL"],
            os.environ["ODOO_DB"],
            os.environ["ODOO_USER"],
            os.environ["ODOO_PASSWORD"],
            retry=NO_WAIT,
        )
    return RpcGateway(REPLAY_URL, "odoo-db", "odoo-user", "odoo-password", retry=NO_WAIT)


@pytest.fixture
def target() -> tuple[str, str]:
    """The server URL and database the tests talk to (placeholders in replay)."""
    if LIVE:
        return os.environ["ODOO_URL"], os.environ["ODOO_DB"]
    return REPLAY_URL, "odoo-db"


@pytest.fixture
def login() -> str:
    """The login the tests use (a placeholder in replay)."""
    return os.environ["ODOO_USER"] if LIVE else "odoo-user"


@pytest.fixture
def gateway(cassette: Any) -> RpcGateway:
    """A connected RPC gateway on Odoo 17 (three requests: version, login, user context)."""
    return connect17()
