"""The ``ups`` driver: UPS's REST APIs (OAuth, Address Validation, Rating, Shipping, Pickup,
Tracking, Track Alert), sans-IO.

Every request carries ``transId`` and ``transactionSrc``. ``transId`` must be unique per request
and at most 32 characters; a driver may not read a clock or a random source, so it is derived:
from the idempotency key for bookings (a retried booking is the same transaction) and from the
request itself otherwise. Amounts come back as strings and are read as exact decimals; a body
that breaks UPS's own contract becomes a ``CarrierResponseError`` at the client's boundary.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import SecretStr, model_validator

from shipsync.canonical import (
    Address,
    ChargeType,
    FreightCharge,
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
from shipsync.carriers._auth import AccessToken
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
from shipsync.carriers.ups._mapping import (
    ADDRESS_CLASSIFICATION,
    LABELS,
    SERVICES,
    status_for,
)
from shipsync.carriers.ups._pdf import png_to_pdf
from shipsync.carriers.ups._trackalert import TrackAlertScheme
from shipsync.carriers.ups._wire import (
    check_lane,
    customs_json,
    package_json,
    party_json,
    refuse,
    service_code,
    signature_code,
)
from shipsync.errors import CarrierResponseError

__all__ = [
    "ENVIRONMENTS",
    "MAX_SUBSCRIPTION_NUMBERS",
    "VERSIONS",
    "UpsConfig",
    "UpsDriver",
]

#: Base URLs of UPS's two environments: ``test`` is the Customer Integration Environment (CIE).
ENVIRONMENTS = {
    "test": "https://wwwcie.ups.com/api",
    "production": "https://onlinetools.ups.com/api",
}
#: The API version each call uses (the path's ``{version}``).
VERSIONS = {
    "shipping": "v2409",
    "rating": "v2409",
    "address_validation": "v2",
    "pickup": "v2409",
    "tracking": "v1",
    "track_alert": "v2",
}
#: Track Alert takes at most this many tracking numbers per subscription (each lasts 14 days).
MAX_SUBSCRIPTION_NUMBERS = 100


class UpsConfig(CarrierConfig):
    """Configuration of the ``ups`` driver.

    ``environment`` picks the base URL (``test``: CIE; ``production``); ``base_url`` overrides
    it (a recording proxy, say). ``negotiated_rates`` asks for the account's negotiated rates.
    """

    environment: Literal["test", "production"] = "test"
    base_url: str = ""
    client_id: str | None = None
    client_secret: SecretStr | None = None
    account_number: str | None = None
    transaction_source: str = "shipsync"
    negotiated_rates: bool = False
    merchant_id: str | None = None
    locale: str = "en_US"

    @model_validator(mode="before")
    @classmethod
    def _base_url(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("base_url"):
            environment = data.get("environment", "test")
            return {**data, "base_url": ENVIRONMENTS.get(str(environment), "")}
        return data

    @model_validator(mode="after")
    def _complete(self) -> UpsConfig:
        if not self.base_url:
            raise ValueError("environment must be 'test' or 'production'")
        if not self.client_id or self.client_secret is None:
            raise ValueError("client_id and client_secret are required")
        number = self.account_number or ""
        if len(number) != 6 or not number.isalnum():
            raise ValueError("account_number must be UPS's 6-character shipper number")
        if not 0 < len(self.transaction_source) <= 32:
            raise ValueError("transaction_source must be 1 to 32 characters")
        return self


def _segment(value: str) -> str:
    return quote(value, safe="") if value not in (".", "..") else value.replace(".", "%2E")


def _money(data: Mapping[str, Any]) -> Money:
    return Money.of(str(data["MonetaryValue"]).strip(), str(data["CurrencyCode"]))


def _list(value: Any) -> list[Any]:
    """UPS sends a lone object where its schema declares an array: read both."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    raise CarrierResponseError("expected an object or a list", code="bad_shape")


def _gmt(day: str, time: str) -> datetime:
    text = str(day) + str(time).replace(":", "").zfill(6)
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _alerts(data: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        f"{a.get('Code', '')}: {a.get('Description', '')}" for a in _list(data.get("Alert"))
    )


class UpsDriver(Driver):
    """Driver for UPS. See ``docs/carriers/ups.md`` for the capabilities and mapping tables."""

    info = DriverInfo(
        name="ups",
        display_name="UPS",
        api_version=DRIVER_API_VERSION,
        capabilities=frozenset(
            {
                Capability.VALIDATE_ADDRESS,
                Capability.QUOTE_RATES,
                Capability.CREATE_SHIPMENT,
                Capability.CANCEL_SHIPMENT,
                Capability.SCHEDULE_PICKUP,
                Capability.CANCEL_PICKUP,
                Capability.TRACK,
                Capability.PARSE_WEBHOOK,
                Capability.CREATE_RETURN,
            }
        ),
        services=tuple(SERVICES.values()),
        label_formats=frozenset(LABELS),
        signature_scheme="ups-track-alert",
        description=(
            "UPS REST APIs: address validation, Rate and Shop with time in transit, shipments "
            "with labels and customs, void, pickups, tracking, returns, Track Alert pushes."
        ),
    )
    config_model = UpsConfig
    signature_scheme = TrackAlertScheme()

    config: UpsConfig

    # -- transport details ----------------------------------------------------------------------

    def _headers(self, seed: str) -> dict[str, str]:
        trans_id = hashlib.sha256(seed.encode()).hexdigest()[:32]
        return {"transId": trans_id, "transactionSrc": self.config.transaction_source}

    def _post(self, path: str, payload: Any, *, seed: str | None = None) -> CarrierRequest:
        request = CarrierRequest.json("POST", path, payload)
        key = seed if seed is not None else f"POST {path} " + request.content.decode()
        for name, value in self._headers(key).items():
            request = request.with_header(name, value)
        return request

    def token_request(self) -> CarrierRequest:
        """``POST /security/v1/oauth/token`` with HTTP Basic (``client_secret_basic``)."""
        secret = self.config.client_secret
        raw = f"{self.config.client_id}:{secret.get_secret_value() if secret else ''}"
        request = CarrierRequest.form(
            "POST",
            "/security/v1/oauth/token",
            {"grant_type": "client_credentials"},
            authenticated=False,
        ).with_header("authorization", "Basic " + base64.b64encode(raw.encode()).decode())
        if self.config.merchant_id:
            request = request.with_header("x-merchant-id", self.config.merchant_id)
        return request

    def parse_token(self, response: CarrierResponse) -> AccessToken:
        """UPS sends ``expires_in`` as a string of seconds."""
        return super().parse_token(response)

    def parse_error(self, response: CarrierResponse) -> tuple[str | None, str | None]:
        """``{"response": {"errors": [{"code": ..., "message": ...}]}}``; all messages kept."""
        data = response.json()
        errors = _list((data.get("response") or {}).get("errors"))
        if not errors:
            return None, None
        code = str(errors[0].get("code")) if errors[0].get("code") is not None else None
        message = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        return code, message

    # -- address validation ---------------------------------------------------------------------

    def validate_address(self, address: Address) -> Flow[AddressValidation]:
        """Street-level validation with classification (request option 3), US and PR only."""
        op = Capability.VALIDATE_ADDRESS.value
        if address.country not in ("US", "PR"):
            raise refuse("UPS validates street addresses in the US and PR only", "country", op)
        key: dict[str, Any] = {"CountryCode": address.country}
        if address.street:
            key["AddressLine"] = list(address.street)
        if address.city:
            key["PoliticalDivision2"] = address.city
        if address.state:
            key["PoliticalDivision1"] = address.state
        if address.postal_code:
            primary, _, extended = address.postal_code.partition("-")
            key["PostcodePrimaryLow"] = primary.strip()
            if extended.strip():
                key["PostcodeExtendedLow"] = extended.strip()
        name = address.company or address.name
        if name:
            key["ConsigneeName"] = name[:40]
        version = VERSIONS["address_validation"]
        response = yield self._post(
            f"/addressvalidation/{version}/3", {"XAVRequest": {"AddressKeyFormat": key}}
        )
        data = response.json()["XAVResponse"]
        classification = data.get("AddressClassification") or {}
        residential = ADDRESS_CLASSIFICATION.get(str(classification.get("Code", "0")))
        suggestions = tuple(self._candidate(item, address) for item in _list(data.get("Candidate")))
        return AddressValidation(
            valid="ValidAddressIndicator" in data,
            address=address,
            suggestions=suggestions,
            messages=_alerts(data.get("Response") or {}),
            residential=residential,
        )

    def _candidate(self, item: Mapping[str, Any], original: Address) -> Address:
        key = item["AddressKeyFormat"]
        postal = key.get("PostcodePrimaryLow")
        if postal and key.get("PostcodeExtendedLow"):
            postal = f"{postal}-{key['PostcodeExtendedLow']}"
        classification = item.get("AddressClassification") or {}
        return Address(
            name=original.name,
            company=original.company,
            street=tuple(str(line) for line in _list(key.get("AddressLine")))[:3],
            city=key.get("PoliticalDivision2"),
            state=key.get("PoliticalDivision1"),
            postal_code=postal,
            country=key["CountryCode"],
            residential=ADDRESS_CLASSIFICATION.get(str(classification.get("Code", "0"))),
            contact=original.contact,
        )

    # -- rating ---------------------------------------------------------------------------------

    def _rate_body(self, shipment: Shipment, option: str) -> dict[str, Any]:
        op = Capability.QUOTE_RATES.value
        check_lane(shipment, op)
        shipper = party_json(shipment.shipper, "shipper", op, state_length=2)
        shipper["ShipperNumber"] = self.config.account_number
        body: dict[str, Any] = {
            "Shipper": shipper,
            "ShipTo": party_json(
                shipment.recipient, "recipient", op, residential=True, state_length=2
            ),
            "ShipFrom": party_json(shipment.shipper, "shipper", op, state_length=2),
            "PaymentDetails": {
                "ShipmentCharge": [
                    {"Type": "01", "BillShipper": {"AccountNumber": self.config.account_number}}
                ]
            },
            "Package": [
                package_json(p.parcel, i, shipment.shipper.country, op, rating=True)
                for i, p in enumerate(shipment.packages)
            ],
        }
        for party in (body["Shipper"], body["ShipTo"], body["ShipFrom"]):
            party.pop("Phone", None)
        if self.config.negotiated_rates:
            body["ShipmentRatingOptions"] = {"NegotiatedRatesIndicator": ""}
        if option.endswith("timeintransit") and shipment.created_at is not None:
            body["DeliveryTimeInformation"] = {
                "PackageBillType": "03",
                "Pickup": {"Date": shipment.created_at.strftime("%Y%m%d")},
            }
        if shipment.customs is not None:
            total = Money.sum(
                (c.value for c in shipment.customs.commodities),
                shipment.customs.commodities[0].value.currency,
            )
            body["InvoiceLineTotal"] = {
                "CurrencyCode": total.currency,
                "MonetaryValue": format(total.amount, "f"),
            }
        return {"RateRequest": {"Request": {"RequestOption": option}, "Shipment": body}}

    def quote_rates(self, shipment: Shipment) -> Flow[list[Rate]]:
        """Rate and Shop: every service on the lane, with time in transit when the shipment
        has a ``created_at`` (the pickup date), and negotiated rates when configured."""
        option = "Shoptimeintransit" if shipment.created_at is not None else "Shop"
        version = VERSIONS["rating"]
        response = yield self._post(
            f"/rating/{version}/{option}", self._rate_body(shipment, option)
        )
        data = response.json()["RateResponse"]
        return [self._rate(item) for item in _list(data["RatedShipment"])]

    def _rate(self, item: Mapping[str, Any]) -> Rate:
        code = str(item["Service"]["Code"])
        negotiated = (item.get("NegotiatedRateCharges") or {}).get("TotalCharge")
        total = _money(negotiated) if negotiated else _money(item["TotalCharges"])
        charges: tuple[FreightCharge, ...] = ()
        if not negotiated:
            parts = [
                FreightCharge(
                    type=ChargeType.BASE_FREIGHT,
                    amount=_money(item["TransportationCharges"]),
                    carrier_code="TransportationCharges",
                ),
                FreightCharge(
                    type=ChargeType.ACCESSORIAL,
                    amount=_money(item["ServiceOptionsCharges"]),
                    carrier_code="ServiceOptionsCharges",
                ),
            ]
            if all(p.amount.currency == total.currency for p in parts) and (
                parts[0].amount + parts[1].amount == total
            ):
                charges = tuple(p for p in parts if p.amount)
        arrival = ((item.get("TimeInTransit") or {}).get("ServiceSummary") or {}).get(
            "EstimatedArrival"
        ) or {}
        days = arrival.get("BusinessDaysInTransit") or (item.get("GuaranteedDelivery") or {}).get(
            "BusinessDaysInTransit"
        )
        when = (arrival.get("Arrival") or {}).get("Date")
        return Rate(
            carrier=self.info.name,
            service=SERVICES.get(code, code),
            total=total,
            charges=charges,
            transit_days=int(days) if days not in (None, "") else None,
            estimated_delivery=datetime.strptime(str(when), "%Y%m%d").date() if when else None,
        )

    # -- shipments ------------------------------------------------------------------------------

    def _shipment_body(
        self,
        shipment: Shipment,
        label_format: LabelFormat,
        op: str,
        *,
        return_of: Shipment | None = None,
    ) -> dict[str, Any]:
        check_lane(shipment, op)
        spec = LABELS.get(label_format)
        if spec is None:
            raise refuse(f"UPS has no {label_format.value} labels", "label_format", op)
        international = shipment.shipper.country != shipment.recipient.country
        shipper = party_json(shipment.shipper, "shipper", op, phone_required=international)
        shipper["ShipperNumber"] = self.config.account_number
        signature = signature_code(shipment.options)
        domestic_us = not international and shipment.shipper.country in ("US", "PR")
        body: dict[str, Any] = {
            "Shipper": shipper,
            "ShipTo": party_json(
                shipment.recipient, "recipient", op, phone_required=international, residential=True
            ),
            "ShipFrom": party_json(shipment.shipper, "shipper", op, phone_required=international),
            "PaymentInformation": {
                "ShipmentCharge": [
                    {"Type": "01", "BillShipper": {"AccountNumber": self.config.account_number}}
                ]
            },
            "Service": {"Code": service_code(shipment, op)},
            "Package": [
                package_json(
                    p.parcel,
                    i,
                    shipment.shipper.country,
                    op,
                    references=[
                        shipment.shipment_id,
                        p.parcel.reference or shipment.order_reference or "",
                    ],
                    signature=signature if domestic_us else None,
                )
                for i, p in enumerate(shipment.packages)
            ],
        }
        if return_of is not None:
            body["ReturnService"] = {"Code": "9"}  # UPS Print Return Label
            for index, package in enumerate(body["Package"]):
                package.setdefault("Description", "Return")
                body["Package"][index] = package
        options: dict[str, Any] = {}
        if shipment.options is not None and shipment.options.saturday_delivery:
            options["SaturdayDeliveryIndicator"] = ""
        if signature is not None and not domestic_us:
            options["DeliveryConfirmation"] = {"DCISType": signature}
        if shipment.customs is not None and international:
            if shipment.created_at is None:
                raise refuse("the commercial invoice needs the shipment date", "created_at", op)
            options["InternationalForms"] = customs_json(
                shipment, shipment.customs, shipment.created_at.date(), op
            )
            body["Description"] = shipment.customs.contents[:50]
            if shipment.customs.incoterm.value == "DDP":
                body["PaymentInformation"]["ShipmentCharge"].append(
                    {"Type": "02", "BillShipper": {"AccountNumber": self.config.account_number}}
                )
        elif international:
            raise refuse("international shipments need customs data", "customs", op)
        if options:
            body["ShipmentServiceOptions"] = options
        if self.config.negotiated_rates:
            body["ShipmentRatingOptions"] = {"NegotiatedRatesIndicator": ""}
        return {
            "ShipmentRequest": {
                "Request": {
                    "RequestOption": "nonvalidate",
                    "TransactionReference": {"CustomerContext": shipment.shipment_id},
                },
                "Shipment": body,
                "LabelSpecification": {
                    "LabelImageFormat": {"Code": spec.code},
                    "LabelStockSize": {"Height": spec.height, "Width": spec.width},
                },
            }
        }

    def _labels(
        self, data: Mapping[str, Any], count: int, label_format: LabelFormat
    ) -> tuple[str, list[tuple[str, Label | None]]]:
        results = data["ShipmentResponse"]["ShipmentResults"]
        packages = _list(results.get("PackageResults"))
        if len(packages) != count:
            raise CarrierResponseError(
                f"UPS booked {len(packages)} packages, {count} were sent", code="package_count"
            )
        spec = LABELS[label_format]
        booked = []
        for item in packages:
            number = str(item["TrackingNumber"])
            image = (item.get("ShippingLabel") or {}).get("GraphicImage")
            label = None
            if image:
                raw = base64.b64decode(str(image), validate=True)
                label = Label(
                    tracking_number=number,
                    format=label_format,
                    data=png_to_pdf(raw) if spec.wrap_in_pdf else raw,
                )
            booked.append((number, label))
        identification = str(results.get("ShipmentIdentificationNumber") or booked[0][0])
        return identification, booked

    def create_shipment(
        self, shipment: Shipment, *, label_format: LabelFormat, idempotency_key: str
    ) -> Flow[Shipment]:
        """``POST /shipments/{version}/ship``: one tracking number and label per package."""
        op = Capability.CREATE_SHIPMENT.value
        body = self._shipment_body(shipment, label_format, op)
        response = yield self._post(
            f"/shipments/{VERSIONS['shipping']}/ship", body, seed=f"ship {idempotency_key}"
        )
        identification, booked = self._labels(response.json(), len(shipment.packages), label_format)
        packages = tuple(
            Package(
                parcel=package.parcel,
                tracking_number=number,
                label=label,
                status=Milestone.LABEL_CREATED,
            )
            for package, (number, label) in zip(shipment.packages, booked, strict=True)
        )
        return shipment.model_copy(
            update={"carrier_shipment_id": identification, "packages": packages}
        )

    def create_return(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Flow[ReturnShipment]:
        """A return label (UPS Print Return Label) from the recipient back to the shipper."""
        op = Capability.CREATE_RETURN.value
        reverse = shipment.model_copy(
            update={
                "shipper": shipment.recipient,
                "recipient": shipment.shipper,
                "customs": shipment.customs,
            }
        )
        body = self._shipment_body(reverse, label_format, op, return_of=shipment)
        # UPS bills the account holder (the original shipper) and sends the label to them.
        body["ShipmentRequest"]["Shipment"]["Shipper"] = {
            **party_json(shipment.shipper, "shipper", op, phone_required=True),
            "ShipperNumber": self.config.account_number,
        }
        response = yield self._post(
            f"/shipments/{VERSIONS['shipping']}/ship", body, seed=f"return {idempotency_key}"
        )
        identification, booked = self._labels(response.json(), len(shipment.packages), label_format)
        number, label = booked[0]
        return ReturnShipment(
            return_id=identification,
            original_shipment_id=shipment.shipment_id,
            carrier=self.info.name,
            tracking_number=number,
            label=label,
            reason=reason,
        )

    def cancel_shipment(self, carrier_shipment_id: str) -> Flow[None]:
        """Void a whole shipment."""
        yield from self.void(carrier_shipment_id)

    def void(self, carrier_shipment_id: str, tracking_numbers: Sequence[str] = ()) -> Flow[None]:
        """Void a shipment, or only some of its packages (``tracking_numbers``)."""
        path = f"/shipments/{VERSIONS['shipping']}/void/cancel/{_segment(carrier_shipment_id)}"
        params: tuple[tuple[str, str], ...] = ()
        if tracking_numbers:
            params = (("trackingnumber", ",".join(tracking_numbers)),)
        response = yield CarrierRequest(
            "DELETE", path, headers=self._headers(f"void {path} {params}"), params=params
        )
        data = response.json()["VoidShipmentResponse"]
        status = data["SummaryResult"]["Status"]
        failed = [
            str(item["TrackingNumber"])
            for item in _list(data.get("PackageLevelResults"))
            if str(item["Status"]["Code"]) != "1"
        ]
        if str(status["Code"]) != "1" or failed:
            raise CarrierResponseError(
                "UPS did not void every package" + (f": {', '.join(failed)}" if failed else ""),
                code="void_failed",
                carrier_message=str(status.get("Description")),
            )

    # -- pickups --------------------------------------------------------------------------------

    def schedule_pickup(self, request: PickupRequest, *, idempotency_key: str) -> Flow[Pickup]:
        """``POST /pickupcreation/{version}/pickup``. Times are sent as the wall-clock time of
        the datetimes given: pass them in the pickup address's own time zone."""
        op = Capability.SCHEDULE_PICKUP.value
        start, end = request.ready_from, request.ready_until
        if start.date() != end.date():
            raise refuse("UPS pickups start and end on the same day", "ready_until", op)
        address = request.address
        party = party_json(address, "address", op)
        phone = party.get("Phone")
        if phone is None:
            raise refuse("UPS needs a phone number for pickups", "address.contact.phone", op)
        contact = address.name or party["Name"]
        pickup_address = {
            "CompanyName": party["Name"][:27],
            "ContactName": contact[:22],
            "AddressLine": party["Address"]["AddressLine"],
            "City": party["Address"]["City"],
            "CountryCode": address.country,
            "ResidentialIndicator": "Y" if address.residential else "N",
            "Phone": {"Number": phone["Number"]},
        }
        if "PostalCode" in party["Address"]:
            pickup_address["PostalCode"] = party["Address"]["PostalCode"][:8]
        if "StateProvinceCode" in party["Address"]:
            pickup_address["StateProvince"] = party["Address"]["StateProvinceCode"]
        body: dict[str, Any] = {
            "Request": {"TransactionReference": {"CustomerContext": idempotency_key[:512]}},
            "RatePickupIndicator": "N",
            "Shipper": {
                "Account": {
                    "AccountNumber": self.config.account_number,
                    "AccountCountryCode": address.country,
                }
            },
            "PickupDateInfo": {
                "PickupDate": start.strftime("%Y%m%d"),
                "ReadyTime": start.strftime("%H%M"),
                "CloseTime": end.strftime("%H%M"),
            },
            "PickupAddress": pickup_address,
            "AlternateAddressIndicator": "Y",
            "PickupPiece": [
                {
                    "ServiceCode": "003",
                    "Quantity": str(max(1, len(request.tracking_numbers))),
                    "DestinationCountryCode": address.country,
                    "ContainerCode": "01",
                }
            ],
            "PaymentMethod": "01",
        }
        if request.tracking_numbers:
            body["TrackingData"] = [{"TrackingNumber": n} for n in request.tracking_numbers]
        if request.instructions:
            body["SpecialInstruction"] = request.instructions[:57]
        response = yield self._post(
            f"/pickupcreation/{VERSIONS['pickup']}/pickup",
            {"PickupCreationRequest": body},
            seed=f"pickup {idempotency_key}",
        )
        data = response.json()["PickupCreationResponse"]
        return Pickup(
            carrier=self.info.name,
            confirmation_number=str(data["PRN"]),
            address=address,
            ready_from=start.astimezone(UTC),
            ready_until=end.astimezone(UTC),
            tracking_numbers=tuple(request.tracking_numbers),
            instructions=request.instructions,
        )

    def cancel_pickup(self, confirmation_number: str) -> Flow[None]:
        """``DELETE /shipments/{version}/pickup/02`` with the ``Prn`` header (cancel by PRN)."""
        path = f"/shipments/{VERSIONS['pickup']}/pickup/02"
        headers = {
            **self._headers(f"cancel-pickup {confirmation_number}"),
            "Prn": confirmation_number,
        }
        response = yield CarrierRequest("DELETE", path, headers=headers)
        status = response.json()["PickupCancelResponse"]["Response"]["ResponseStatus"]
        if str(status["Code"]) != "1":
            raise CarrierResponseError(
                "UPS did not confirm the cancellation",
                code="cancel_failed",
                carrier_message=str(status.get("Description")),
            )

    # -- tracking -------------------------------------------------------------------------------

    def _event(
        self,
        *,
        tracking_number: str,
        shipment_id: str,
        status_type: str,
        code: str,
        description: str,
        occurred_at: datetime,
        received_at: datetime,
        location: Mapping[str, Any] | None,
    ) -> TrackingEvent:
        status = status_for(status_type, code)
        raw = f"{status_type}/{code}"
        where = None
        if location:
            where = {key: value or None for key, value in location.items()}
        # One validation of a plain dict: pydantic builds the nested Location in its core.
        return TrackingEvent.model_validate(
            {
                "event_id": f"ups:{tracking_number}:{occurred_at:%Y%m%dT%H%M%S}:{raw}",
                "shipment_id": shipment_id,
                "tracking_number": tracking_number,
                "carrier": self.info.name,
                "milestone": status.milestone if status else Milestone.UNKNOWN,
                "reason": status.reason if status else Reason.UNKNOWN,
                "occurred_at": occurred_at,
                "recorded_at": received_at,
                "carrier_code": raw,
                "carrier_description": description,
                "location": where,
            }
        )

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        """``GET /track/v1/details/{number}``: every activity of every package."""
        path = f"/track/{VERSIONS['tracking']}/details/{_segment(tracking_number)}"
        response = yield CarrierRequest(
            "GET",
            path,
            headers=self._headers(f"track {tracking_number}"),
            params=(("locale", self.config.locale), ("returnSignature", "false")),
        )
        data = response.json()["trackResponse"]
        events: list[TrackingEvent] = []
        warnings: list[str] = []
        for shipment in _list(data["shipment"]):
            warnings += [
                f"{w.get('code')}: {w.get('message')}" for w in _list(shipment.get("warnings"))
            ]
            for package in _list(shipment.get("package")):
                number = str(package["trackingNumber"])
                references = _list(package.get("referenceNumber"))
                shipment_id = str(references[0]["number"]) if references else number
                for activity in _list(package.get("activity")):
                    status = activity["status"]
                    address = (activity.get("location") or {}).get("address") or {}
                    day = activity.get("gmtDate") or activity["date"]
                    time = activity.get("gmtTime") or activity["time"]
                    events.append(
                        self._event(
                            tracking_number=number,
                            shipment_id=shipment_id,
                            status_type=str(status.get("type") or ""),
                            code=str(status.get("code") or ""),
                            description=str(status.get("description") or "").strip(),
                            occurred_at=_gmt(day, time),
                            received_at=received_at,
                            location={
                                "city": address.get("city"),
                                "state": address.get("stateProvince"),
                                "postal_code": address.get("postalCode"),
                                "country": address.get("countryCode") or address.get("country"),
                                "facility": (activity.get("location") or {}).get("slic"),
                            },
                        )
                    )
        if not events and warnings:
            raise CarrierResponseError(
                "UPS has no tracking for this number",
                code="no_tracking",
                carrier_message="; ".join(warnings),
            )
        return events

    def parse_webhook(self, body: bytes, *, received_at: datetime) -> list[TrackingEvent]:
        """A Track Alert ``TrackingEvent`` push (authenticated by the receiver's scheme)."""
        data = CarrierResponse(200, content=body).json()
        if not isinstance(data, dict):
            raise CarrierResponseError("the Track Alert body is not an object", code="bad_shape")
        number = str(data["trackingNumber"])
        status = data["activityStatus"]
        location = data.get("activityLocation") or {}
        return [
            self._event(
                tracking_number=number,
                shipment_id=number,
                status_type=str(status.get("type") or ""),
                code=str(status.get("code") or ""),
                description=str(status.get("description") or "").strip(),
                occurred_at=_gmt(data["gmtActivityDate"], data["gmtActivityTime"]),
                received_at=received_at,
                location={
                    "city": location.get("city"),
                    "state": location.get("stateProvince"),
                    "postal_code": location.get("postalCode"),
                    "country": location.get("country"),
                },
            )
        ]

    # -- Track Alert subscriptions --------------------------------------------------------------

    def subscribe(
        self, tracking_numbers: Sequence[str], *, enhanced: bool = False
    ) -> Flow[tuple[list[str], list[str]]]:
        """Subscribe up to 100 tracking numbers to Track Alert (14 days each).

        Returns ``(valid, invalid)`` tracking numbers as UPS sorted them. The webhook URL and
        the credentials UPS uses to fetch a token from your endpoint are set on UPS's portal
        ("Manage Webhook Credentials") in Track Alert v2.
        """
        op = "subscribe"
        numbers = list(dict.fromkeys(tracking_numbers))
        if not numbers:
            raise refuse("give at least one tracking number", "tracking_numbers", op)
        if len(numbers) > MAX_SUBSCRIPTION_NUMBERS:
            raise refuse(
                f"Track Alert takes at most {MAX_SUBSCRIPTION_NUMBERS} numbers per request",
                "tracking_numbers",
                op,
            )
        kind = "enhanced" if enhanced else "standard"
        path = f"/track/{VERSIONS['track_alert']}/subscription/{kind}/package"
        response = yield self._post(
            path, {"locale": self.config.locale, "trackingNumberList": numbers}
        )
        data = response.json()
        return (
            [str(n) for n in _list(data.get("validTrackingNumbers"))],
            [str(n) for n in _list(data.get("invalidTrackingNumbers"))],
        )
