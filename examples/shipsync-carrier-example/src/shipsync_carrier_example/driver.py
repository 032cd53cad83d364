"""The Example Express driver: sans-IO, built only on shipsync's public API."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from shipsync.canonical import (
    Address,
    ChargeType,
    FreightCharge,
    Label,
    LabelFormat,
    Location,
    Milestone,
    Money,
    Package,
    Rate,
    Shipment,
    TrackingEvent,
)
from shipsync.carriers import (
    DRIVER_API_VERSION,
    Capability,
    CarrierConfig,
    CarrierRequest,
    CarrierResponse,
    Driver,
    DriverInfo,
    Flow,
)
from shipsync.errors import CarrierResponseError
from shipsync_carrier_example.mapping import CHARGES, MILESTONES, SERVICES


class ExampleConfig(CarrierConfig):
    """Example Express settings: base URL and OAuth2 client credentials."""

    client_id: str | None = "fake-client"
    client_secret: SecretStr | None = SecretStr("fake-secret")


def _address(address: Address) -> dict[str, Any]:
    return {
        "name": address.name,
        "company": address.company,
        "street": list(address.street),
        "city": address.city,
        "postal_code": address.postal_code,
        "country": address.country,
        "residential": address.residential,
    }


def _shipment(shipment: Shipment) -> dict[str, Any]:
    return {
        "reference": shipment.shipment_id,
        "order_reference": shipment.order_reference,
        "service": shipment.service,
        "shipper": _address(shipment.shipper),
        "recipient": _address(shipment.recipient),
        "packages": [
            {
                "weight": {"value": str(p.parcel.weight.value), "unit": p.parcel.weight.unit.value},
                "reference": p.parcel.reference,
            }
            for p in shipment.packages
        ],
    }


class ExampleDriver(Driver):
    """Rates, bookings, cancellations and tracking for Example Express."""

    info = DriverInfo(
        name="example",
        display_name="Example Express",
        api_version=DRIVER_API_VERSION,
        capabilities={
            Capability.QUOTE_RATES,
            Capability.CREATE_SHIPMENT,
            Capability.CANCEL_SHIPMENT,
            Capability.TRACK,
        },
        services=SERVICES,
        label_formats={LabelFormat.PDF, LabelFormat.ZPL},
        description="An example third-party driver (talks to the shipsync fake carrier).",
    )
    config_model = ExampleConfig

    def token_request(self) -> CarrierRequest:
        """OAuth2 client credentials."""
        secret = self.config.client_secret
        return CarrierRequest.form(
            "POST",
            "/oauth/token",
            {
                "grant_type": "client_credentials",
                "client_id": self.config.client_id or "",
                "client_secret": secret.get_secret_value() if secret else "",
            },
            authenticated=False,
        )

    def parse_error(self, response: CarrierResponse) -> tuple[str | None, str | None]:
        """``{"error": {"code", "message"}}``."""
        error = response.json().get("error") or {}
        return error.get("code"), error.get("message")

    def quote_rates(self, shipment: Shipment) -> Flow[list[Rate]]:
        """``POST /v1/rates``."""
        response = yield CarrierRequest.json("POST", "/v1/rates", _shipment(shipment))
        rates = []
        for item in response.json()["rates"]:
            total = Money.of(str(item["total"]["amount"]), str(item["total"]["currency"]))
            charges = tuple(
                FreightCharge(
                    type=CHARGES.get(c["code"], ChargeType.OTHER),
                    amount=Money.of(str(c["amount"]), total.currency),
                    carrier_code=c["code"],
                )
                for c in item.get("charges", ())
            )
            rates.append(
                Rate(
                    carrier=self.info.name,
                    service=item["service"],
                    total=total,
                    charges=charges,
                    transit_days=item.get("transit_days"),
                )
            )
        return rates

    def create_shipment(
        self, shipment: Shipment, *, label_format: LabelFormat, idempotency_key: str
    ) -> Flow[Shipment]:
        """``POST /v1/shipments`` with an ``Idempotency-Key``."""
        payload = {**_shipment(shipment), "label_format": label_format.value}
        response = yield CarrierRequest.json(
            "POST", "/v1/shipments", payload, headers={"Idempotency-Key": idempotency_key}
        )
        data = response.json()
        if len(data["packages"]) != len(shipment.packages):
            raise CarrierResponseError("package count differs from the request")
        packages = tuple(
            Package(
                parcel=package.parcel,
                tracking_number=item["tracking_number"],
                label=Label(
                    tracking_number=item["tracking_number"],
                    format=LabelFormat(item["label"]["format"]),
                    data=base64.b64decode(item["label"]["data"], validate=True),
                ),
                status=Milestone.LABEL_CREATED,
            )
            for package, item in zip(shipment.packages, data["packages"], strict=True)
        )
        return shipment.model_copy(
            update={"carrier_shipment_id": str(data["id"]), "packages": packages}
        )

    def cancel_shipment(self, carrier_shipment_id: str) -> Flow[None]:
        """``POST /v1/shipments/{id}/cancel``."""
        yield CarrierRequest("POST", f"/v1/shipments/{quote(carrier_shipment_id, safe='')}/cancel")

    def _event(
        self, item: Mapping[str, Any], shipment_id: str, received_at: datetime
    ) -> TrackingEvent:
        code = str(item["code"])
        location = item.get("location") or {}
        return TrackingEvent(
            event_id=f"example:{item['id']}",
            shipment_id=shipment_id,
            tracking_number=item["tracking_number"],
            carrier=self.info.name,
            milestone=MILESTONES.get(code, Milestone.UNKNOWN),
            occurred_at=datetime.fromisoformat(item["occurred_at"]),
            recorded_at=received_at,
            carrier_code=code,
            carrier_description=item.get("description") or "",
            location=Location(city=location.get("city"), country=location.get("country"))
            if location
            else None,
        )

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        """``GET /v1/tracking/{number}``."""
        response = yield CarrierRequest("GET", f"/v1/tracking/{quote(tracking_number, safe='')}")
        data = response.json()
        return [self._event(e, str(data["reference"]), received_at) for e in data["events"]]
