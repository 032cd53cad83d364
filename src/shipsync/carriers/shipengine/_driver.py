"""The ``shipengine`` driver: ShipEngine (ShipStation API), one key for dozens of carriers.

Facts from ``ShipEngine/shipengine-openapi`` (openapi.yaml 1.1.202604070904). Authentication is the
``API-Key`` header; keys starting ``TEST_`` address the sandbox at the same base URL.

**Carriers and services.** A canonical shipment's ``service`` is ``"<carrier_code>:<service_code>"``
(``"ups:ups_ground"``, ``"stamps_com:usps_priority_mail"``); the driver maps ``carrier_code`` to
the connected account's ``carrier_id`` through ``carrier_ids`` in the configuration. With one
connected account a bare service code is enough. Rates are quoted for every configured account
at once (when none are configured the flow first lists the accounts connected to the key with
``GET /v1/carriers``); each rate's ``service`` comes back in the same ``carrier:service`` form, so
it can be booked as it is.

**Ids.** ``carrier_shipment_id`` is ShipEngine's ``label_id``: void, returns, pickups and
manifests take label ids. ``track`` takes ``"<carrier_code>:<tracking number>"`` or a label id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import attrs
from pydantic import Field

from shipsync.canonical import (
    Address,
    ChargeType,
    Contact,
    Event,
    FreightCharge,
    Label,
    LabelFormat,
    Location,
    Manifest,
    ManifestDocument,
    ManifestFormat,
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
    ManifestRequest,
    PickupRequest,
)
from shipsync.carriers._http import CarrierRequest, CarrierResponse
from shipsync.carriers._mapping import PARSE_ERRORS
from shipsync.carriers.shipengine._mapping import (
    DETAIL_CODES,
    LABEL_FORMATS,
    LENGTH_UNITS,
    STATUS_CODES,
    WEBHOOK_RESOURCE_TYPES,
    WEIGHT_UNITS,
)
from shipsync.carriers.shipengine._webhooks import (
    DEFAULT_SOURCE,
    parse_webhook_events,
    webhook_parser,
)
from shipsync.errors import CarrierRequestError, CarrierResponseError, ConfigurationError
from shipsync.webhooks import SHIPENGINE_SCHEME, WebhookParser

__all__ = ["SPEC_VERSION", "ShipEngineBatch", "ShipEngineConfig", "ShipEngineDriver"]

#: The version of ``ShipEngine/shipengine-openapi``'s openapi.yaml this driver was built from.
SPEC_VERSION = "1.1.202604070904"
NAME = "shipengine"


class ShipEngineConfig(CarrierConfig):
    """Configuration of the ``shipengine`` driver.

    ``api_key`` is required (``TEST_…`` for the sandbox). ``carrier_ids`` maps carrier codes to
    the ``carrier_id`` of the accounts to use (``{"ups": "se-123"}``); ``warehouse_id`` is the
    ship-from warehouse an end-of-day manifest closes.
    """

    base_url: str = "https://api.shipengine.com"
    carrier_ids: dict[str, str] = Field(default_factory=dict)
    warehouse_id: str | None = None
    label_layout: str = "4x6"


@attrs.frozen
class ShipEngineBatch:
    """A ShipEngine batch: many labels bought in one go (its ``API_BATCH`` webhook says when
    they are ready; ``status`` is ShipEngine's, such as ``open`` or ``completed``)."""

    batch_id: str
    status: str
    count: int


def _number(value: Decimal) -> int | float:
    """A Decimal as a JSON number (short decimals round-trip exactly through float's repr)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _loads(response: CarrierResponse) -> Any:
    """The body as JSON with exact decimals (ShipEngine sends amounts as JSON numbers)."""
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


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _code(value: object) -> str | None:
    """A postal code: documented examples send some unquoted, so integers are read as text."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return _text(value)


def _money(data: Mapping[str, Any]) -> Money:
    amount = data["amount"]
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise CarrierResponseError("an amount is not a number", code="unexpected_response")
    return Money.of(Decimal(amount), str(data["currency"]).upper())


def _datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise CarrierResponseError("a time is not a string", code="unexpected_response")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise CarrierResponseError("a time has no UTC offset", code="unexpected_response")
    return moment


class ShipEngineDriver(Driver):
    """ShipEngine: rates across connected carriers, labels, voids, returns, tracking, pickups,
    end-of-day manifests and RSA-signed webhooks."""

    info = DriverInfo(
        name=NAME,
        display_name="ShipEngine (ShipStation API)",
        api_version=DRIVER_API_VERSION,
        capabilities=[
            Capability.VALIDATE_ADDRESS,
            Capability.QUOTE_RATES,
            Capability.CREATE_SHIPMENT,
            Capability.CANCEL_SHIPMENT,
            Capability.SCHEDULE_PICKUP,
            Capability.CANCEL_PICKUP,
            Capability.TRACK,
            Capability.PARSE_WEBHOOK,
            Capability.CREATE_RETURN,
            Capability.CREATE_MANIFEST,
        ],
        services=("<carrier_code>:<service_code>",),
        label_formats=[LabelFormat.PDF, LabelFormat.PNG, LabelFormat.ZPL],
        signature_scheme=SHIPENGINE_SCHEME.name,
        description="ShipEngine/ShipStation API: one key, many carriers (API-Key header)",
    )
    config_model = ShipEngineConfig
    signature_scheme = SHIPENGINE_SCHEME
    config: ShipEngineConfig

    # -- building blocks ------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        key = self.config.api_key
        if key is None or not key.get_secret_value():
            raise ConfigurationError("shipengine needs api_key", path="api_key")
        return {"API-Key": key.get_secret_value()}

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

    def parse_error(self, response: CarrierResponse) -> tuple[str | None, str | None]:
        """``{"request_id": ..., "errors": [{"error_code", "message", ...}]}``."""
        errors = response.json().get("errors") or []
        first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
        return _text(first.get("error_code")), _text(first.get("message"))

    def _carrier(self, service: str) -> tuple[str, str, str]:
        """``(carrier_code, carrier_id, service_code)`` for a canonical service."""
        code, colon, service_code = service.partition(":")
        accounts = self.config.carrier_ids
        if not colon:
            if len(accounts) != 1:
                raise _bad_input(
                    "service must be '<carrier_code>:<service_code>' unless exactly one carrier "
                    "account is configured",
                    path="service",
                )
            ((code, carrier_id),) = accounts.items()
            return code, carrier_id, service
        if code not in accounts:
            raise ConfigurationError(
                f"no carrier_id is configured for carrier code {code!r}", path="carrier_ids"
            )
        if not service_code:
            raise _bad_input("the service code is empty", path="service")
        return code, accounts[code], service_code

    @staticmethod
    def address_json(address: Address, *, phone_required: bool = False) -> dict[str, Any]:
        """ShipEngine's ``address`` object."""
        lines: list[str | None] = [*address.street, None, None, None]
        contact = address.contact or Contact()
        phone = contact.phone
        if phone_required and not phone:
            raise _bad_input(
                "ShipEngine needs a phone number on the ship-from address",
                path="shipper.contact.phone",
            )
        data: dict[str, Any] = {
            "name": address.name or contact.name or address.company or "",
            "phone": phone,
            "company_name": address.company,
            "address_line1": lines[0] or "",
            "address_line2": lines[1],
            "address_line3": lines[2],
            "city_locality": address.city or "",
            "state_province": address.state,
            "postal_code": address.postal_code,
            "country_code": address.country,
            "address_residential_indicator": {True: "yes", False: "no", None: "unknown"}[
                address.residential
            ],
        }
        if contact.email:
            data["email"] = contact.email
        return {k: v for k, v in data.items() if v is not None}

    def shipment_json(self, shipment: Shipment) -> dict[str, Any]:
        """ShipEngine's ``shipment`` object for a label: the body plus carrier and service."""
        _code, carrier_id, service_code = self._carrier(shipment.service)
        return {"carrier_id": carrier_id, "service_code": service_code, **self._body(shipment)}

    def _body(self, shipment: Shipment) -> dict[str, Any]:
        """The shipment without carrier and service (rates quote every account at once)."""
        packages = []
        for index, package in enumerate(shipment.packages):
            parcel = package.parcel
            weight = parcel.weight
            item: dict[str, Any] = {
                "weight": {"value": _number(weight.value), "unit": WEIGHT_UNITS[weight.unit]}
            }
            if parcel.dimensions is not None:
                dims = parcel.dimensions
                if dims.unit not in LENGTH_UNITS:
                    dims = dims.to("cm")
                item["dimensions"] = {
                    "unit": LENGTH_UNITS[dims.unit],
                    "length": _number(dims.length),
                    "width": _number(dims.width),
                    "height": _number(dims.height),
                }
            item["external_package_id"] = parcel.reference or f"{shipment.shipment_id}-{index + 1}"
            packages.append(item)
        data: dict[str, Any] = {
            "external_shipment_id": shipment.shipment_id[:50],
            "ship_to": self.address_json(shipment.recipient),
            "ship_from": self.address_json(shipment.shipper, phone_required=True),
            "packages": packages,
        }
        if shipment.customs is not None:
            data["customs"] = self.customs_json(shipment)
        return data

    @staticmethod
    def customs_json(shipment: Shipment) -> dict[str, Any]:
        """The ``international_shipment_options`` of a shipment with customs data."""
        customs = shipment.customs
        assert customs is not None
        contents = customs.contents.lower()
        known = {"merchandise", "documents", "gift", "returned_goods", "sample", "other"}
        items = []
        for line in customs.commodities:
            item: dict[str, Any] = {
                "description": line.description,
                "quantity": line.quantity,
                "value": _number(line.value.amount),
                "value_currency": line.value.currency,
                "country_of_origin": line.origin_country,
            }
            if line.hs_code:
                item["harmonized_tariff_code"] = line.hs_code
            if line.weight is not None:
                item["weight"] = {
                    "value": _number(line.weight.value),
                    "unit": WEIGHT_UNITS[line.weight.unit],
                }
            items.append(item)
        return {
            "contents": contents if contents in known else "other",
            "non_delivery": "return_to_sender",
            "terms_of_trade_code": customs.incoterm.value.lower(),
            "customs_items": items,
        }

    # -- parsing --------------------------------------------------------------------------------

    def _rate(self, data: Mapping[str, Any]) -> Rate:
        charges = []
        for field, kind in _AMOUNT_FIELDS.items():
            value = data.get(field)
            if value is None:
                continue
            money = _money(_mapping(value, field))
            if money.amount:
                charges.append(FreightCharge(type=kind, amount=money, carrier_code=field))
        currency = _money(_mapping(data["shipping_amount"], "shipping_amount")).currency
        if any(c.amount.currency != currency for c in charges):
            raise CarrierResponseError("a rate mixes currencies", code="mixed_currencies")
        total = Money.sum((c.amount for c in charges), currency)
        delivery = data.get("estimated_delivery_date")
        days = data.get("delivery_days")
        return Rate(
            carrier=NAME,
            service=f"{data['carrier_code']}:{data['service_code']}",
            total=total,
            charges=tuple(charges),
            transit_days=days if isinstance(days, int) and not isinstance(days, bool) else None,
            estimated_delivery=_datetime(delivery).date() if isinstance(delivery, str) else None,
            quote_id=str(data["rate_id"]),
        )

    def _label_bytes(self, download: Mapping[str, Any]) -> Flow[bytes]:
        """The label's bytes: inline base64 in ``href``, or a download from the URL in it."""
        href = download["href"]
        if not isinstance(href, str) or not href:
            raise CarrierResponseError("the label has no download", code="unexpected_response")
        if href.startswith("http://"):  # documented links say http: never send the key in clear
            href = "https://" + href.removeprefix("http://")
        if href.startswith("https://"):
            response = yield self._request("GET", href)
            return response.content
        return base64.b64decode(href, validate=True)

    def _labelled(
        self, data: Mapping[str, Any], label_format: LabelFormat
    ) -> Flow[tuple[str, list[tuple[str, Label | None]]]]:
        """``(label_id, [(tracking_number, label)])`` of a label answer, one per package."""
        label_id = str(data["label_id"])
        status = data.get("status")
        if status == "error":
            raise CarrierRequestError("ShipEngine could not create the label", code="label_error")
        packages = _list(data.get("packages") or [], "packages")
        top = _mapping(data["label_download"], "label_download")
        result: list[tuple[str, Label | None]] = []
        if not packages:
            number = str(data["tracking_number"])
            raw = yield from self._label_bytes(top)
            return label_id, [
                (number, Label(tracking_number=number, format=label_format, data=raw))
            ]
        for index, item in enumerate(packages):
            item = _mapping(item, "package")
            number = str(item.get("tracking_number") or data["tracking_number"])
            download = item.get("label_download")
            if isinstance(download, Mapping) and download.get("href"):
                raw = yield from self._label_bytes(download)
            elif index == 0:  # one combined label document for the whole shipment
                raw = yield from self._label_bytes(top)
            else:
                result.append((number, None))
                continue
            result.append((number, Label(tracking_number=number, format=label_format, data=raw)))
        return label_id, result

    def _booked(
        self, shipment: Shipment, data: Mapping[str, Any], label_format: LabelFormat
    ) -> Flow[Shipment]:
        label_id, labelled = yield from self._labelled(data, label_format)
        if len(labelled) != len(shipment.packages):
            raise CarrierResponseError(
                "ShipEngine labelled a different number of packages", code="package_count"
            )
        packages = tuple(
            Package(parcel=package.parcel, tracking_number=number, label=label)
            for package, (number, label) in zip(shipment.packages, labelled, strict=True)
        )
        return shipment.model_copy(update={"carrier_shipment_id": label_id, "packages": packages})

    def _label_options(self, label_format: LabelFormat) -> dict[str, Any]:
        return {
            "label_format": LABEL_FORMATS[label_format],
            "label_layout": self.config.label_layout,
            "label_download_type": "inline",
        }

    def _event(self, item: Mapping[str, Any], number: str, received_at: datetime) -> TrackingEvent:
        status = str(item.get("status_code") or "UN")
        detail = _text(item.get("status_detail_code"))
        raw = str(item.get("carrier_status_code") or item.get("carrier_detail_code") or "")
        milestone, reason = DETAIL_CODES.get(detail or "", (None, None)) if detail else (None, None)
        if milestone is None or reason is None:
            milestone, reason = STATUS_CODES.get(status, (Milestone.UNKNOWN, Reason.UNKNOWN))
        occurred = _datetime(item["occurred_at"])
        code = ":".join(part for part in (status, detail, raw) if part)
        description = str(item.get("carrier_status_description") or item.get("description") or "")[
            :4000
        ]
        fingerprint = "|".join((number, occurred.isoformat(), code, description))
        country = _text(item.get("country_code"))
        location = Location(
            city=_text(item.get("city_locality")),
            state=_text(item.get("state_province")),
            postal_code=_code(item.get("postal_code")),
            country=country.upper() if country else None,
        )
        return TrackingEvent(
            event_id=f"{NAME}:{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}",
            shipment_id=number,
            tracking_number=number,
            carrier=NAME,
            milestone=milestone,
            reason=reason,
            occurred_at=occurred,
            recorded_at=received_at,
            carrier_code=code[:200],
            carrier_description=description,
            location=location if any(location.model_dump().values()) else None,
        )

    def _events(self, data: Mapping[str, Any], received_at: datetime) -> list[TrackingEvent]:
        number = str(data["tracking_number"])
        events = [
            self._event(_mapping(item, "event"), number, received_at)
            for item in _list(data.get("events") or [], "events")
        ]
        if not events and data.get("status_code"):
            # No scan yet: the summary status is the one event there is.
            summary = {**data, "occurred_at": data.get("ship_date") or received_at.isoformat()}
            events.append(self._event(summary, number, received_at))
        return sorted(events, key=lambda e: e.occurred_at)

    # -- operations -----------------------------------------------------------------------------

    def validate_address(self, address: Address) -> Flow[AddressValidation]:
        """``POST /v1/addresses/validate`` with one address."""
        response = yield self._request(
            "POST", "/v1/addresses/validate", [self.address_json(address)]
        )
        (result,) = _list(_loads(response), "validation results")
        result = _mapping(result, "validation result")
        status = result["status"]
        if status not in {"verified", "unverified", "warning", "error"}:
            raise CarrierResponseError("unknown validation status", code="unexpected_response")
        messages = tuple(
            str(_mapping(m, "message").get("message") or "")[:200]
            for m in _list(result.get("messages") or [], "messages")
        )
        suggestions: tuple[Address, ...] = ()
        matched = result.get("matched_address")
        if isinstance(matched, Mapping):
            suggestions = (self._address(matched),)
        indicator = matched.get("address_residential_indicator") if matched else None
        return AddressValidation(
            valid=status in {"verified", "warning"},
            address=address,
            suggestions=suggestions,
            messages=messages,
            residential={"yes": True, "no": False}.get(str(indicator)),
        )

    @staticmethod
    def _address(data: Mapping[str, Any]) -> Address:
        lines = tuple(
            str(data[k]) for k in ("address_line1", "address_line2", "address_line3") if data.get(k)
        )
        return Address.model_validate(
            {
                "name": _text(data.get("name")),
                "company": _text(data.get("company_name")),
                "street": lines,
                "city": _text(data.get("city_locality")),
                "state": _text(data.get("state_province")),
                "postal_code": None
                if data.get("postal_code") is None
                else str(data["postal_code"]),
                "country": str(data["country_code"]).upper(),
            }
        )

    def list_carriers(self) -> Flow[dict[str, str]]:
        """``GET /v1/carriers``: the accounts connected to the key, as carrier code → id."""
        response = yield self._request("GET", "/v1/carriers")
        accounts: dict[str, str] = {}
        for item in _list(_mapping(_loads(response), "carriers")["carriers"], "carriers"):
            item = _mapping(item, "carrier")
            accounts.setdefault(str(item["carrier_code"]), str(item["carrier_id"]))
        return accounts

    def quote_rates(self, shipment: Shipment) -> Flow[list[Rate]]:
        """``POST /v1/rates`` for every configured (or else every connected) carrier account."""
        accounts = dict(self.config.carrier_ids)
        if not accounts:
            accounts = yield from self.list_carriers()
            if not accounts:
                raise ConfigurationError("no carrier account is connected", path="carrier_ids")
        body = self._body(shipment)
        payload = {"rate_options": {"carrier_ids": sorted(accounts.values())}, "shipment": body}
        response = yield self._request("POST", "/v1/rates", payload)
        data = _mapping(_mapping(_loads(response), "rates")["rate_response"], "rate_response")
        rates = [self._rate(_mapping(r, "rate")) for r in _list(data.get("rates") or [], "rates")]
        errors = data.get("errors") or []
        if not rates and errors:
            first = _mapping(_list(errors, "errors")[0], "error")
            raise CarrierRequestError(
                "ShipEngine returned no rates",
                code=_text(first.get("error_code")) or "no_rates_returned",
                carrier_message=_text(first.get("message")),
            )
        return rates

    def create_shipment(
        self, shipment: Shipment, *, label_format: LabelFormat, idempotency_key: str
    ) -> Flow[Shipment]:
        """``POST /v1/labels``; ``external_shipment_id`` (our shipment id) makes a retry safe."""
        payload = {"shipment": self.shipment_json(shipment), **self._label_options(label_format)}
        response = yield self._request("POST", "/v1/labels", payload)
        return (
            yield from self._booked(shipment, _mapping(_loads(response), "label"), label_format)
        )

    def label_from_rate(
        self, shipment: Shipment, rate_id: str, *, label_format: LabelFormat = LabelFormat.PDF
    ) -> Flow[Shipment]:
        """``POST /v1/labels/rates/{rate_id}``: book the rate a quote returned (``quote_id``)."""
        path = f"/v1/labels/rates/{_segment(rate_id)}"
        response = yield self._request("POST", path, self._label_options(label_format))
        return (
            yield from self._booked(shipment, _mapping(_loads(response), "label"), label_format)
        )

    def cancel_shipment(self, carrier_shipment_id: str) -> Flow[None]:
        """``PUT /v1/labels/{label_id}/void``; a refused void is a typed request error."""
        path = f"/v1/labels/{_segment(carrier_shipment_id)}/void"
        response = yield self._request("PUT", path)
        data = _mapping(_loads(response), "void")
        if data["approved"] is not True:
            raise CarrierRequestError(
                "ShipEngine refused to void the label",
                code=_text(data.get("reason_code")) or "void_refused",
                carrier_message=_text(data.get("message")),
            )

    def create_return(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Flow[ReturnShipment]:
        """``POST /v1/labels/{label_id}/return`` for the booked shipment's label."""
        if shipment.carrier_shipment_id is None:
            raise _bad_input(
                "a return needs the booked shipment's label id", path="carrier_shipment_id"
            )
        payload = {**self._label_options(label_format), "rma_number": idempotency_key[:50]}
        path = f"/v1/labels/{_segment(shipment.carrier_shipment_id)}/return"
        response = yield self._request("POST", path, payload)
        label_id, labelled = yield from self._labelled(
            _mapping(_loads(response), "label"), label_format
        )
        number, label = labelled[0]
        return ReturnShipment(
            return_id=label_id,
            original_shipment_id=shipment.shipment_id,
            carrier=NAME,
            tracking_number=number,
            label=label,
            reason=reason,
        )

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        """``GET /v1/tracking`` (``carrier_code:number``) or ``GET /v1/labels/{id}/track``."""
        code, colon, number = tracking_number.partition(":")
        if colon and code and number:
            params = (("carrier_code", code), ("tracking_number", number))
            response = yield self._request("GET", "/v1/tracking", params=params)
        elif tracking_number.startswith("se-"):
            path = f"/v1/labels/{_segment(tracking_number)}/track"
            response = yield self._request("GET", path)
        else:
            raise _bad_input(
                "track needs '<carrier_code>:<tracking number>' or a label id",
                path="tracking_number",
            )
        return self._events(_mapping(_loads(response), "tracking"), received_at)

    def schedule_pickup(self, request: PickupRequest, *, idempotency_key: str) -> Flow[Pickup]:
        """``POST /v1/pickups``: ``request.tracking_numbers`` are the label ids to collect."""
        contact = request.address.contact or Contact()
        for field in ("name", "email", "phone"):
            if not getattr(contact, field):
                raise _bad_input(
                    f"ShipEngine needs the pickup contact's {field}",
                    path=f"address.contact.{field}",
                )
        if not request.tracking_numbers:
            raise _bad_input(
                "name the label ids to collect in tracking_numbers", path="tracking_numbers"
            )
        payload: dict[str, Any] = {
            "label_ids": list(request.tracking_numbers),
            "contact_details": {
                "name": contact.name,
                "email": contact.email,
                "phone": contact.phone,
            },
            "pickup_window": {
                "start_at": _iso(request.ready_from),
                "end_at": _iso(request.ready_until),
            },
        }
        if request.instructions:
            payload["pickup_notes"] = request.instructions
        response = yield self._request("POST", "/v1/pickups", payload)
        data = _mapping(_loads(response), "pickup")
        windows = data.get("pickup_windows") or [data.get("pickup_window")]
        window = _mapping(_list(windows, "pickup_windows")[0], "pickup_window")
        return Pickup(
            carrier=NAME,
            confirmation_number=str(data["pickup_id"]),
            address=request.address,
            ready_from=_datetime(window["start_at"]),
            ready_until=_datetime(window["end_at"]),
            tracking_numbers=tuple(str(i) for i in _list(data.get("label_ids") or [], "label_ids")),
            instructions=request.instructions,
        )

    def cancel_pickup(self, confirmation_number: str) -> Flow[None]:
        """``DELETE /v1/pickups/{pickup_id}``."""
        response = yield self._request("DELETE", f"/v1/pickups/{_segment(confirmation_number)}")
        data = _mapping(_loads(response), "pickup")
        if str(data["pickup_id"]) != confirmation_number:
            raise CarrierResponseError("ShipEngine cancelled another pickup", code="pickup_id")

    def create_manifest(self, request: ManifestRequest) -> Flow[list[Manifest]]:
        """``POST /v1/manifests`` by label ids, or for a carrier, warehouse and ship date; each
        manifest's document is downloaded from its ``manifest_download`` link."""
        payload: dict[str, Any]
        if request.carrier_shipment_ids:
            payload = {"label_ids": list(request.carrier_shipment_ids)}
        else:
            accounts = self.config.carrier_ids
            account = request.account or (next(iter(accounts)) if len(accounts) == 1 else None)
            carrier_id = accounts.get(account or "", account)
            if not carrier_id or not self.config.warehouse_id:
                raise ConfigurationError(
                    "a manifest by date needs a carrier account and warehouse_id",
                    path="warehouse_id",
                )
            payload = {
                "carrier_id": carrier_id,
                "warehouse_id": self.config.warehouse_id,
                "ship_date": f"{request.ship_date.isoformat()}T00:00:00Z",
            }
        response = yield self._request("POST", "/v1/manifests", payload)
        data = _mapping(_loads(response), "manifests")
        manifests: list[Manifest] = []
        for item in _list(data.get("manifests") or [], "manifests"):
            item = _mapping(item, "manifest")
            download = item.get("manifest_download")
            document = None
            if isinstance(download, Mapping) and download.get("href"):
                raw = yield from self._label_bytes(download)
                document = ManifestDocument(format=ManifestFormat.PDF, data=raw)
            created = item.get("created_at")
            manifests.append(
                Manifest(
                    carrier=NAME,
                    manifest_id=str(item["manifest_id"]),
                    ship_date=_datetime(item["ship_date"]).date()
                    if "T" in str(item.get("ship_date"))
                    else date.fromisoformat(str(item["ship_date"])),
                    carrier_shipment_ids=tuple(
                        str(i) for i in _list(item.get("label_ids") or [], "label_ids")
                    ),
                    document=document,
                    created_at=_datetime(created) if created else None,
                    account=_text(item.get("carrier_id")),
                )
            )
        for item in _list(data.get("manifest_requests") or [], "manifest_requests"):
            item = _mapping(item, "manifest_request")
            if item.get("status") == "completed":
                continue  # its manifest is listed above
            manifests.append(
                Manifest(
                    carrier=NAME,
                    manifest_id=str(item["manifest_request_id"]),
                    ship_date=request.ship_date,
                    carrier_shipment_ids=request.carrier_shipment_ids,
                    pending=True,
                )
            )
        if not manifests:
            raise CarrierResponseError("ShipEngine created no manifest", code="no_manifest")
        return manifests

    def create_batch(
        self, rate_ids: Sequence[str], *, notes: str | None = None
    ) -> Flow[ShipEngineBatch]:
        """``POST /v1/batches`` of quoted rates (``Rate.quote_id``), to be bought together."""
        if not rate_ids:
            raise _bad_input("a batch needs at least one rate id", path="rate_ids")
        payload: dict[str, Any] = {"rate_ids": list(rate_ids)}
        if notes:
            payload["batch_notes"] = notes
        response = yield self._request("POST", "/v1/batches", payload)
        data = _mapping(_loads(response), "batch")
        count = data.get("count")
        return ShipEngineBatch(
            batch_id=str(data["batch_id"]),
            status=str(data["status"]),
            count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        )

    def process_batch(
        self, batch_id: str, *, ship_date: date, label_format: LabelFormat = LabelFormat.PDF
    ) -> Flow[None]:
        """``POST /v1/batches/{batch_id}/process/labels``: buy the batch's labels (204)."""
        payload = {
            "ship_date": f"{ship_date.isoformat()}T00:00:00Z",
            "label_layout": self.config.label_layout,
            "label_format": LABEL_FORMATS[label_format],
        }
        path = f"/v1/batches/{_segment(batch_id)}/process/labels"
        response = yield self._request("POST", path, payload)
        if response.status != 204 and response.content.strip():
            _mapping(_loads(response), "batch processing")

    def parse_webhook(self, body: bytes, *, received_at: datetime) -> list[TrackingEvent]:
        """A verified webhook body's tracking events (the driver contract): ``API_TRACK`` gives
        them; the other documented resource types carry none (an empty list: their canonical
        events come from :meth:`parse_webhook_events`); others are refused. A body it cannot
        read is a :class:`~shipsync.errors.CarrierResponseError`, whoever calls it (a client, or
        a receiver through ``tracking_parser``)."""
        try:
            data = _mapping(json.loads(body), "webhook")
            kind = data.get("resource_type")
            if not isinstance(kind, str) or kind not in WEBHOOK_RESOURCE_TYPES:
                raise CarrierResponseError(
                    "unknown webhook resource_type", code="unknown_webhook_type"
                )
            if kind != "API_TRACK" or data.get("data") is None:
                return []
            return self._events(_mapping(data["data"], "data"), received_at)
        except PARSE_ERRORS as exc:
            raise CarrierResponseError(
                f"the webhook body is not readable ({type(exc).__name__})",
                carrier=NAME,
                code="unexpected_response",
            ) from exc

    def parse_webhook_events(
        self, body: bytes, *, received_at: datetime, source: str = DEFAULT_SOURCE
    ) -> list[Event]:
        """Every canonical event of a verified webhook body: milestone events from ``track``,
        ``batch.completed`` from ``batch``, ``freight.rate_quoted`` from ``rate``; nothing from
        the account housekeeping events. An unreadable body: ``WebhookPayloadError`` only."""
        return parse_webhook_events(self, body, received_at=received_at, source=source)

    def webhook_parser(
        self, *, source: str = DEFAULT_SOURCE, clock: Callable[[], float] = time.time
    ) -> WebhookParser:
        """The receiver parser of :meth:`parse_webhook_events`
        (``WebhookReceiver(verifier, store=…, sink=…, parser=driver.webhook_parser())``)."""
        return webhook_parser(self, source=source, clock=clock)


def _bad_input(message: str, *, path: str) -> CarrierRequestError:
    """Our data cannot make a valid request: refused before anything is sent, naming the field."""
    error = CarrierRequestError(message, carrier=NAME, code="invalid_input")
    error.path = path
    return error


#: The amounts of a ShipEngine rate, which add up to its price.
_AMOUNT_FIELDS = {
    "shipping_amount": ChargeType.BASE_FREIGHT,
    "insurance_amount": ChargeType.INSURANCE,
    "confirmation_amount": ChargeType.ACCESSORIAL,
    "other_amount": ChargeType.OTHER,
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _segment(value: str) -> str:
    return quote(value, safe="") if value not in (".", "..") else value.replace(".", "%2E")
