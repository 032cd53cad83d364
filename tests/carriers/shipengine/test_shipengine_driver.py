"""The ``shipengine`` driver against ShipEngine's documented examples and its OpenAPI document.

The replay recordings under ``cassettes/`` are assembled from the examples ShipEngine's own
OpenAPI document gives (field by field: the document has few whole-response examples; amounts,
which it leaves without examples, are filled in), not recorded from the sandbox: this machine has
no network. The sandbox story (``test_shipengine_sandbox.py``) replays ``cassettes/sandbox/``,
or re-records them against the sandbox when ``SHIPENGINE_API_KEY`` (a ``TEST_`` key) is set.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from shipengine_spec import CORRECTIONS, SPEC_FILE, load_spec

from shipsync.canonical import (
    Commodity,
    Contact,
    Customs,
    Incoterm,
    LabelFormat,
    Milestone,
    Money,
    Reason,
    Shipment,
    Weight,
)
from shipsync.carriers import (
    AsyncCarrierClient,
    Capability,
    CarrierClient,
    CarrierRequest,
    DriverRegistry,
    ManifestRequest,
    RetryPolicy,
    SleepRecorder,
)
from shipsync.carriers.shipengine import ShipEngineDriver
from shipsync.errors import (
    CarrierRequestError,
    NoMatchingSignatureError,
    TimestampTooOldError,
)
from shipsync.testing.carriers import DriverConformance, check_driver, load_recordings
from shipsync.testing.openapi import OpenAPISpec

HERE = Path(__file__).parent
CASSETTES = HERE / "cassettes"
CONFIG = {"api_key": "TEST_replay", "carrier_ids": {"ups": "se-28529731"}, "warehouse_id": "se-1"}
RECORDINGS = load_recordings(CASSETTES / "replay.json")
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _recording(name: str):  # type: ignore[no-untyped-def]
    return next(r for r in RECORDINGS if r.name == name)


def _shipment(**update: object) -> Shipment:
    base = Shipment.model_validate(_recording("label-inline").args["shipment"])
    return base.model_copy(update=update)


def _client(responses: list[httpx.Response], seen: list[httpx.Request], **config: object):  # type: ignore[no-untyped-def]
    answers = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    driver = ShipEngineDriver({**CONFIG, **config})
    return CarrierClient(
        driver,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1),
        sleeper=SleepRecorder(),
        clock=NOW.timestamp,
    )


class TestShipEngineConformance(DriverConformance):
    """The public conformance kit, with every request checked against the corrected document."""

    driver = ShipEngineDriver(CONFIG)
    recordings = RECORDINGS
    specs = (load_spec(),)


def test_document_downloads_conform_outside_the_document() -> None:
    """Label and manifest documents fetched from their links parse (those links are not API
    operations of the document, so only the kit's other checks apply)."""
    driver = ShipEngineDriver(CONFIG)
    assert check_driver(driver, load_recordings(CASSETTES / "downloads.json")) == []


def test_the_corrections_are_needed_and_sufficient() -> None:
    """Without the corrections no rate request can be valid; with them the driver's is."""
    driver = ShipEngineDriver(CONFIG)
    request = next(driver.quote_rates(_shipment()))
    raw = OpenAPISpec.load(SPEC_FILE, name="shipengine-uncorrected")
    assert raw.check(request) != []
    assert load_spec().check(request) == []
    assert all(c.reason for c in CORRECTIONS)


def test_rates_keep_currencies_apart_and_name_carrier_and_service() -> None:
    """Rates of two accounts come back in their own currencies, bookable as carrier:service."""
    seen: list[httpx.Request] = []
    body = _recording("rates-two-carriers").responses[0][2]
    with _client([httpx.Response(200, content=body)], seen) as client:
        rates = client.quote_rates(_shipment())
    assert [r.service for r in rates] == ["ups:ups_ground", "dhl_express:dhl_express_worldwide"]
    assert rates[0].total == Money.of("10.62", "USD")
    assert sum(c.amount.amount for c in rates[0].charges) == Decimal("10.62")
    assert rates[1].total.currency == "EUR"
    assert rates[0].quote_id == "se-28529731"
    sent = json.loads(seen[0].content)
    assert sent["rate_options"] == {"carrier_ids": ["se-28529731"]}
    assert seen[0].headers["api-key"] == "TEST_replay"


def test_rates_without_configured_accounts_list_the_connected_ones_first() -> None:
    """With no carrier_ids the flow asks GET /v1/carriers and quotes every account it finds."""
    (recording,) = load_recordings(CASSETTES / "unconfigured.json")
    seen: list[httpx.Request] = []
    answers = [httpx.Response(s, content=b) for s, _h, b in recording.responses]
    with _client(answers, seen, carrier_ids={}) as client:
        rates = client.quote_rates(Shipment.model_validate(recording.args["shipment"]))
    assert [r.url.path for r in seen] == ["/v1/carriers", "/v1/rates"]
    assert json.loads(seen[1].content)["rate_options"]["carrier_ids"] == ["se-28529731"]
    assert load_spec().check(_as_carrier_request(seen[1])) == []
    assert rates


def _as_carrier_request(request: httpx.Request) -> CarrierRequest:
    return CarrierRequest(
        request.method,
        request.url.path,
        headers=dict(request.headers),
        content=request.content,
        params=tuple(request.url.params.multi_items()),
    )


def test_a_label_is_booked_with_our_id_and_its_bytes_decoded() -> None:
    """POST /v1/labels carries external_shipment_id; the inline label becomes the package label."""
    seen: list[httpx.Request] = []
    body = _recording("label-inline").responses[0][2]
    with _client([httpx.Response(200, content=body)], seen) as client:
        booked = client.create_shipment(_shipment())
    assert json.loads(seen[0].content)["shipment"]["external_shipment_id"] == "CONFORMANCE-1"
    assert booked.carrier_shipment_id == "se-28529731"
    package = booked.packages[0]
    assert package.tracking_number == "1Z932R800392060079"
    assert package.label is not None
    assert package.label.data.startswith(b"%PDF")


def test_a_label_can_be_bought_from_a_rate() -> None:
    """label_from_rate posts to /v1/labels/rates/{rate_id}, a documented operation."""
    seen: list[httpx.Request] = []
    body = _recording("label-inline").responses[0][2]
    with _client([httpx.Response(200, content=body)], seen) as client:
        flow = client.driver.label_from_rate(_shipment(), "se-28529731")  # type: ignore[attr-defined]
        booked = client.run(flow, "create_shipment")
    assert seen[0].url.path == "/v1/labels/rates/se-28529731"
    assert load_spec().check(_as_carrier_request(seen[0])) == []
    assert booked.tracking_numbers == ("1Z932R800392060079",)


def test_customs_lines_are_sent_in_shipengines_terms_and_validate() -> None:
    """An international shipment's customs lines validate against international_shipment_options."""
    customs = Customs(
        incoterm=Incoterm.DDP,
        commodities=(
            Commodity(
                description="Wool socks",
                hs_code="611595",
                quantity=2,
                value=Money.of("12.50", "EUR"),
                origin_country="PT",
                weight=Weight.of("0.2", "kg"),
            ),
        ),
    )
    shipment = _shipment(customs=customs)
    flow = ShipEngineDriver(CONFIG).create_shipment(
        shipment, label_format=LabelFormat.PDF, idempotency_key="k"
    )
    request = next(flow)
    assert load_spec().check(request) == []
    sent = json.loads(request.content)["shipment"]["customs"]
    assert sent["terms_of_trade_code"] == "ddp"
    assert sent["customs_items"][0] == {
        "description": "Wool socks",
        "quantity": 2,
        "value": 12.5,
        "value_currency": "EUR",
        "country_of_origin": "PT",
        "harmonized_tariff_code": "611595",
        "weight": {"value": 0.2, "unit": "kilogram"},
    }


def test_a_shipper_without_phone_is_refused_before_sending() -> None:
    """ShipEngine requires the ship-from phone: a typed error names the field, nothing is sent."""
    seen: list[httpx.Request] = []
    shipment = _shipment()
    shipper = shipment.shipper.model_copy(update={"contact": Contact(name="Desk")})
    with _client([], seen) as client, pytest.raises(CarrierRequestError) as caught:
        client.create_shipment(shipment.model_copy(update={"shipper": shipper}))
    assert caught.value.path == "shipper.contact.phone"
    assert seen == []


def test_tracking_maps_normalised_codes_and_keeps_the_carrier_code_raw() -> None:
    """Detail codes pick the milestone; status, detail and the carrier's own code are all kept."""
    seen: list[httpx.Request] = []
    body = _recording("track-documented").responses[0][2]
    with _client([httpx.Response(200, content=body)], seen) as client:
        (event,) = client.track("dhl_express:1Z932R800392060079")
    assert dict(seen[0].url.params) == {
        "carrier_code": "dhl_express",
        "tracking_number": "1Z932R800392060079",
    }
    assert event.milestone is Milestone.IN_TRANSIT
    assert event.reason is Reason.NORMAL
    assert event.carrier_code == "IT:IN_TRANSIT:1"
    assert event.location is not None
    assert event.location.postal_code == "78756"


def test_a_refused_void_names_shipengines_reason() -> None:
    """approved:false is a typed request error carrying ShipEngine's reason_code."""
    body = _recording("void-refused-documented").responses[0][2]
    client = _client([httpx.Response(200, content=body)], [])
    with client, pytest.raises(CarrierRequestError) as caught:
        client.cancel_shipment("se-28529731")
    assert caught.value.code == "label_not_found_within_void_period"


def test_manifest_by_date_closes_the_warehouse_and_downloads_the_document() -> None:
    """Without label ids the manifest is asked by carrier, warehouse and date; http links are
    fetched over https, and a still-running request comes back as a pending manifest."""
    (recording, manifest) = load_recordings(CASSETTES / "downloads.json")
    seen: list[httpx.Request] = []
    answers = [httpx.Response(s, content=b) for s, _h, b in manifest.responses]
    with _client(answers, seen) as client:
        done, pending = client.create_manifest(ManifestRequest(date(2026, 1, 5)))
    assert json.loads(seen[0].content) == {
        "carrier_id": "se-28529731",
        "warehouse_id": "se-1",
        "ship_date": "2026-01-05T00:00:00Z",
    }
    assert load_spec().check(_as_carrier_request(seen[0])) == []
    assert str(seen[1].url) == "https://api.shipengine.com/v1/labels/se-28529731"
    assert done.document is not None
    assert done.document.data.startswith(b"%PDF")
    assert done.carrier_shipment_ids == ("se-28529731",)
    assert pending.pending
    assert pending.manifest_id == "se-28529732"
    del recording


def _jwks(key: rsa.RSAPrivateKey, kid: str) -> str:
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return json.dumps(
        {"keys": [{"kty": "RSA", "kid": kid, "n": b64(numbers.n), "e": b64(numbers.e)}]}
    )


def test_signed_track_webhook_is_verified_and_parsed_through_the_client() -> None:
    """A track webhook signed RS256 verifies with the configured key set and yields events; a
    replay outside the window or under another key id is refused."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = _recording("webhook-track").responses[0][2]
    signer = ShipEngineDriver.signature_scheme.signer(key, key_id="k1", clock=NOW.timestamp)  # type: ignore[union-attr]
    headers = signer.sign(body)
    with _client([], [], webhook_secret=_jwks(key, "k1")) as client:
        events = client.parse_webhook(body, headers)
        assert [e.milestone for e in events] == [Milestone.IN_TRANSIT]
        with pytest.raises(NoMatchingSignatureError):
            client.parse_webhook(body, {**headers, "x-shipengine-rsa-sha256-key-id": "k2"})
        old = signer.sign(body, timestamp=int((NOW - timedelta(minutes=6)).timestamp()))
        with pytest.raises(TimestampTooOldError):
            client.parse_webhook(body, old)


def test_the_driver_is_registered_through_its_entry_point() -> None:
    """Discovery finds ``shipengine`` in the installed distribution's entry points."""
    registry = DriverRegistry.discover()
    entry = next(e for e in registry.entries() if e.name == "shipengine")
    assert entry.driver is ShipEngineDriver
    assert Capability.CREATE_MANIFEST in entry.info.capabilities


def test_multi_package_labels_follow_the_packages() -> None:
    """Two packages: each gets its own tracking number and label from its own download."""
    parcel = _shipment().packages[0].parcel
    shipment = _shipment(packages=(_shipment().packages[0], _shipment().packages[0]))
    label = json.loads(_recording("label-inline").responses[0][2])
    pdf = label["label_download"]["href"]
    label["packages"] = [
        {"tracking_number": "1ZA", "label_download": {"href": pdf}},
        {"tracking_number": "1ZB", "label_download": {"href": pdf}},
    ]
    seen: list[httpx.Request] = []
    with _client([httpx.Response(200, json=label)], seen) as client:
        booked = client.create_shipment(shipment)
    assert booked.tracking_numbers == ("1ZA", "1ZB")
    assert all(p.label is not None for p in booked.packages)
    assert len(json.loads(seen[0].content)["shipment"]["packages"]) == 2
    assert booked.packages[1].parcel == parcel


async def test_the_async_client_creates_manifests_too() -> None:
    """AsyncCarrierClient.create_manifest drives the same flow as the sync client."""
    body = _recording("manifest-request-in-progress").responses[0][2]

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    client = AsyncCarrierClient(
        ShipEngineDriver(CONFIG),
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1),
        sleeper=SleepRecorder(),
    )
    async with client:
        (manifest,) = await client.create_manifest(ManifestRequest(date(2026, 1, 5), ["se-1"]))
    assert manifest.pending
    assert manifest.carrier_shipment_ids == ("se-1",)


def test_batches_buy_quoted_rates_together() -> None:
    """A batch of rate ids is created and processed with requests the corrected document
    accepts (its oneOf of create bodies is the same defect as the rates one)."""
    created = {
        "batch_id": "se-1013119",
        "status": "open",
        "count": 2,
        "label_layout": "4x6",
        "label_format": "pdf",
    }
    seen: list[httpx.Request] = []
    answers = [httpx.Response(200, json=created), httpx.Response(204)]
    with _client(answers, seen) as client:
        driver = client.driver
        batch = client.run(driver.create_batch(["se-1", "se-2"]), "create_shipment")  # type: ignore[attr-defined]
        flow = driver.process_batch(batch.batch_id, ship_date=date(2026, 1, 6))  # type: ignore[attr-defined]
        client.run(flow, "create_shipment")
    assert (batch.batch_id, batch.status, batch.count) == ("se-1013119", "open", 2)
    assert [r.url.path for r in seen] == ["/v1/batches", "/v1/batches/se-1013119/process/labels"]
    for request in seen:
        assert load_spec().check(_as_carrier_request(request)) == []
    raw = OpenAPISpec.load(SPEC_FILE, name="uncorrected")
    assert raw.check(_as_carrier_request(seen[0])) != []
