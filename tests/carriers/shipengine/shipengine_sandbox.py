"""ShipEngine's sandbox story, replayed from cassettes or recorded against the sandbox.

With ``SHIPENGINE_API_KEY`` set (a ``TEST_`` key: ShipEngine's sandbox is the same URL), the
sandbox tests run the story against ``https://api.shipengine.com`` and re-record the cassettes in
``cassettes/sandbox/`` (the ``API-Key`` header filtered out). Without it they replay those
cassettes. The cassettes shipped with shipsync were NOT recorded from ShipEngine (these machines
cannot reach it): ``make_cassettes.py`` produced them by running the same story against the
OpenAPI document's examples. Record your own to replace them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import vcr

from shipsync.canonical import Address, Shipment
from shipsync.carriers import CarrierClient
from shipsync.carriers.shipengine import ShipEngineDriver

HERE = Path(__file__).parent
CASSETTES = HERE / "cassettes" / "sandbox"
ENV = "SHIPENGINE_API_KEY"
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)
_REPLAY = json.loads((HERE / "cassettes" / "replay.json").read_text())


def recording(name: str) -> dict[str, Any]:
    """One of the documented-example recordings in ``cassettes/replay.json``."""
    found: dict[str, Any] = next(r for r in _REPLAY if r["name"] == name)
    return found


def live() -> bool:
    """Whether a ShipEngine key is in the environment (then cassettes are re-recorded)."""
    return bool(os.environ.get(ENV))


def config() -> dict[str, Any]:
    """No ``carrier_ids``: rates first list the accounts connected to the key, in both modes."""
    return {"api_key": os.environ.get(ENV) or "TEST_replay"}


def recorder(record_mode: str | None = None) -> vcr.VCR:
    """vcrpy configured for ShipEngine: matched on method, path and query; the key filtered."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode or ("all" if live() else "none"),
        match_on=["method", "path", "query"],
        filter_headers=["api-key"],
        decode_compressed_response=True,
    )


def client(**kwargs: Any) -> CarrierClient:
    """A client over the real httpx transport (vcrpy intercepts it)."""
    return CarrierClient(ShipEngineDriver(config()), clock=NOW.timestamp, **kwargs)


def _address() -> Address:
    return Address.model_validate(recording("validate-documented")["args"]["address"])


def _shipment() -> Shipment:
    return Shipment.model_validate(recording("rates-two-carriers")["args"]["shipment"])


#: cassette name -> the calls recorded into it.
STORIES: dict[str, Callable[[CarrierClient], Any]] = {
    "address_validation.yaml": lambda c: c.validate_address(_address()),
    "rates.yaml": lambda c: c.quote_rates(_shipment()),
}
