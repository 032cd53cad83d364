"""Fixtures for the Odoo client tests: vcrpy cassettes recorded against a real Odoo 18.

Replay (the default, used by CI): no server is needed; every test replays its cassette from
``tests/odoo/cassettes/``. Live (re-recording): set ``ODOO_URL``, ``ODOO_DB``, ``ODOO_USER`` and
``ODOO_PASSWORD``; the same tests then run against that server, create every record they need
(names carry a fresh run tag) and rewrite the cassettes. Cassettes hold no secret: the database,
login and password in request bodies are replaced by placeholders and cookies are dropped, and
requests are matched on their path and normalised JSON body (without JSON-RPC's random ``id``).
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

from shipsync.odoo import OdooGateway, OdooLogistics, RetryPolicy, RpcGateway, version_facts

NO_WAIT = RetryPolicy(attempts=3, initial=0, jitter=0)  # retries without sleeping

CASSETTES = Path(__file__).parent / "cassettes"
TAG_FILE = CASSETTES / "run_tag.txt"
LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))
REPLAY_URL = "http://127.0.0.1:8069"


def normalise_body(body: bytes | str | None) -> Any:
    """The JSON-RPC body with the random id dropped and credentials replaced by placeholders."""
    if not body:
        return None
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    data = json.loads(text)
    data.pop("id", None)
    params = data.get("params") or {}
    args = params.get("args")
    if params.get("service") in {"common", "object"} and isinstance(args, list) and args:
        args[0] = "<db>"
        if len(args) > 2:
            args[2] = "<secret>"
        if params.get("method") in {"login", "authenticate"} and len(args) > 1:
            args[1] = "<login>"
    for key in ("password", "login", "db"):
        if key in params:
            params[key] = f"<{key}>"
    return _hide_passwords(data)


def _hide_passwords(value: Any) -> Any:
    """Replace every ``password`` value, at any depth (a test user's ``create`` has one)."""
    if isinstance(value, dict):
        return {
            k: "<secret>" if k in {"password", "new_password"} else _hide_passwords(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hide_passwords(v) for v in value]
    return value


def _odoo_host() -> str:
    return urlsplit(os.environ["ODOO_URL"] if LIVE else REPLAY_URL).hostname or ""


def _scrub_request(request: Any) -> Any:
    if request.host != _odoo_host():
        return None  # not Odoo (the in-process fake carrier): neither recorded nor replayed
    if request.body:
        request.body = json.dumps(normalise_body(request.body), sort_keys=True).encode("utf-8")
    for header in ("Cookie", "Authorization"):
        request.headers.pop(header, None)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for header in list(headers):
        if header.lower() in {"set-cookie", "date", "server"}:
            headers.pop(header)
    body = response.get("body", {}).get("string")
    if body and b'"debug"' in (body if isinstance(body, bytes) else body.encode()):
        # Odoo's server traceback names local paths and quotes Odoo's source: drop it.
        data = json.loads(body)
        data.get("error", {}).get("data", {})["debug"] = ""
        text = json.dumps(data)
        response["body"]["string"] = text.encode() if isinstance(body, bytes) else text
        for header in list(headers):
            if header.lower() == "content-length":
                headers[header] = [str(len(text.encode()))]
    return response


def _json_body_matcher(r1: Any, r2: Any) -> None:
    assert normalise_body(r1.body) == normalise_body(r2.body), "JSON-RPC bodies differ"


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
        tag = time.strftime("%m%d%H%M%S")
        CASSETTES.mkdir(exist_ok=True)
        TAG_FILE.write_text(tag + "\n", encoding="utf-8")
        return tag
    return TAG_FILE.read_text(encoding="utf-8").strip()


@pytest.fixture(scope="module")
def companies_tag(request: pytest.FixtureRequest) -> str:
    """The multi-company tests' run tag, kept beside the cassettes of the folder collecting them
    (``cassettes/companies_run_tag.txt`` here, ``v17/cassettes/...`` for Odoo 17)."""
    tag_file = request.path.parent / "cassettes" / "companies_run_tag.txt"
    if LIVE:
        value = "mc" + time.strftime("%m%d%H%M%S")
        tag_file.write_text(value + "\n", encoding="utf-8")
        return value
    return tag_file.read_text(encoding="utf-8").strip()


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's cassette, in use for the whole test; ``.play_count`` counts replayed calls."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    if LIVE:  # vcrpy's "all" mode appends: start each recording from an empty cassette
        (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
    with _recorder().use_cassette(f"{name}.yaml") as active:
        yield active
        if not LIVE:  # a request the code no longer sends is a change to notice, not to ignore
            unplayed = len(active.data) - active.play_count
            assert active.all_played, f"{unplayed} recorded request(s) were not sent"


def connect() -> RpcGateway:
    """A gateway on the live server, or on the cassette with placeholder credentials."""
    if LIVE:
        return RpcGateway(
            os.environ["ODOO_URL"],
            os.environ["ODOO_DB"],
            os.environ["ODOO_USER"],
            os.environ["ODOO_PASSWORD"],
            retry=NO_WAIT,
        )
    return RpcGateway(
        REPLAY_URL,
        "odoo-db",
        "odoo-user",
        "odoo-password",
        retry=NO_WAIT,
    )


@pytest.fixture
def login() -> str:
    """The login the tests use (a placeholder in replay)."""
    return os.environ["ODOO_USER"] if LIVE else "odoo-user"


@pytest.fixture
def target() -> tuple[str, str]:
    """The server URL and database the tests talk to (placeholders in replay)."""
    if LIVE:
        return os.environ["ODOO_URL"], os.environ["ODOO_DB"]
    return REPLAY_URL, "odoo-db"


@pytest.fixture
def gateway(cassette: Any) -> RpcGateway:
    """A connected RPC gateway (three requests: version, login, user context)."""
    return connect()


@pytest.fixture
def logistics(gateway: RpcGateway) -> OdooLogistics:
    """Logistics operations with the default field map."""
    return OdooLogistics(gateway)


class OdooData:
    """Creates the records a test needs, over the same gateway, with run-tagged names."""

    def __init__(self, gateway: OdooGateway, tag: str) -> None:
        self.gw = gateway
        self.tag = tag
        self._products: dict[int, int] = {}
        self._type: tuple[int, int, int] | None = None
        self.facts = version_facts(gateway.server_version)

    def currency(self) -> str:
        """The company's currency code (USD on a fresh database without a localisation)."""
        [company] = self.gw.call(
            "res.company", "search_read", [[]], {"fields": ["currency_id"], "limit": 1}
        )
        return str(company["currency_id"][1])

    def other_currency(self, currency: str) -> str:
        """A currency that is not ``currency``."""
        return "EUR" if currency != "EUR" else "USD"

    def partner(self, name: str, **values: Any) -> int:
        created = self.gw.call("res.partner", "create", [{"name": f"{name} {self.tag}", **values}])
        return int(created)

    def product(self, number: int = 0) -> int:
        """A product, one per ``number``: consumable (always available), or for a negative
        ``number`` stocked by serial number with none in stock (Odoo refuses to validate it)."""
        if number not in self._products:
            values = {"name": f"Widget {number} {self.tag}", "type": "consu", "list_price": 10}
            if number < 0:
                values.update(self.facts.storable_product, tracking="serial")
            self._products[number] = int(self.gw.call("product.product", "create", [values]))
        return self._products[number]

    def out_type(self) -> tuple[int, int, int]:
        if self._type is None:
            [row] = self.gw.call(
                "stock.picking.type",
                "search_read",
                [[["code", "=", "outgoing"]]],
                {
                    "fields": ["default_location_src_id", "default_location_dest_id"],
                    "limit": 1,
                    "order": "id",
                },
            )
            dest = row["default_location_dest_id"] or self._customers()  # False on Odoo 17
            self._type = (
                int(row["id"]),
                int(row["default_location_src_id"][0]),
                int(dest[0]),
            )
        return self._type

    def _customers(self) -> list[int]:
        """The customers location, where Odoo 17's delivery types name no destination."""
        [row] = self.gw.call(
            "ir.model.data",
            "search_read",
            [[["module", "=", "stock"], ["name", "=", "stock_location_customers"]]],
            {"fields": ["res_id"]},
        )
        return [int(row["res_id"])]

    def pickings(
        self, count: int, *, partner: int | None = None, moves: int = 1, stocked: bool = False
    ) -> list[int]:
        """Create ``count`` confirmed outgoing pickings, ``moves`` products each, in one request."""
        type_id, src, dest = self.out_type()
        products = [self.product(-n - 1 if stocked else n) for n in range(moves)]
        values = [
            {
                "picking_type_id": type_id,
                "location_id": src,
                "location_dest_id": dest,
                "partner_id": partner or False,
                "origin": f"shipsync test {self.tag}",
                "move_ids": [
                    [
                        0,
                        0,
                        {
                            **({"name": "Widget"} if self.facts.move_has_name else {}),
                            "product_id": product,
                            "product_uom_qty": 1,
                            "location_id": src,
                            "location_dest_id": dest,
                        },
                    ]
                    for product in products
                ],
            }
            for _ in range(count)
        ]
        ids = [int(i) for i in self.gw.call("stock.picking", "create", [values])]
        self.gw.call("stock.picking", "action_confirm", [ids])
        return ids


@pytest.fixture
def odoo_data(gateway: RpcGateway, run_tag: str) -> OdooData:
    """A helper that creates partners, products and pickings for the test."""
    return OdooData(gateway, run_tag)
