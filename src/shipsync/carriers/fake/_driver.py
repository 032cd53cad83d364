"""The ``fake`` driver: a complete sans-IO driver for the fake carrier's HTTP API."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from shipsync.canonical import (
    Address,
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Label,
    LabelFormat,
    Milestone,
    Money,
    Package,
    Pickup,
    Rate,
    Reason,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from shipsync.carriers._capabilities import Capability
from shipsync.carriers._driver import (
    DRIVER_API_VERSION,
    AddressValidation,
    CarrierConfig,
    Driver,
    DriverInfo,
    Flow,
    PickupRequest,
)
from shipsync.carriers._http import CarrierRequest, CarrierResponse
from shipsync.carriers.fake._mapping import CHARGE_TYPES, MILESTONES, REASONS
from shipsync.carriers.fake._service import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from shipsync.errors import CarrierResponseError, InvalidInputError
from shipsync.webhooks import StandardWebhooksScheme

__all__ = ["FakeConfig", "FakeDriver", "address_json", "shipment_json"]


class FakeConfig(CarrierConfig):
    """Configuration of the ``fake`` driver; defaults match a default fake carrier service."""

    base_url: str = "http://fake-carrier.invalid"
    client_id: str | None = DEFAULT_CLIENT_ID
    client_secret: SecretStr | None = SecretStr(DEFAULT_CLIENT_SECRET)


def address_json(address: Address) -> dict[str, Any]:
    """The fake carrier's wire form of an address."""
    return {
        "name": address.name,
        "company": address.company,
        "street": list(address.street),
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country": address.country,
        "residential": address.residential,
    }


def _address(data: Mapping[str, Any]) -> Address:
    return Address.model_validate(
        {
            "name": data.get("name"),
            "company": data.get("company"),
            "street": tuple(data.get("street") or ()),
            "city": data.get("city"),
            "state": data.get("state"),
            "postal_code": data.get("postal_code"),
            "country": data["country"],
            "residential": data.get("residential"),
        }
    )


def shipment_json(shipment: Shipment) -> dict[str, Any]:
    """The fake carrier's wire form of a shipment (for rates and bookings)."""
    packages = []
    for package in shipment.packages:
        parcel = package.parcel
        dims = parcel.dimensions
        packages.append(
            {
                "weight": {"value": str(parcel.weight.value), "unit": parcel.weight.unit.value},
                "dimensions": None
                if dims is None
                else {
                    "length": str(dims.length),
                    "width": str(dims.width),
                    "height": str(dims.height),
                    "unit": dims.unit.value,
                },
                "reference": parcel.reference,
            }
        )
    return {
        "reference": shipment.shipment_id,
        "order_reference": shipment.order_reference,
        "service": shipment.service,
        "shipper": address_json(shipment.shipper),
        "recipient": address_json(shipment.recipient),
        "packages": packages,
    }


def _segment(value: str) -> str:
    """``value`` as one URL path segment: a ``/``, ``?`` or ``..`` in an id cannot re-route."""
    return quote(value, safe="") if value not in (".", "..") else value.replace(".", "%2E")


#: Invoice pages followed at most in one call; a carrier that never ends is a typed error.
MAX_INVOICE_PAGES = 10_000


def _money(data: Mapping[str, Any]) -> Money:
    return Money.of(str(data["amount"]), str(data["currency"]))


def _label(data: Mapping[str, Any], tracking_number: str) -> Label:
    return Label(
        tracking_number=tracking_number,
        format=LabelFormat(data["format"]),
        data=base64.b64decode(data["data"], validate=True),
    )


class FakeDriver(Driver):
    """Driver for the fake carrier. Every capability; OAuth2 client credentials; signed webhooks.

    A shipment's ``order_reference`` of the form ``scenario:<name>`` picks its scenario; extra
    request fields go in ``FakeDriver(config, extra={...})`` (for example ``scenario`` or
    ``invoice_discrepancies``).
    """

    info = DriverInfo(
        name="fake",
        display_name="Fake Carrier",
        api_version=DRIVER_API_VERSION,
        capabilities=frozenset(Capability)
        - {
            Capability.CREATE_MANIFEST,
            Capability.QUOTE_LANDED_COST,
            Capability.FETCH_PROOF_OF_DELIVERY,
            Capability.UPDATE_PICKUP,
        },
        services=("economy", "standard", "express"),
        label_formats=frozenset({LabelFormat.PDF, LabelFormat.ZPL, LabelFormat.PNG}),
        signature_scheme="standard-webhooks",
        description="A stateful fake carrier for tests, in-process or over HTTP.",
    )
    config_model = FakeConfig
    signature_scheme = StandardWebhooksScheme()

    def __init__(
        self,
        config: CarrierConfig | Mapping[str, Any] | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(config if config is not None else FakeConfig())
        self.extra = dict(extra or {})

    # -- authentication and errors --------------------------------------------------------------

    def token_request(self) -> CarrierRequest:
        """The client-credentials token request."""
        secret = self.config.client_secret
        value = secret.get_secret_value() if secret is not None else ""
        return CarrierRequest.form(
            "POST",
            "/oauth/token",
            {
                "grant_type": "client_credentials",
                "client_id": self.config.client_id or "",
                "client_secret": value,
            },
            authenticated=False,
        )

    def parse_error(self, response: CarrierResponse) -> tuple[str | None, str | None]:
        """``{"error": {"code": ..., "message": ...}}``."""
        error = response.json().get("error") or {}
        return error.get("code"), error.get("message")

    # -- operations -----------------------------------------------------------------------------

    def validate_address(self, address: Address) -> Flow[AddressValidation]:
        """``POST /v1/addresses/validate``."""
        response = yield CarrierRequest.json(
            "POST", "/v1/addresses/validate", {"address": address_json(address)}
        )
        data = response.json()
        suggestion = data.get("suggestion")
        return AddressValidation(
            valid=bool(data["valid"]),
            address=address,
            suggestions=(_address(suggestion),) if suggestion else (),
            messages=tuple(str(m) for m in data.get("messages", ())),
            residential=data.get("residential"),
        )

    def quote_rates(self, shipment: Shipment) -> Flow[list[Rate]]:
        """``POST /v1/rates``."""
        response = yield CarrierRequest.json("POST", "/v1/rates", shipment_json(shipment))
        rates = []
        for item in response.json()["rates"]:
            total = _money(item["total"])
            charges = tuple(
                FreightCharge(
                    type=CHARGE_TYPES.get(c["code"], ChargeType.OTHER),
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
                    quote_id=item.get("quote_id"),
                )
            )
        return rates

    def create_shipment(
        self, shipment: Shipment, *, label_format: LabelFormat, idempotency_key: str
    ) -> Flow[Shipment]:
        """``POST /v1/shipments`` with an ``Idempotency-Key``."""
        payload = {**shipment_json(shipment), "label_format": label_format.value, **self.extra}
        response = yield CarrierRequest.json(
            "POST", "/v1/shipments", payload, headers={"idempotency-key": idempotency_key}
        )
        data = response.json()
        booked = data["packages"]
        if len(booked) != len(shipment.packages):
            raise CarrierResponseError("the carrier booked a different number of packages")
        packages = tuple(
            Package.model_validate(
                {
                    "parcel": package.parcel,
                    "tracking_number": item["tracking_number"],
                    "label": {
                        "tracking_number": item["tracking_number"],
                        "format": item["label"]["format"],
                        "data": base64.b64decode(item["label"]["data"], validate=True),
                    },
                    "status": Milestone.LABEL_CREATED,
                }
            )
            for package, item in zip(shipment.packages, booked, strict=True)
        )
        return shipment.model_copy(
            update={"carrier_shipment_id": str(data["id"]), "packages": packages}
        )

    def cancel_shipment(self, carrier_shipment_id: str) -> Flow[None]:
        """``POST /v1/shipments/{id}/cancel``."""
        response = yield CarrierRequest(
            "POST", f"/v1/shipments/{_segment(carrier_shipment_id)}/cancel"
        )
        if response.json().get("status") != "cancelled":
            raise CarrierResponseError("the carrier did not confirm the cancellation")

    def schedule_pickup(self, request: PickupRequest, *, idempotency_key: str) -> Flow[Pickup]:
        """``POST /v1/pickups`` with an ``Idempotency-Key``."""
        payload = {
            "address": address_json(request.address),
            "ready_from": request.ready_from.isoformat(),
            "ready_until": request.ready_until.isoformat(),
            "tracking_numbers": list(request.tracking_numbers),
            "instructions": request.instructions,
        }
        response = yield CarrierRequest.json(
            "POST", "/v1/pickups", payload, headers={"idempotency-key": idempotency_key}
        )
        data = response.json()
        return Pickup(
            carrier=self.info.name,
            confirmation_number=data["confirmation_number"],
            address=request.address,
            ready_from=datetime.fromisoformat(data["ready_from"]),
            ready_until=datetime.fromisoformat(data["ready_until"]),
            tracking_numbers=tuple(data.get("tracking_numbers") or ()),
            instructions=data.get("instructions"),
        )

    def cancel_pickup(self, confirmation_number: str) -> Flow[None]:
        """``DELETE /v1/pickups/{number}``."""
        yield CarrierRequest("DELETE", f"/v1/pickups/{_segment(confirmation_number)}")

    def _event(
        self, item: Mapping[str, Any], shipment_id: str, received_at: datetime
    ) -> TrackingEvent:
        code = str(item["code"])
        reason_code = item.get("reason")
        location = item.get("location")
        # One validation of a plain dict: pydantic builds the nested Location and
        # the event in its core, about twice as fast as constructing each part here.
        return TrackingEvent.model_validate(
            {
                "event_id": f"{self.info.name}:{item['id']}",
                "shipment_id": shipment_id,
                "tracking_number": item["tracking_number"],
                "carrier": self.info.name,
                "milestone": MILESTONES.get(code, Milestone.UNKNOWN),
                "reason": REASONS.get(reason_code, Reason.UNKNOWN)
                if reason_code
                else Reason.NORMAL,
                "occurred_at": datetime.fromisoformat(item["occurred_at"]),
                "recorded_at": received_at,
                "carrier_code": code if not reason_code else f"{code}/{reason_code}",
                "carrier_description": item.get("description") or "",
                "location": None
                if not location
                else {"city": location.get("city"), "country": location.get("country")},
                "package_reference": item.get("package_reference"),
            }
        )

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        """``GET /v1/tracking/{tracking_number}``."""
        response = yield CarrierRequest("GET", f"/v1/tracking/{_segment(tracking_number)}")
        data = response.json()
        shipment_id = str(data["reference"])
        return [self._event(item, shipment_id, received_at) for item in data["events"]]

    def parse_webhook(self, body: bytes, *, received_at: datetime) -> list[TrackingEvent]:
        """``{"type": "tracking.updated", "data": {"reference": ..., "event": {...}}}``."""
        payload = CarrierResponse(200, content=body).json()
        if payload.get("type") != "tracking.updated":
            raise CarrierResponseError("unknown webhook type", code="unknown_webhook_type")
        data = payload["data"]
        return [self._event(data["event"], str(data["reference"]), received_at)]

    def _invoice(self, data: Mapping[str, Any]) -> FreightInvoice:
        currency = str(data["currency"])
        lines = tuple(
            FreightInvoiceLine(
                line_number=int(line["line"]),
                tracking_number=line["tracking_number"],
                charges=tuple(
                    FreightCharge(
                        type=CHARGE_TYPES.get(c["code"], ChargeType.OTHER),
                        amount=Money.of(str(c["amount"]), currency),
                        description=c.get("description"),
                        carrier_code=c["code"],
                    )
                    for c in line["charges"]
                ),
                carrier_shipment_id=line.get("shipment_id"),
                reference=line.get("reference"),
                ship_date=date.fromisoformat(line["ship_date"]) if line.get("ship_date") else None,
            )
            for line in data["lines"]
        )
        return FreightInvoice(
            invoice_number=data["number"],
            carrier=self.info.name,
            issued_at=datetime.fromisoformat(data["issued_at"]),
            currency=currency,
            lines=lines,
            total=Money.of(str(data["total"]), currency),
        )

    def fetch_invoices(self, *, since: date | None = None) -> Flow[list[FreightInvoice]]:
        """``GET /v1/invoices``, following ``next_cursor`` until the last page."""
        invoices: list[FreightInvoice] = []
        cursor: str | None = "0"
        seen: set[str] = set()
        while cursor is not None:
            if cursor in seen or len(seen) >= MAX_INVOICE_PAGES:
                raise CarrierResponseError(
                    "invoice pagination does not end (a cursor repeated or too many pages)",
                    code="endless_pagination",
                )
            seen.add(cursor)
            params = [("cursor", cursor), ("limit", "20")]
            if since is not None:
                params.append(("since", since.isoformat()))
            response = yield CarrierRequest("GET", "/v1/invoices", params=tuple(params))
            data = response.json()
            invoices.extend(self._invoice(item) for item in data["invoices"])
            following = data.get("next_cursor")
            cursor = None if following is None else str(following)
        return invoices

    def create_return(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Flow[ReturnShipment]:
        """``POST /v1/returns`` with an ``Idempotency-Key``."""
        if shipment.carrier_shipment_id is None:
            raise InvalidInputError(
                "a return needs the booked shipment's carrier_shipment_id",
                path="carrier_shipment_id",
            )
        payload = {
            "shipment_id": shipment.carrier_shipment_id,
            "reason": reason,
            "label_format": label_format.value,
        }
        response = yield CarrierRequest.json(
            "POST", "/v1/returns", payload, headers={"idempotency-key": idempotency_key}
        )
        data = response.json()
        return ReturnShipment(
            return_id=data["id"],
            original_shipment_id=shipment.shipment_id,
            carrier=self.info.name,
            tracking_number=data["tracking_number"],
            label=_label(data["label"], data["tracking_number"]),
            reason=data.get("reason"),
        )
