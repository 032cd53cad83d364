"""Realistic UPS shipments, and answers written after UPS's response schemas.

UPS's documents carry request examples but almost no response examples (Pickup and Track Alert
have some; Shipping, Rating, Address Validation and Tracking have none), so the answers below
are written field by field after the published response schemas (the UPSTrackAlert push
follows the document's own example's shape). Non-ASCII names, lone objects where UPS declares
arrays, warnings and missing optional fields are here on purpose.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import httpx

from shipsync.canonical import (
    Address,
    Commodity,
    Contact,
    Customs,
    Dimensions,
    Incoterm,
    LabelFormat,
    Money,
    Package,
    Parcel,
    Shipment,
    ShipmentOptions,
    SignatureOption,
    Weight,
)
from shipsync.carriers import CarrierClient
from shipsync.carriers.ups import UpsDriver

CONFIG = {
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
    "account_number": "A1B2C3",
}
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


def driver(**overrides: Any) -> UpsDriver:
    """A UPS driver on the CIE environment with test credentials."""
    return UpsDriver({**CONFIG, **overrides})


SHIPPER = Address(
    name="Dana Shipper",
    company="Acme Outdoor Supply",
    street=("12 Warehouse Way",),
    city="Atlanta",
    state="GA",
    postal_code="30301",
    country="US",
    contact=Contact(phone="4045550100"),
)
RECIPIENT = Address(
    name="Zoë Ångström",
    street=("1600 Peachtree St NW", "Apt 4"),
    city="Atlanta",
    state="GA",
    postal_code="30309-1234",
    country="US",
    residential=True,
    contact=Contact(phone="4045550199"),
)
BUSINESS = RECIPIENT.model_copy(
    update={"name": "Receiving", "company": "Peachtree Offices", "residential": False}
)
GERMANY = Address(
    name="Jürgen Müller",
    company="Müller Bergsport GmbH",
    street=("Hauptstraße 5",),
    city="München",
    postal_code="80331",
    country="DE",
    contact=Contact(phone="+49895550123"),
)


def parcel(pounds: str = "5", dims: tuple[str, str, str] | None = ("12", "10", "8")) -> Parcel:
    """A parcel in pounds and inches."""
    return Parcel(
        weight=Weight.of(pounds, "lb"),
        dimensions=Dimensions.of(*dims, "in") if dims else None,
        reference="ORDER-1001",
    )


def shipment(
    *,
    shipment_id: str = "SHP-1",
    recipient: Address = RECIPIENT,
    parcels: tuple[Parcel, ...] = (),
    service: str = "ground",
    customs: Customs | None = None,
    options: ShipmentOptions | None = None,
    created_at: datetime | None = NOW,
) -> Shipment:
    """A shipment from Atlanta."""
    return Shipment(
        shipment_id=shipment_id,
        order_reference="SO-1001",
        carrier="ups",
        service=service,
        shipper=SHIPPER,
        recipient=recipient,
        packages=tuple(Package(parcel=p) for p in (parcels or (parcel(),))),
        customs=customs,
        options=options,
        created_at=created_at,
    )


CUSTOMS = Customs(
    incoterm="DAP",
    commodities=(
        Commodity(
            description="Hiking boots, leather",
            hs_code="640391",
            quantity=2,
            value=Money.of("180.00", "USD"),
            origin_country="US",
            weight=Weight.of("4", "lb"),
        ),
    ),
    contents="Hiking boots",
    invoice_number="INV-1001",
)

#: (id, shipment, label format) - each row must produce a request UPS's schema accepts.
SHIPMENTS: list[tuple[str, Shipment, LabelFormat]] = [
    ("domestic-residential-pdf", shipment(), LabelFormat.PDF),
    ("domestic-business-png", shipment(recipient=BUSINESS), LabelFormat.PNG),
    (
        "multi-package-zpl",
        shipment(parcels=(parcel("5"), parcel("12.25", ("20", "14", "9")), parcel("0.4", None))),
        LabelFormat.ZPL,
    ),
    (
        "saturday-adult-signature-epl",
        shipment(
            service="next_day_air",
            options=ShipmentOptions(
                signature=SignatureOption.ADULT_SIGNATURE, saturday_delivery=True
            ),
        ),
        LabelFormat.EPL,
    ),
    (
        "international-customs-pdf",
        shipment(recipient=GERMANY, service="worldwide_expedited", customs=CUSTOMS),
        LabelFormat.PDF,
    ),
    (
        "international-ddp-signature-zpl",
        shipment(
            recipient=GERMANY,
            service="worldwide_express",
            customs=CUSTOMS.model_copy(update={"incoterm": Incoterm.DDP}),
            options=ShipmentOptions(signature=SignatureOption.SIGNATURE),
        ),
        LabelFormat.ZPL,
    ),
    (
        "metric-kilograms-from-canada",
        shipment(
            parcels=(
                Parcel(weight=Weight.of("2.5", "kg"), dimensions=Dimensions.of(30, 20, 10, "cm")),
            ),
            service="standard",
        ).model_copy(
            update={
                "shipper": SHIPPER.model_copy(
                    update={
                        "country": "CA",
                        "state": "ON",
                        "postal_code": "M5V2T6",
                        "city": "Toronto",
                    }
                ),
                "customs": CUSTOMS,
            }
        ),
        LabelFormat.PNG,
    ),
]


def png(width: int = 4, height: int = 6) -> bytes:
    """A small valid greyscale PNG (8-bit, not interlaced)."""
    raw = b"".join(b"\x00" + bytes([(x * 40) % 256 for x in range(width)]) for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


LABEL_B64 = base64.b64encode(png()).decode()


def ship_response(
    count: int = 1, *, lone_object: bool = False, alert: bool = False
) -> dict[str, Any]:
    """A ShipmentResponse with ``count`` packages (a lone object when asked, as UPS sends)."""
    packages = [
        {
            "TrackingNumber": f"1ZA1B2C3{n:02d}12345678",
            "ShippingLabel": {"ImageFormat": {"Code": "PNG"}, "GraphicImage": LABEL_B64},
        }
        for n in range(count)
    ]
    response: dict[str, Any] = {"ResponseStatus": {"Code": "1", "Description": "Success"}}
    if alert:
        response["Alert"] = [
            {
                "Code": "120900",
                "Description": "Shipper Number not qualified to receive negotiated rates",
            }
        ]
    return {
        "ShipmentResponse": {
            "Response": response,
            "ShipmentResults": {
                "ShipmentCharges": {
                    "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": "14.27"},
                    "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                    "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "14.27"},
                },
                "BillingWeight": {"UnitOfMeasurement": {"Code": "LBS"}, "Weight": "5.0"},
                "ShipmentIdentificationNumber": "1ZA1B2C30012345678",
                "PackageResults": packages[0] if lone_object and count == 1 else packages,
            },
        }
    }


def rate_response(*, negotiated: bool = False, time_in_transit: bool = True) -> dict[str, Any]:
    """A Shop answer with two services (Ground and Next Day Air)."""

    def rated(code: str, transport: str, options: str, total: str, days: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "Service": {"Code": code, "Description": ""},
            "RatedShipmentAlert": [{"Code": "110971", "Description": "Your invoice may vary"}],
            "BillingWeight": {
                "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
                "Weight": "5.0",
            },
            "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": transport},
            "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": options},
            "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": total},
            "RatedPackage": [{"Weight": "5.0"}],
        }
        if negotiated:
            item["NegotiatedRateCharges"] = {
                "TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "9.99"}
            }
        if time_in_transit:
            item["TimeInTransit"] = {
                "PickupDate": "20260105",
                "ServiceSummary": {
                    "Service": {"Description": "UPS Ground"},
                    "EstimatedArrival": {
                        "Arrival": {"Date": "20260108", "Time": "230000"},
                        "BusinessDaysInTransit": days,
                        "Pickup": {"Date": "20260105", "Time": "180000"},
                    },
                },
            }
        return item

    return {
        "RateResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "RatedShipment": [
                rated("03", "12.50", "4.95", "17.45", "3"),
                rated("01", "45.10", "0.00", "45.10", "1"),
            ],
        }
    }


def xav_response(kind: str = "valid") -> dict[str, Any]:
    """An XAVResponse: ``valid`` (residential), ``ambiguous`` (two candidates) or ``none``."""
    body: dict[str, Any] = {"Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}}}
    candidate = {
        "AddressClassification": {"Code": "2", "Description": "Residential"},
        "AddressKeyFormat": {
            "AddressLine": ["1600 PEACHTREE ST NW APT 4"],
            "PoliticalDivision2": "ATLANTA",
            "PoliticalDivision1": "GA",
            "PostcodePrimaryLow": "30309",
            "PostcodeExtendedLow": "1234",
            "CountryCode": "US",
        },
    }
    if kind == "valid":
        body["ValidAddressIndicator"] = ""
        body["AddressClassification"] = {"Code": "2", "Description": "Residential"}
        body["Candidate"] = candidate  # a lone object, as UPS sends one candidate
    elif kind == "ambiguous":
        body["AmbiguousAddressIndicator"] = ""
        body["AddressClassification"] = {"Code": "0", "Description": "Unknown"}
        second = json.loads(json.dumps(candidate))
        second["AddressClassification"] = {"Code": "1", "Description": "Commercial"}
        second["AddressKeyFormat"]["AddressLine"] = ["1600 PEACHTREE RD NW"]
        body["Candidate"] = [candidate, second]
    else:
        body["NoCandidatesIndicator"] = ""
    return {"XAVResponse": body}


def track_response(
    activities: list[tuple[str, str, str]] | None = None, *, warnings: bool = False
) -> dict[str, Any]:
    """A trackResponse; ``activities`` are ``(type, code, description)`` newest first."""
    rows = (
        activities
        if activities is not None
        else [
            ("D", "FS", "DELIVERED"),
            ("I", "OT", "Out For Delivery Today"),
            ("X", "U2", "The receiver was not available for delivery. We'll make a second attempt"),
            ("I", "AR", "Arrived at Facility"),
            ("P", "PU", "Pickup Scan"),
            ("M", "MP", "Shipper created a label, UPS has not received the package yet."),
        ]
    )
    activity = [
        {
            "location": {
                "address": {
                    "city": "Atlanta",
                    "stateProvince": "GA",
                    "countryCode": "US",
                    "country": "US",
                },
                "slic": "3037",
            },
            "status": {"type": t, "code": c, "description": d, "statusCode": "003"},
            "date": "20260105",
            "time": f"{10 + i:02d}3000",
            "gmtDate": "20260105",
            "gmtTime": f"{15 + i}:30:00" if i % 2 else f"{15 + i}3000",
        }
        for i, (t, c, d) in enumerate(rows)
    ]
    shipment: dict[str, Any] = {"inquiryNumber": "1ZA1B2C30012345678", "package": []}
    if rows:
        shipment["package"] = [
            {
                "trackingNumber": "1ZA1B2C30012345678",
                "referenceNumber": [{"type": "PACKAGE", "number": "SHP-1"}],
                "activity": activity,
            }
        ]
    if warnings:
        shipment["warnings"] = [{"code": "TW0001", "message": "Tracking Information Not Found"}]
    return {"trackResponse": {"shipment": [shipment]}}


def void_response(*, failed: str | None = None) -> dict[str, Any]:
    """A VoidShipmentResponse; ``failed`` names a package UPS did not void."""
    body: dict[str, Any] = {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
    }
    if failed:
        body["PackageLevelResults"] = [
            {
                "TrackingNumber": "1ZA1B2C30012345678",
                "Status": {"Code": "1", "Description": "Voided"},
            },
            {"TrackingNumber": failed, "Status": {"Code": "0", "Description": "Not Voided"}},
        ]
        body["SummaryResult"]["Status"] = {"Code": "0", "Description": "Partially Voided"}
    return {"VoidShipmentResponse": body}


PICKUP_RESPONSE = {
    "PickupCreationResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "PRN": "2929602E9CP",
    }
}
PICKUP_CANCEL_RESPONSE = {
    "PickupCancelResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "PickupType": "01",
    }
}
SUBSCRIBE_RESPONSE = {
    "validTrackingNumbers": ["1ZA1B2C30012345678"],
    "invalidTrackingNumbers": ["1Z1234567$8"],
}
TOKEN_RESPONSE = {
    "token_type": "Bearer",
    "issued_at": "1767600000000",
    "client_id": "test-client-id",
    "access_token": "eyJraWQiOiJ0ZXN0In0.test",
    "expires_in": "14399",
    "status": "approved",
}


def error_body(*pairs: tuple[str, str]) -> dict[str, Any]:
    """UPS's error envelope."""
    return {"response": {"errors": [{"code": c, "message": m} for c, m in pairs]}}


#: A Track Alert push, out for delivery (the shape of UPSTrackAlert.yaml's first example).
WEBHOOK_OUT_FOR_DELIVERY = {
    "trackingNumber": "1ZA1B2C30012345678",
    "localActivityDate": "20260105",
    "localActivityTime": "091519",
    "activityLocation": {
        "city": "Charlotte",
        "stateProvince": "NC",
        "postalCode": "28209",
        "country": "US",
    },
    "activityStatus": {"type": "I", "code": "OT", "description": "Out for Delivery"},
    "scheduledDeliveryDate": "20260105",
    "gmtActivityDate": "20260105",
    "gmtActivityTime": "141519",
    "deliveryTimeDescription": "end of day",
}


def client_for(
    routes: dict[str, Any], *, sent: list[httpx.Request] | None = None, **kwargs: Any
) -> CarrierClient:
    """A client whose fake UPS answers by URL path: ``routes[path]`` is a body (200) or a
    ``(status, body, headers)`` tuple, or a list of those answered in turn."""
    answers = {path: list(v) if isinstance(v, list) else [v] for path, v in routes.items()}
    answers.setdefault("/api/security/v1/oauth/token", [TOKEN_RESPONSE])

    def handle(request: httpx.Request) -> httpx.Response:
        if sent is not None:
            sent.append(request)
        queue = answers.get(request.url.path)
        if not queue:
            return httpx.Response(404, json=error_body(("404", "no route")))
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        status, body, headers = answer if isinstance(answer, tuple) else (200, answer, {})
        return httpx.Response(status, json=body, headers=headers)

    return CarrierClient(
        kwargs.pop("driver", None) or driver(),
        transport=httpx.MockTransport(handle),
        clock=lambda: NOW.timestamp(),
        **kwargs,
    )
