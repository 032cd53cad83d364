"""The ``dhl_express`` driver: the MyDHL API (DHL Express), facts from its OpenAPI document 3.1.1.

Authentication is HTTP Basic with the API key and secret DHL issues; the test environment is
``https://express.api.dhl.com/mydhlapi/test`` (the default), production drops ``/test``. The
canonical ``service`` is DHL's ``productCode`` (``"P"`` Express Worldwide, ``"U"`` within the EU,
``"N"`` domestic). Shipments are dated by ``Shipment.ship_date`` (or ``created_at``): a driver
reads no clock, and DHL needs the planned shipping time.

DHL has no shipment cancel: an unused waybill is simply never billed. The capability is not
declared and ``cancel_shipment`` raises :class:`~shipsync.errors.UnsupportedOperationError`
saying so; cancel the pickup instead. Customs data is checked before any request (see
:func:`~shipsync.carriers.dhl_express._customs.check_customs`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from shipsync.canonical import (
    Address,
    ChargeType,
    Contact,
    DeliveryDocument,
    FreightCharge,
    Label,
    LabelFormat,
    Location,
    Milestone,
    Money,
    Package,
    Pickup,
    ProofOfDelivery,
    Rate,
    Reason,
    Shipment,
    TrackingEvent,
    WeightUnit,
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
from shipsync.carriers.dhl_express._customs import check_customs, customs_error
from shipsync.carriers.dhl_express._mapping import (
    CHARGE_SERVICE_CODES,
    DOCUMENT_TYPES,
    EVENT_CODES,
    PAPERLESS_TRADE_SERVICE,
    PRODUCTS,
)
from shipsync.errors import CarrierRequestError, CarrierResponseError, ConfigurationError

__all__ = ["NO_CANCEL_REASON", "SPEC_VERSION", "DhlExpressConfig", "DhlExpressDriver"]

#: The MyDHL API OpenAPI document version this driver was built from.
SPEC_VERSION = "3.1.1"
NAME = "dhl_express"
NO_CANCEL_REASON = (
    "DHL Express has no shipment cancellation; an unused waybill is not billed "
    "(cancel the pickup with cancel_pickup instead)"
)
_CENT = Decimal("0.001")


class DhlExpressConfig(CarrierConfig):
    """Configuration of the ``dhl_express`` driver.

    ``api_key`` and ``api_secret`` are the MyDHL API credentials (HTTP Basic);
    ``account_number`` the shipper account billed. ``pickup_with_shipment`` books DHL's courier
    with each shipment. ``ready_time`` and ``utc_offset`` complete the planned shipping time
    (``ship_date`` plus that local time).
    """

    base_url: str = "https://express.api.dhl.com/mydhlapi/test"
    api_secret: SecretStr | None = None
    pickup_with_shipment: bool = False
    ready_time: str = "10:00:00"
    utc_offset: str = "+00:00"
    requestor_name: str = "shipsync"


def _loads(response: CarrierResponse) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise CarrierResponseError("response body is not valid JSON") from exc


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CarrierResponseError(f"{what} is not an object", code="unexpected_response")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise CarrierResponseError(f"{what} is not a list", code="unexpected_response")
    return value


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise CarrierResponseError(f"{what} is not a number", code="unexpected_response")
    return Decimal(value)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _segment(value: str) -> str:
    return quote(value, safe="") if value not in (".", "..") else value.replace(".", "%2E")


def _bad_input(message: str, path: str) -> CarrierRequestError:
    error = CarrierRequestError(message, carrier=NAME, code="invalid_input")
    error.path = path
    return error


class DhlExpressDriver(Driver):
    """DHL Express (MyDHL API): rates, shipments with customs and paperless trade, tracking with
    piece-level events, pickups, address validation and proof of delivery."""

    info = DriverInfo(
        name=NAME,
        display_name="DHL Express (MyDHL API)",
        api_version=DRIVER_API_VERSION,
        capabilities=[
            Capability.VALIDATE_ADDRESS,
            Capability.QUOTE_RATES,
            Capability.CREATE_SHIPMENT,
            Capability.SCHEDULE_PICKUP,
            Capability.CANCEL_PICKUP,
            Capability.TRACK,
            Capability.QUOTE_LANDED_COST,
            Capability.FETCH_PROOF_OF_DELIVERY,
            Capability.UPDATE_PICKUP,
        ],
        services=tuple(PRODUCTS),
        label_formats=[LabelFormat.PDF, LabelFormat.ZPL],
        description="DHL Express MyDHL API 3.1.1 (HTTP Basic)",
        unsupported_reasons=[(Capability.CANCEL_SHIPMENT, NO_CANCEL_REASON)],
    )
    config_model = DhlExpressConfig
    config: DhlExpressConfig

    # -- building blocks ------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        key, secret = self.config.api_key, self.config.api_secret
        if key is None or secret is None:
            raise ConfigurationError("dhl_express needs api_key and api_secret", path="api_key")
        pair = f"{key.get_secret_value()}:{secret.get_secret_value()}".encode()
        return {
            "authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
            "x-version": SPEC_VERSION,
        }

    def _request(
        self, method: str, path: str, payload: Any = None, **kwargs: Any
    ) -> CarrierRequest:
        if payload is None:
            return CarrierRequest(
                method, path, headers=self._headers(), authenticated=False, **kwargs
            )
        return CarrierRequest.json(
            method, path, payload, headers=self._headers(), authenticated=False, **kwargs
        )

    def _account(self) -> str:
        if not self.config.account_number:
            raise ConfigurationError("dhl_express needs account_number", path="account_number")
        return self.config.account_number

    def parse_error(self, response: CarrierResponse) -> tuple[str | None, str | None]:
        """DHL's problem answers: ``{"status": "400", "title", "detail", ...}``."""
        data = response.json()
        return _text(data.get("status")), _text(data.get("detail")) or _text(data.get("title"))

    def _planned(self, shipment: Shipment) -> str:
        day = shipment.ship_date or (shipment.created_at.date() if shipment.created_at else None)
        if day is None:
            raise _bad_input("DHL needs the planned shipping date", "ship_date")
        return f"{day.isoformat()}T{self.config.ready_time}GMT{self.config.utc_offset}"

    @staticmethod
    def _metric(shipment: Shipment) -> list[dict[str, Any]]:
        packages = []
        for package in shipment.packages:
            parcel = package.parcel
            item: dict[str, Any] = {
                "weight": _number(max(parcel.weight.to(WeightUnit.KG).value, Decimal("0.001")))
            }
            if parcel.dimensions is not None:
                dims = parcel.dimensions.to("cm")
                item["dimensions"] = {
                    "length": _number(max(dims.length, Decimal(1))),
                    "width": _number(max(dims.width, Decimal(1))),
                    "height": _number(max(dims.height, Decimal(1))),
                }
            packages.append(item)
        return packages

    @staticmethod
    def _place(address: Address, *, full: bool) -> dict[str, Any]:
        lines = [line[:45] for line in address.street]
        place: dict[str, Any] = {
            "postalCode": address.postal_code or "",
            "cityName": (address.city or "")[:45],
            "countryCode": address.country,
        }
        if address.state:
            place["provinceCode"] = address.state[:35]
        for index, line in enumerate(lines[:3]):
            place[f"addressLine{index + 1}"] = line
        if full and not lines:
            raise _bad_input("DHL needs a street line", "street")
        return place

    @staticmethod
    def _contact(address: Address, where: str) -> dict[str, Any]:
        contact = address.contact or Contact()
        name = address.name or contact.name
        phone = contact.phone
        if not name:
            raise _bad_input("DHL needs a contact name", f"{where}.name")
        if not phone:
            raise _bad_input("DHL needs a contact phone", f"{where}.contact.phone")
        data: dict[str, Any] = {
            "fullName": name[:255],
            "companyName": (address.company or contact.company or name)[:100],
            "phone": phone[:70],
        }
        if contact.email:
            data["email"] = contact.email[:70]
        return data

    def _party(self, address: Address, where: str) -> dict[str, Any]:
        return {
            "postalAddress": self._place(address, full=True),
            "contactInformation": self._contact(address, where),
        }

    def _declarable(self, shipment: Shipment) -> bool:
        return shipment.customs is not None

    # -- rates ----------------------------------------------------------------------------------

    def rate_request(self, shipment: Shipment) -> dict[str, Any]:
        """The ``POST /rates`` body for ``shipment``."""
        body: dict[str, Any] = {
            "customerDetails": {
                "shipperDetails": self._place(shipment.shipper, full=False),
                "receiverDetails": self._place(shipment.recipient, full=False),
            },
            "accounts": [{"typeCode": "shipper", "number": self._account()}],
            "plannedShippingDateAndTime": self._planned(shipment),
            "unitOfMeasurement": "metric",
            "isCustomsDeclarable": self._declarable(shipment),
            "packages": self._metric(shipment),
        }
        if shipment.customs is not None:
            total = sum((line.value.amount for line in shipment.customs.commodities), Decimal(0))
            body["monetaryAmount"] = [
                {
                    "typeCode": "declaredValue",
                    "value": _number(total),
                    "currency": shipment.customs.commodities[0].value.currency,
                }
            ]
        return body

    def _rate(self, product: Mapping[str, Any]) -> Rate:
        prices = [_mapping(p, "totalPrice") for p in _list(product["totalPrice"], "totalPrice")]
        billed = next((p for p in prices if p.get("currencyType") == "BILLC"), prices[0])
        currency = str(billed["priceCurrency"])
        total = Money.of(_decimal(billed["price"], "price"), currency)
        charges = self._charges(product, currency, total)
        delivery = product.get("deliveryCapabilities")
        days = delivery.get("totalTransitDays") if isinstance(delivery, Mapping) else None
        estimated = (
            delivery.get("estimatedDeliveryDateAndTime") if isinstance(delivery, Mapping) else None
        )
        return Rate(
            carrier=NAME,
            service=str(product["productCode"]),
            total=total,
            charges=charges,
            transit_days=int(days) if isinstance(days, int | str) and str(days).isdigit() else None,
            estimated_delivery=date.fromisoformat(estimated[:10])
            if isinstance(estimated, str) and estimated
            else None,
        )

    @staticmethod
    def _charges(
        product: Mapping[str, Any], currency: str, total: Money
    ) -> tuple[FreightCharge, ...]:
        """The billed-currency breakdown, when it is in one currency and adds up to the total
        (DHL's breakdowns sometimes mix currencies: then none is kept, never a converted sum)."""
        for block in product.get("detailedPriceBreakdown") or ():
            if not isinstance(block, Mapping) or block.get("priceCurrency") != currency:
                continue
            charges = []
            for index, item in enumerate(_list(block.get("breakdown") or [], "breakdown")):
                item = _mapping(item, "breakdown")
                if item.get("price") is None:
                    continue
                own = item.get("priceCurrency", currency)
                if own != currency:
                    return ()
                code = _text(item.get("serviceCode"))
                kind = (
                    ChargeType.BASE_FREIGHT
                    if index == 0 and code is None
                    else CHARGE_SERVICE_CODES.get(code or "", ChargeType.ACCESSORIAL)
                )
                amount = Money.of(_decimal(item["price"], "price"), currency)
                charges.append(
                    FreightCharge(
                        type=kind,
                        amount=amount,
                        description=str(item.get("name") or "")[:200] or None,
                        carrier_code=code,
                    )
                )
            if sum((c.amount.amount for c in charges), Decimal(0)) == total.amount:
                return tuple(charges)
        return ()

    def quote_rates(self, shipment: Shipment) -> Flow[list[Rate]]:
        """``POST /rates``: one rate per product DHL offers for the shipment."""
        check_customs(shipment)
        response = yield self._request("POST", "/rates", self.rate_request(shipment))
        products = _list(_mapping(_loads(response), "rates")["products"], "products")
        return [self._rate(_mapping(p, "product")) for p in products]

    def quote_landed_cost(self, shipment: Shipment) -> Flow[Rate]:
        """``POST /landed-cost``: the total with duties and taxes for a declarable shipment.

        The breakdown is kept only when it is in the total's currency and adds up to it.
        """
        customs = shipment.customs
        if customs is None:
            raise _bad_input("a landed cost needs customs lines", "customs")
        check_customs(shipment)
        currency = customs.commodities[0].value.currency
        items = []
        for number, line in enumerate(customs.commodities, start=1):
            unit = (line.value.amount / line.quantity).quantize(_CENT, ROUND_HALF_UP)
            item: dict[str, Any] = {
                "number": number,
                "quantity": line.quantity,
                "unitPrice": _number(unit),
                "unitPriceCurrencyCode": currency,
                "manufacturerCountry": line.origin_country,
            }
            if line.hs_code:
                item["commodityCode"] = line.hs_code
            items.append(item)
        body = {
            "customerDetails": {
                "shipperDetails": self._place(shipment.shipper, full=False),
                "receiverDetails": self._place(shipment.recipient, full=False),
            },
            "accounts": [{"typeCode": "shipper", "number": self._account()}],
            "productCode": shipment.service,
            "unitOfMeasurement": "metric",
            "currencyCode": currency,
            "isCustomsDeclarable": True,
            "getCostBreakdown": True,
            "packages": self._metric(shipment),
            "items": items,
        }
        response = yield self._request("POST", "/landed-cost", body)
        products = _list(_mapping(_loads(response), "landed cost")["products"], "products")
        product = _mapping(products[0], "product")
        rate = self._rate({**product, "productCode": shipment.service})
        return rate

    # -- shipments ------------------------------------------------------------------------------

    def shipment_request(self, shipment: Shipment, label_format: LabelFormat) -> dict[str, Any]:
        """The ``POST /shipments`` body (customs, paperless trade and pickup included)."""
        if label_format not in (LabelFormat.PDF, LabelFormat.ZPL):
            raise _bad_input("DHL labels are PDF or ZPL", "label_format")
        packages = self._metric(shipment)
        for index, (item, package) in enumerate(zip(packages, shipment.packages, strict=True)):
            reference = package.parcel.reference or f"{shipment.shipment_id}-{index + 1}"
            item["customerReferences"] = [{"typeCode": "CU", "value": reference[:35]}]
        content: dict[str, Any] = {
            "packages": packages,
            "isCustomsDeclarable": self._declarable(shipment),
            "description": (
                shipment.packages[0].parcel.description
                or (shipment.customs.contents if shipment.customs else "goods")
            )[:70],
            "incoterm": shipment.customs.incoterm.value if shipment.customs else "DAP",
            "unitOfMeasurement": "metric",
        }
        body: dict[str, Any] = {
            "plannedShippingDateAndTime": self._planned(shipment),
            "pickup": {"isRequested": self.config.pickup_with_shipment},
            "productCode": shipment.service[:6],
            "accounts": [{"typeCode": "shipper", "number": self._account()}],
            "customerDetails": {
                "shipperDetails": self._party(shipment.shipper, "shipper"),
                "receiverDetails": self._party(shipment.recipient, "recipient"),
            },
            "content": content,
            "outputImageProperties": {
                "encodingFormat": label_format.value,
                "imageOptions": [{"typeCode": "label", "isRequested": True}],
            },
            "customerReferences": [{"typeCode": "CU", "value": shipment.shipment_id[:35]}],
        }
        customs = shipment.customs
        if customs is not None:
            check_customs(shipment)
            currency = customs.commodities[0].value.currency
            total = sum((line.value.amount for line in customs.commodities), Decimal(0))
            content["declaredValue"] = _number(total)
            content["declaredValueCurrency"] = currency
            content["exportDeclaration"] = self._declaration(shipment)
            if customs.documents:
                body["documentImages"] = [
                    {
                        "typeCode": DOCUMENT_TYPES[doc.kind],
                        "imageFormat": doc.format.upper(),
                        "content": base64.b64encode(doc.data).decode("ascii"),
                    }
                    for doc in customs.documents
                ]
                body["valueAddedServices"] = [{"serviceCode": PAPERLESS_TRADE_SERVICE}]
        return body

    def _declaration(self, shipment: Shipment) -> dict[str, Any]:
        customs = shipment.customs
        assert customs is not None
        lines = []
        for number, line in enumerate(customs.commodities, start=1):
            unit = (line.value.amount / line.quantity).quantize(_CENT, ROUND_HALF_UP)
            item: dict[str, Any] = {
                "number": number,
                "description": line.description[:512],
                "price": _number(unit),
                "quantity": {"value": line.quantity, "unitOfMeasurement": "PCS"},
                "manufacturerCountry": line.origin_country,
                "weight": {
                    "netValue": _number(line.weight.to(WeightUnit.KG).value) if line.weight else 0,
                    "grossValue": _number(line.weight.to(WeightUnit.KG).value)
                    if line.weight
                    else 0,
                },
            }
            if line.hs_code:
                item["commodityCodes"] = [{"typeCode": "outbound", "value": line.hs_code}]
            lines.append(item)
        invoice_day = customs.invoice_date or shipment.ship_date
        if invoice_day is None and shipment.created_at is not None:
            invoice_day = shipment.created_at.date()
        if invoice_day is None:
            raise customs_error("the invoice needs a date", "customs.invoice_date")
        declaration: dict[str, Any] = {
            "lineItems": lines,
            "invoice": {
                "number": str(customs.invoice_number)[:35],
                "date": invoice_day.isoformat(),
            },
        }
        if customs.export_reason:
            declaration["exportReason"] = customs.export_reason[:30]
        return declaration

    def create_shipment(
        self, shipment: Shipment, *, label_format: LabelFormat, idempotency_key: str
    ) -> Flow[Shipment]:
        """``POST /shipments``: the waybill number, one tracking number per piece, the label."""
        check_customs(shipment)
        body = self.shipment_request(shipment, label_format)
        response = yield self._request("POST", "/shipments", body)
        data = _mapping(_loads(response), "shipment")
        waybill = str(data["shipmentTrackingNumber"])
        pieces = _list(data.get("packages") or [], "packages")
        if len(pieces) != len(shipment.packages):
            raise CarrierResponseError(
                "DHL answered a different number of pieces", code="package_count"
            )
        labels = [
            base64.b64decode(str(doc["content"]), validate=True)
            for doc in (_mapping(d, "document") for d in _list(data["documents"], "documents"))
            if doc.get("typeCode") == "label"
        ]
        if not labels:
            raise CarrierResponseError("DHL returned no label", code="no_label")
        packages = []
        for index, (package, piece) in enumerate(zip(shipment.packages, pieces, strict=True)):
            number = str(_mapping(piece, "package")["trackingNumber"])
            # One label document per piece when DHL splits them, else one for the shipment.
            raw = (
                labels[index] if len(labels) == len(pieces) else (labels[0] if index == 0 else None)
            )
            label = (
                Label(tracking_number=number, format=label_format, data=raw)
                if raw is not None
                else None
            )
            packages.append(Package(parcel=package.parcel, tracking_number=number, label=label))
        return shipment.model_copy(
            update={"carrier_shipment_id": waybill, "packages": tuple(packages)}
        )

    def cancel_shipment(self, carrier_shipment_id: str) -> Flow[None]:
        """DHL Express cannot cancel a shipment: always the typed unsupported error."""
        raise self._unsupported(Capability.CANCEL_SHIPMENT)

    # -- tracking and proof of delivery ---------------------------------------------------------

    def _event(
        self,
        item: Mapping[str, Any],
        waybill: str,
        number: str,
        received_at: datetime,
        piece: str | None,
    ) -> TrackingEvent:
        code = str(item["typeCode"])
        milestone, reason = EVENT_CODES.get(code, (Milestone.UNKNOWN, Reason.UNKNOWN))
        offset = _text(item.get("GMTOffset")) or "+00:00"
        local = f"{item['date']}T{item['time']}{offset}"
        occurred = datetime.fromisoformat(local).astimezone(UTC)
        description = str(item.get("description") or "")[:4000]
        areas = item.get("serviceArea") or []
        area = _mapping(areas[0], "serviceArea") if areas else {}
        facility = _text(area.get("description"))
        fingerprint = "|".join((waybill, piece or "", occurred.isoformat(), code, description))
        return TrackingEvent(
            event_id=f"{NAME}:{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}",
            shipment_id=waybill,
            tracking_number=number,
            carrier=NAME,
            milestone=milestone,
            reason=reason,
            occurred_at=occurred,
            recorded_at=received_at,
            carrier_code=code,
            carrier_description=description,
            location=Location(facility=facility[:200]) if facility else None,
            package_reference=piece,
        )

    def _events(
        self, data: Mapping[str, Any], received_at: datetime
    ) -> tuple[list[TrackingEvent], Mapping[str, Any]]:
        shipments = _list(_mapping(data, "tracking")["shipments"], "shipments")
        shipment = _mapping(shipments[0], "shipment")
        waybill = str(shipment["shipmentTrackingNumber"])
        events = [
            self._event(_mapping(e, "event"), waybill, waybill, received_at, None)
            for e in _list(shipment.get("events") or [], "events")
        ]
        for piece in _list(shipment.get("pieces") or [], "pieces"):
            piece = _mapping(piece, "piece")
            number = str(piece["trackingNumber"])
            events.extend(
                self._event(_mapping(e, "event"), waybill, number, received_at, number)
                for e in _list(piece.get("events") or [], "events")
            )
        return sorted(events, key=lambda e: (e.occurred_at, e.event_id)), shipment

    def _tracking_request(self, tracking_number: str) -> CarrierRequest:
        params = (
            ("trackingView", "all-checkpoints"),
            ("levelOfDetail", "all"),
            ("requestGMTOffsetPerEvent", "true"),
        )
        path = f"/shipments/{_segment(tracking_number)}/tracking"
        return self._request("GET", path, params=params)

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        """``GET /shipments/{n}/tracking`` with every checkpoint, shipment and piece level."""
        response = yield self._tracking_request(tracking_number)
        events, _shipment = self._events(_loads(response), received_at)
        return events

    def fetch_proof_of_delivery(
        self, tracking_number: str, *, shipment_id: str | None = None, received_at: datetime
    ) -> Flow[ProofOfDelivery]:
        """Tracking (for the delivery time and signer), then ``GET
        /shipments/{n}/proof-of-delivery`` for the documents; not delivered yet is a typed error."""
        response = yield self._tracking_request(tracking_number)
        events, _shipment = self._events(_loads(response), received_at)
        delivered = [e for e in events if e.milestone is Milestone.DELIVERED]
        if not delivered:
            raise CarrierRequestError(
                "the shipment is not delivered yet", carrier=NAME, code="not_delivered"
            )
        last = delivered[-1]
        path = f"/shipments/{_segment(tracking_number)}/proof-of-delivery"
        params = (("shipperAccountNumber", self._account()), ("content", "epod-summary"))
        response = yield self._request("GET", path, params=params)
        documents = tuple(
            DeliveryDocument(
                format=str(doc.get("encodingFormat") or "pdf").lower(),
                data=base64.b64decode(str(doc["content"]), validate=True),
            )
            for doc in (
                _mapping(d, "document")
                for d in _list(_mapping(_loads(response), "epod")["documents"], "documents")
            )
        )
        return ProofOfDelivery(
            shipment_id=shipment_id or tracking_number,
            tracking_number=tracking_number,
            delivered_at=last.occurred_at,
            location=last.location,
            documents=documents,
        )

    # -- pickups and addresses ------------------------------------------------------------------

    def pickup_request(self, request: PickupRequest) -> dict[str, Any]:
        """The ``POST /pickups`` body."""
        offset = request.ready_from.utcoffset() or timedelta(0)
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(int(offset.total_seconds())) // 60
        planned = request.ready_from.strftime("%Y-%m-%dT%H:%M:%S")
        zone = f"GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}"
        body: dict[str, Any] = {
            "plannedPickupDateAndTime": f"{planned} {zone}",
            "closeTime": request.ready_until.astimezone(request.ready_from.tzinfo).strftime(
                "%H:%M"
            ),
            "accounts": [{"typeCode": "shipper", "number": self._account()}],
            "customerDetails": {"shipperDetails": self._party(request.address, "address")},
            "shipmentDetails": [
                {
                    "productCode": "P",
                    "isCustomsDeclarable": False,
                    "unitOfMeasurement": "metric",
                    "packages": [{"weight": 1}],
                }
            ],
        }
        if request.instructions:
            body["remark"] = request.instructions[:80]
        return body

    def schedule_pickup(self, request: PickupRequest, *, idempotency_key: str) -> Flow[Pickup]:
        """``POST /pickups``: DHL's dispatch confirmation number."""
        response = yield self._request("POST", "/pickups", self.pickup_request(request))
        numbers = _list(
            _mapping(_loads(response), "pickup")["dispatchConfirmationNumbers"],
            "dispatchConfirmationNumbers",
        )
        return Pickup(
            carrier=NAME,
            confirmation_number=str(numbers[0]),
            address=request.address,
            ready_from=request.ready_from,
            ready_until=request.ready_until,
            tracking_numbers=request.tracking_numbers,
            instructions=request.instructions,
        )

    def update_pickup(self, confirmation_number: str, request: PickupRequest) -> Flow[Pickup]:
        """``PATCH /pickups/{n}``: move or change a booked pickup."""
        body = {
            **self.pickup_request(request),
            "dispatchConfirmationNumber": confirmation_number,
            "originalShipperAccountNumber": self._account(),
        }
        path = f"/pickups/{_segment(confirmation_number)}"
        response = yield self._request("PATCH", path, body)
        data = _mapping(_loads(response), "pickup")
        return Pickup(
            carrier=NAME,
            confirmation_number=str(data.get("dispatchConfirmationNumber") or confirmation_number),
            address=request.address,
            ready_from=request.ready_from,
            ready_until=request.ready_until,
            tracking_numbers=request.tracking_numbers,
            instructions=request.instructions,
        )

    def cancel_pickup(self, confirmation_number: str) -> Flow[None]:
        """``DELETE /pickups/{n}?requestorName=…&reason=…`` (DHL answers 200 with no body)."""
        params = (("requestorName", self.config.requestor_name), ("reason", "not needed"))
        path = f"/pickups/{_segment(confirmation_number)}"
        response = yield self._request("DELETE", path, params=params)
        if response.content.strip():
            _mapping(_loads(response), "cancellation")

    def validate_address(self, address: Address) -> Flow[AddressValidation]:
        """``GET /address-validate?type=delivery``: DHL checks country, postal code and city."""
        params = [("type", "delivery"), ("countryCode", address.country)]
        if address.postal_code:
            params.append(("postalCode", address.postal_code[:12]))
        if address.city:
            params.append(("cityName", address.city[:45]))
        response = yield self._request("GET", "/address-validate", params=tuple(params))
        data = _mapping(_loads(response), "address validation")
        found = [_mapping(a, "address") for a in _list(data.get("address") or [], "address")]
        warnings = tuple(str(w)[:200] for w in _list(data.get("warnings") or [], "warnings"))
        suggestions = tuple(
            address.model_copy(
                update={
                    "postal_code": str(item["postalCode"]) or address.postal_code,
                    "city": _text(item.get("cityName")) or address.city,
                }
            )
            for item in found
        )
        return AddressValidation(
            valid=bool(found), address=address, suggestions=suggestions, messages=warnings
        )
