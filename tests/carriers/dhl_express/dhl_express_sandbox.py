"""DHL Express's sandbox story, replayed from cassettes or recorded against MyDHL's test site.

With ``DHL_EXPRESS_KEY``, ``DHL_EXPRESS_SECRET`` and ``DHL_EXPRESS_ACCOUNT`` set, the sandbox
tests run the story against ``https://express.api.dhl.com/mydhlapi/test`` and re-record the
cassettes in ``cassettes/sandbox/`` (the Basic credentials filtered out, the account number
replaced in request bodies). Without them they replay those cassettes. The cassettes shipped with
shipsync were NOT recorded from DHL (these machines cannot reach it): ``make_cassettes.py``
produced them by running the same story against the OpenAPI document's examples. Record your own
to replace them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import vcr

from shipsync.canonical import Shipment
from shipsync.carriers import CarrierClient
from shipsync.carriers.dhl_express import DhlExpressDriver

HERE = Path(__file__).parent
CASSETTES = HERE / "cassettes" / "sandbox"
ENV = ("DHL_EXPRESS_KEY", "DHL_EXPRESS_SECRET", "DHL_EXPRESS_ACCOUNT")
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)
REPLAY_ACCOUNT = "123456789"
_REPLAY = json.loads((HERE / "cassettes" / "replay.json").read_text())


def recording(name: str) -> dict[str, Any]:
    """One of the documented-example recordings in ``cassettes/replay.json``."""
    found: dict[str, Any] = next(r for r in _REPLAY if r["name"] == name)
    return found


def live() -> bool:
    """Whether DHL credentials are in the environment (then cassettes are re-recorded)."""
    return all(os.environ.get(name) for name in ENV)


def config() -> dict[str, Any]:
    """The driver configuration: the environment's credentials when live, test values else."""
    key, secret, account = (os.environ.get(name) for name in ENV)
    if not live():
        key, secret, account = "key", "secret", REPLAY_ACCOUNT
    return {"api_key": key, "api_secret": secret, "account_number": account}


def _scrub_request(request: Any) -> Any:
    account = os.environ.get("DHL_EXPRESS_ACCOUNT")
    if account and request.body:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        request.body = body.replace(account.encode(), REPLAY_ACCOUNT.encode())
    return request


def recorder(record_mode: str | None = None) -> vcr.VCR:
    """vcrpy configured for MyDHL: matched on method, path and query; credentials filtered."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode or ("all" if live() else "none"),
        match_on=["method", "path", "query"],
        filter_headers=["authorization"],
        before_record_request=_scrub_request,
        decode_compressed_response=True,
    )


def client(**kwargs: Any) -> CarrierClient:
    """A client over the real httpx transport (vcrpy intercepts it)."""
    return CarrierClient(DhlExpressDriver(config()), clock=NOW.timestamp, **kwargs)


def shipment() -> Shipment:
    """The documented rate request's shipment; live, shipping tomorrow (DHL refuses past dates)."""
    recorded = Shipment.model_validate(recording("rates-documented")["args"]["shipment"])
    if live():
        return recorded.model_copy(update={"ship_date": date.today() + timedelta(days=1)})
    return recorded


#: cassette name -> the calls recorded into it.
STORIES: dict[str, Callable[[CarrierClient], Any]] = {
    "address_validation.yaml": lambda c: c.validate_address(shipment().recipient),
    "rates.yaml": lambda c: c.quote_rates(shipment()),
}
