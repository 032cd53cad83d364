"""The UPS sandbox story, replayed from cassettes or recorded against UPS's CIE.

With ``UPS_CLIENT_ID``, ``UPS_CLIENT_SECRET`` and ``UPS_ACCOUNT_NUMBER`` set, the sandbox tests
run the story against ``https://wwwcie.ups.com/api`` and re-record the cassettes (secrets,
tokens and the account number scrubbed). Without them they replay the cassettes in
``cassettes/``. The cassettes shipped with shipsync were NOT recorded from UPS (these machines
cannot reach it): ``make_cassettes.py`` produced them by running the same story against answers
written after UPS's published response schemas. Record your own to replace them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import vcr
from ups_cases import CONFIG, NOW, RECIPIENT, SHIPPER, parcel, shipment

from shipsync.canonical import LabelFormat
from shipsync.carriers import CarrierClient, PickupRequest
from shipsync.carriers.ups import UpsDriver

CASSETTES = Path(__file__).parent / "cassettes"
ENV = ("UPS_CLIENT_ID", "UPS_CLIENT_SECRET", "UPS_ACCOUNT_NUMBER")
SCRUBBED = "REDACTED"
#: The CIE test tracking number Track Alert and Tracking replay events for.
CIE_TRACKING_NUMBER = "1ZCIETST0111111114"


def live() -> bool:
    """Whether UPS credentials are in the environment (then cassettes are re-recorded)."""
    return all(os.environ.get(name) for name in ENV)


def config() -> dict[str, Any]:
    """The driver configuration: the environment's credentials when live, test values else."""
    if not live():
        return dict(CONFIG)
    return {
        "client_id": os.environ["UPS_CLIENT_ID"],
        "client_secret": os.environ["UPS_CLIENT_SECRET"],
        "account_number": os.environ["UPS_ACCOUNT_NUMBER"],
        "environment": "test",
    }


def _scrub_request(request: Any) -> Any:
    account = os.environ.get("UPS_ACCOUNT_NUMBER")
    if account and request.body:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        request.body = body.replace(account.encode(), CONFIG["account_number"].encode())
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response["body"]["string"]
    if b"access_token" in body:
        data = json.loads(body)
        for key in ("access_token", "refresh_token", "client_id"):
            if key in data:
                data[key] = SCRUBBED
        response["body"]["string"] = json.dumps(data).encode()
    account = os.environ.get("UPS_ACCOUNT_NUMBER")
    if account:
        response["body"]["string"] = response["body"]["string"].replace(
            account.encode(), CONFIG["account_number"].encode()
        )
    for name in ("set-cookie", "x-request-id"):
        response["headers"].pop(name, None)
    return response


def recorder(record_mode: str | None = None) -> vcr.VCR:
    """vcrpy configured for UPS: matched on method, path and query; secrets filtered."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode or ("all" if live() else "none"),
        match_on=["method", "path", "query"],
        filter_headers=["authorization", "x-merchant-id"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


def client(**kwargs: Any) -> CarrierClient:
    """A client over the real httpx transport (vcrpy intercepts it)."""
    return CarrierClient(UpsDriver(config()), clock=lambda: NOW.timestamp(), **kwargs)


#: cassette name -> the calls recorded into it.
STORIES: dict[str, Callable[[CarrierClient], Any]] = {
    "address_validation.yaml": lambda c: c.validate_address(RECIPIENT),
    "rates.yaml": lambda c: c.quote_rates(shipment()),
    "booking.yaml": lambda c: c.create_shipment(
        shipment(parcels=(parcel(), parcel("2.5"))),
        label_format=LabelFormat.ZPL,
        idempotency_key="sandbox-booking-1",
    ),
    "void.yaml": lambda c: c.cancel_shipment("1ZA1B2C30012345678"),
    "pickup.yaml": lambda c: c.schedule_pickup(
        PickupRequest(SHIPPER, NOW + timedelta(days=1), NOW + timedelta(days=1, hours=4)),
        idempotency_key="sandbox-pickup-1",
    ),
    "tracking.yaml": lambda c: c.track(CIE_TRACKING_NUMBER),
}
