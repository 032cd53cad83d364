"""The ``dhl_express`` driver against the MyDHL API document's examples and schemas.

The replays under ``cassettes/`` are DHL's documented response examples, verbatim (taken from
the OpenAPI document), not sandbox recordings: this machine has no network. The sandbox story
(``test_dhl_express_sandbox.py``) replays ``cassettes/sandbox/``, or re-records them against DHL's
test environment when ``DHL_EXPRESS_KEY``, ``DHL_EXPRESS_SECRET`` and ``DHL_EXPRESS_ACCOUNT`` are
set.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from dhl_express_spec import CORRECTIONS, SPEC_FILE, load_spec

from shipsync.canonical import (
    Commodity,
    Contact,
    Customs,
    CustomsDocument,
    CustomsDocumentKind,
    Incoterm,
    LabelFormat,
    Milestone,
    Money,
    Package,
    Parcel,
    Shipment,
    Weight,
)
from shipsync.carriers import (
    Capability,
    CarrierClient,
    CarrierRequest,
    DriverRegistry,
    PickupRequest,
    RetryPolicy,
    SleepRecorder,
)
from shipsync.carriers.dhl_express import NO_CANCEL_REASON, DhlExpressDriver, check_customs
from shipsync.errors import (
    CarrierRequestError,
    CarrierResponseError,
    UnsupportedOperationError,
)
from shipsync.testing.carriers import DriverConformance, Recording, load_recordings

HERE = Path(__file__).parent
CASSETTES = HERE / "cassettes"
CONFIG = {"api_key": "key", "api_secret": "secret", "account_number": "123456789"}
RECORDINGS = load_recordings(CASSETTES / "replay.json")
EXTRA = json.loads((CASSETTES / "extra.json").read_text())
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _shipment(**update: object) -> Shipment:
    recording = next(r for r in RECORDINGS if r.operation.value == "create_shipment")
    return Shipment.model_validate(recording.args["shipment"]).model_copy(update=update)


def _customs(**update: object) -> Customs:
    line = Commodity(
        description="Wool socks",
        hs_code="611595",
        quantity=4,
        value=Money.of("50.00", "EUR"),
        origin_country="PT",
        weight=Weight.of("0.8", "kg"),
    )
    data = {"incoterm": Incoterm.DAP, "commodities": (line,), "invoice_number": "INV-1"}
    data.update(update)
    return Customs.model_validate(data)


def _export(**update: object) -> Shipment:
    """A declarable shipment to the US with customs lines."""
    shipment = _shipment()
    recipient = shipment.recipient.model_copy(
        update={
            "country": "US",
            "city": "New York",
            "postal_code": "10001",
            "state": "NY",
            "contact": Contact(phone="+1 212 000 0000"),
        }
    )
    return shipment.model_copy(
        update={"recipient": recipient, "service": "P", "customs": _customs(), **update}
    )


def _client(responses: list[httpx.Response], seen: list[httpx.Request]) -> CarrierClient:
    answers = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return CarrierClient(
        DhlExpressDriver(CONFIG),
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1),
        sleeper=SleepRecorder(),
        clock=NOW.timestamp,
    )


def _declared_extras() -> list[Recording]:
    """Recordings of the operations beyond the core contract DHL declares (landed cost, proof
    of delivery, pickup update), from the same documented examples as the tests below."""
    pickup_args = next(r for r in RECORDINGS if r.name == "pickup-documented").args
    json_headers = {"content-type": "application/json"}
    return [
        Recording.from_json(
            {
                "operation": "quote_landed_cost",
                "responses": [{"headers": json_headers, "body": EXTRA["landed_cost"]}],
                "args": {"shipment": _export().model_dump(mode="json")},
            },
            name="landed-cost-documented",
        ),
        Recording.from_json(
            {
                "operation": "fetch_proof_of_delivery",
                "responses": [
                    {"headers": json_headers, "body": EXTRA["track"]},
                    {"headers": json_headers, "body": EXTRA["pod"]},
                ],
                "args": {"tracking_number": "1234567890", "shipment_id": "SHP-1"},
            },
            name="pod-documented",
        ),
        Recording.from_json(
            {
                "operation": "update_pickup",
                "responses": [
                    {
                        "headers": json_headers,
                        "body": {"dispatchConfirmationNumber": "PRG221222000062"},
                    }
                ],
                "args": {**pickup_args, "confirmation_number": "PRG221222000062"},
            },
            name="pickup-update",
        ),
    ]


class TestDhlExpressConformance(DriverConformance):
    """The public conformance kit with every request checked against the corrected document."""

    driver = DhlExpressDriver(CONFIG)
    recordings = (*RECORDINGS, *_declared_extras())
    specs = (load_spec(),)


def test_the_correction_is_needed() -> None:
    """The uncorrected document has the boolean where a unit code belongs; corrected it has NO."""
    raw = json.loads(SPEC_FILE.read_text())
    units = CORRECTIONS[0].target.split("/")[1:]
    node = raw
    for part in units[:-1]:
        node = node[part]
    assert False in node
    assert (
        "NO"
        in load_spec().document["components"]["schemas"][
            "supermodelIoLogisticsExpressCreateShipmentRequest"
        ]["properties"]["content"]["properties"]["exportDeclaration"]["properties"]["lineItems"][
            "items"
        ]["properties"]["quantity"]["properties"]["unitOfMeasurement"]["enum"]
    )


def test_a_declarable_shipment_with_paperless_invoice_validates_and_uploads_it() -> None:
    """Customs lines, HS codes, incoterm, export reason and the uploaded invoice (with the
    paperless-trade service) all fit the document's schema."""
    invoice = CustomsDocument(kind=CustomsDocumentKind.COMMERCIAL_INVOICE, data=b"%PDF-1.4 inv")
    shipment = _export(
        customs=_customs(export_reason="sale", documents=(invoice,)),
    )
    request = next(
        DhlExpressDriver(CONFIG).create_shipment(
            shipment, label_format=LabelFormat.PDF, idempotency_key="k"
        )
    )  # type: ignore[arg-type]
    assert load_spec().check(request) == []
    body = json.loads(request.content)
    declaration = body["content"]["exportDeclaration"]
    assert declaration["lineItems"][0]["price"] == 12.5
    assert declaration["lineItems"][0]["commodityCodes"] == [
        {"typeCode": "outbound", "value": "611595"}
    ]
    assert declaration["exportReason"] == "sale"
    assert body["content"]["declaredValue"] == 50
    assert body["content"]["isCustomsDeclarable"] is True
    assert body["valueAddedServices"] == [{"serviceCode": "WY"}]
    assert base64.b64decode(body["documentImages"][0]["content"]) == b"%PDF-1.4 inv"
    assert body["documentImages"][0]["typeCode"] == "INV"


@pytest.mark.parametrize(
    ("customs", "path"),
    [
        (
            lambda: _customs(
                commodities=(
                    _customs().commodities[0],
                    _customs().commodities[0].model_copy(update={"value": Money.of("1", "USD")}),
                )
            ),
            "customs.commodities.1.value.currency",
        ),
        (
            lambda: _customs(
                commodities=(
                    _customs().commodities[0].model_copy(update={"value": Money.of("0", "EUR")}),
                )
            ),
            "customs.commodities.0.value",
        ),
        (
            lambda: _customs(
                commodities=(
                    _customs().commodities[0].model_copy(update={"weight": Weight.of("9", "kg")}),
                )
            ),
            "customs.commodities",
        ),
        (
            lambda: _customs(
                commodities=(
                    _customs().commodities[0],
                    _customs().commodities[0].model_copy(update={"weight": None}),
                )
            ),
            "customs.commodities.1.weight",
        ),
        (lambda: _customs(invoice_number=None), "customs.invoice_number"),
    ],
    ids=[
        "mixed-currency",
        "zero-value",
        "lines-heavier-than-parcels",
        "weight-missing",
        "no-invoice",
    ],
)
def test_customs_rules_refuse_before_any_request(customs, path: str) -> None:  # type: ignore[no-untyped-def]
    """Each broken customs rule is a typed error naming the field, and nothing is sent."""
    seen: list[httpx.Request] = []
    shipment = _export(customs=customs())
    with pytest.raises(CarrierRequestError) as direct:
        check_customs(shipment)
    assert direct.value.path == path
    client = _client([], seen)
    with client, pytest.raises(CarrierRequestError) as caught:
        client.create_shipment(shipment)
    assert caught.value.path == path
    assert caught.value.code == "customs_invalid"
    with client, pytest.raises(CarrierRequestError):
        client.quote_rates(shipment)
    assert seen == []


def test_cancel_shipment_is_unsupported_with_dhls_reason() -> None:
    """The capability is absent and the unsupported error says why, before anything is sent."""
    seen: list[httpx.Request] = []
    client = _client([], seen)
    with client, pytest.raises(UnsupportedOperationError) as caught:
        client.cancel_shipment("1234567890")
    assert NO_CANCEL_REASON in str(caught.value)
    with pytest.raises(UnsupportedOperationError):
        next(DhlExpressDriver(CONFIG).cancel_shipment("1234567890"))
    assert seen == []


def test_rates_keep_the_billed_currency_and_a_breakdown_that_adds_up() -> None:
    """The documented rate: GBP billed total, its detailed breakdown summing to it exactly."""
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(200, json=EXTRA["rates"])], seen)
    with client:
        rates = client.quote_rates(_shipment())
    first = rates[0]
    assert first.total == Money.of("157.95", "GBP")
    assert first.service == "P"
    assert sum(c.amount.amount for c in first.charges) == Decimal("157.95")
    assert {c.type.value for c in first.charges} >= {"base_freight", "fuel"}
    assert seen[0].headers["authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()


def test_landed_cost_never_adds_currencies() -> None:
    """The documented landed cost mixes AUD, GBP and EUR lines: the total stays in its currency
    and no breakdown is invented by adding them up."""
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(200, json=EXTRA["landed_cost"])], seen)
    with client:
        rate = client.quote_landed_cost(_export())
    assert rate.total == Money.of("6078.22", "AUD")
    assert rate.charges == ()
    assert load_spec().check(_as_request(seen[0])) == []


def _as_request(request: httpx.Request) -> CarrierRequest:
    return CarrierRequest(
        request.method,
        request.url.path.removeprefix("/mydhlapi/test"),
        headers=dict(request.headers),
        content=request.content,
        params=tuple(request.url.params.multi_items()),
    )


def test_tracking_gives_piece_level_events_in_utc() -> None:
    """Shipment and piece checkpoints both become events; piece ones name their piece."""
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(200, json=EXTRA["track"])], seen)
    with client:
        events = client.track("1234567890")
    pieces = {e.package_reference for e in events if e.package_reference}
    assert pieces == {"JD012345678901234567"}
    assert events[0].milestone is Milestone.PICKED_UP
    assert all(e.occurred_at.tzinfo is not None for e in events)
    assert dict(seen[0].url.params)["requestGMTOffsetPerEvent"] == "true"
    assert len({e.event_id for e in events}) == len(events)


def _not_delivered() -> dict[str, object]:
    track = json.loads(json.dumps(EXTRA["track"]))
    shipment = track["shipments"][0]
    shipment["events"] = [e for e in shipment["events"] if e["typeCode"] != "OK"]
    for piece in shipment["pieces"]:
        piece["events"] = [e for e in piece["events"] if e["typeCode"] != "OK"]
    return track


def test_proof_of_delivery_reads_the_delivery_event_and_the_documents() -> None:
    """POD: tracking gives the delivery time (the last OK checkpoint, with its GMT offset), the
    ePOD call the signed document."""
    track = _not_delivered()
    track["shipments"][0]["events"].append(
        {
            "date": "2023-08-11",
            "time": "10:00:00",
            "GMTOffset": "+12:00",
            "typeCode": "OK",
            "description": "Delivered",
            "signedBy": "",
        }
    )
    seen: list[httpx.Request] = []
    client = _client(
        [httpx.Response(200, json=track), httpx.Response(200, json=EXTRA["pod"])], seen
    )
    with client:
        pod = client.fetch_proof_of_delivery("1234567890")
    assert pod.delivered_at == datetime(2023, 8, 10, 22, tzinfo=UTC)
    assert pod.documents[0].data.startswith(b"%PDF")
    assert load_spec().check(_as_request(seen[1])) == []


def test_proof_of_delivery_before_delivery_is_a_typed_error() -> None:
    """No delivery checkpoint yet: a typed error, and the ePOD endpoint is not asked."""
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(200, json=_not_delivered())], seen)
    with client, pytest.raises(CarrierRequestError):
        client.fetch_proof_of_delivery("1234567890")
    assert len(seen) == 1


def test_landed_cost_proof_of_delivery_and_pickup_update_are_declared_capabilities() -> None:
    """Hosts can ask the driver's metadata (or the registry) for these three operations; a
    driver that does not declare them refuses typed through the client and sends nothing."""
    extras = {
        Capability.QUOTE_LANDED_COST,
        Capability.FETCH_PROOF_OF_DELIVERY,
        Capability.UPDATE_PICKUP,
    }
    registry = DriverRegistry.discover()
    assert extras <= registry.get("dhl_express").info.capabilities
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    ups = registry.create(
        "ups", {"client_id": "i", "client_secret": "s", "account_number": "A12345"}
    )
    assert not extras & ups.info.capabilities
    with CarrierClient(ups, transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(UnsupportedOperationError):
            client.fetch_proof_of_delivery("1Z1")
        with pytest.raises(UnsupportedOperationError):
            client.quote_landed_cost(_export())
        start = datetime(2026, 1, 6, 9, tzinfo=UTC)
        with pytest.raises(UnsupportedOperationError):
            client.update_pickup("P1", PickupRequest(_shipment().shipper, start, start))
    assert seen == []


def test_pickups_can_be_updated_with_a_valid_patch() -> None:
    """update_pickup sends a PATCH the document accepts."""
    shipper = _shipment().shipper
    start = datetime(2026, 1, 6, 9, tzinfo=UTC)
    request = next(
        DhlExpressDriver(CONFIG).update_pickup(
            "PRG221222000062", PickupRequest(shipper, start, start + timedelta(hours=8))
        )
    )
    assert load_spec().check(request) == []


def test_multi_piece_labels_follow_the_pieces() -> None:
    """A two-piece shipment gets a tracking number per piece; the one label goes to the first."""
    parcel = Parcel(weight=Weight.of("2", "kg"))
    shipment = _shipment(packages=(Package(parcel=parcel), Package(parcel=parcel)))
    body = {
        "shipmentTrackingNumber": "1103733901",
        "packages": [
            {"referenceNumber": 1, "trackingNumber": "JD1"},
            {"referenceNumber": 2, "trackingNumber": "JD2"},
        ],
        "documents": [{"imageFormat": "PDF", "content": "JVBERi0xLjQ=", "typeCode": "label"}],
    }
    client = _client([httpx.Response(201, json=body)], [])
    with client:
        booked = client.create_shipment(shipment)
    assert booked.tracking_numbers == ("JD1", "JD2")
    assert booked.packages[0].label is not None
    assert booked.packages[1].label is None
    truncated = {**body, "packages": body["packages"][:1]}
    client = _client([httpx.Response(201, json=truncated)], [])
    with client, pytest.raises(CarrierResponseError):
        client.create_shipment(shipment)


def test_the_driver_is_registered_through_its_entry_point() -> None:
    """Discovery finds ``dhl_express`` in the installed distribution's entry points."""
    entry = next(e for e in DriverRegistry.discover().entries() if e.name == "dhl_express")
    assert entry.driver is DhlExpressDriver


def test_a_pickup_can_be_booked_with_the_shipment() -> None:
    """With pickup_with_shipment the shipment asks DHL's courier, and the body still validates."""
    driver = DhlExpressDriver({**CONFIG, "pickup_with_shipment": True})
    request = next(
        driver.create_shipment(_shipment(), label_format=LabelFormat.ZPL, idempotency_key="k")
    )
    body = json.loads(request.content)
    assert body["pickup"] == {"isRequested": True}
    assert body["outputImageProperties"]["encodingFormat"] == "zpl"
    assert load_spec().check(request) == []


def test_a_shipment_without_a_date_is_refused_naming_the_field() -> None:
    """DHL needs the planned shipping date; the driver reads no clock, so it asks for one."""
    with pytest.raises(CarrierRequestError) as caught:
        next(DhlExpressDriver(CONFIG).quote_rates(_shipment(ship_date=None, created_at=None)))
    assert caught.value.path == "ship_date"
