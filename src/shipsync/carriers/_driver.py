"""The driver contract: what a carrier driver declares and the sans-IO operations it offers.

A driver is a class. Its :attr:`Driver.info` declares the name, versions and capabilities; an
instance holds its validated configuration. Every network operation is a *flow*: a generator that
yields :class:`~shipsync.carriers.CarrierRequest` values and receives
:class:`~shipsync.carriers.CarrierResponse` values, and finally returns canonical data::

    def track(self, tracking_number, *, received_at):
        response = yield CarrierRequest("GET", f"/v1/tracking/{tracking_number}")
        return [self._event(item, received_at) for item in response.json()["events"]]

The clients drive the same flow over ``httpx.Client`` or ``httpx.AsyncClient``. A driver never
opens a socket and never reads a clock: times it needs are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar, TypeAlias, TypeVar

import attrs
from pydantic import BaseModel, ConfigDict, SecretStr

from shipsync.canonical import (
    Address,
    FreightInvoice,
    LabelFormat,
    Manifest,
    Pickup,
    ProofOfDelivery,
    Rate,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from shipsync.carriers._auth import AccessToken
from shipsync.carriers._capabilities import Capability
from shipsync.carriers._http import CarrierRequest, CarrierResponse
from shipsync.errors import CarrierResponseError, UnsupportedOperationError
from shipsync.webhooks import SignatureScheme

__all__ = [
    "DRIVER_API_VERSION",
    "AddressValidation",
    "CarrierConfig",
    "Driver",
    "DriverInfo",
    "Flow",
    "ManifestRequest",
    "PickupRequest",
    "is_compatible_api_version",
]

#: The driver API version this shipsync speaks: ``major.minor``. A driver declaring the same
#: major and a minor not above ours is compatible.
DRIVER_API_VERSION = "1.0"

T = TypeVar("T")
Flow: TypeAlias = Generator[CarrierRequest, CarrierResponse, T]
"""A sans-IO conversation: yields requests, receives responses, returns the result."""


def is_compatible_api_version(declared: str, supported: str = DRIVER_API_VERSION) -> bool:
    """Whether a driver declaring ``declared`` runs on a shipsync speaking ``supported``."""
    try:
        major, minor = (int(part) for part in declared.split("."))
        our_major, our_minor = (int(part) for part in supported.split("."))
    except ValueError:
        return False
    return major == our_major and minor <= our_minor


class CarrierConfig(BaseModel):
    """Configuration every driver accepts; drivers subclass it for their own settings.

    Secrets are :class:`~pydantic.SecretStr`: their reprs and logs show ``**********``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    account_number: str | None = None
    timeout: float = 10.0


def _capabilities(values: Iterable[Capability | str]) -> frozenset[Capability]:
    return frozenset(Capability(v) for v in values)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _reasons(items: Iterable[tuple[Capability | str, str]]) -> tuple[tuple[Capability, str], ...]:
    return tuple((Capability(capability), str(reason)) for capability, reason in items)


def _formats(values: Iterable[LabelFormat | str]) -> frozenset[LabelFormat]:
    return frozenset(LabelFormat(v) for v in values)


@attrs.frozen
class DriverInfo:
    """What a driver declares about itself; checked at discovery."""

    name: str
    display_name: str
    api_version: str
    capabilities: frozenset[Capability] = attrs.field(converter=_capabilities)
    services: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    label_formats: frozenset[LabelFormat] = attrs.field(default=(), converter=_formats)
    signature_scheme: str | None = None
    description: str = ""
    #: Why an operation is not offered, by capability (``cancel_shipment``: "DHL has none").
    #: The unsupported error of that operation carries the reason.
    unsupported_reasons: tuple[tuple[Capability, str], ...] = attrs.field(
        default=(), converter=_reasons
    )


@attrs.frozen
class AddressValidation:
    """The carrier's verdict on an address, with its corrections when it proposes any."""

    valid: bool
    address: Address
    suggestions: tuple[Address, ...] = ()
    messages: tuple[str, ...] = ()
    residential: bool | None = None


@attrs.frozen
class PickupRequest:
    """A request to collect packages at an address in a time window."""

    address: Address
    ready_from: datetime
    ready_until: datetime
    tracking_numbers: tuple[str, ...] = ()
    instructions: str | None = None


@attrs.frozen
class ManifestRequest:
    """Close a day: the shipments handed over on ``ship_date`` (all of them when none are named).

    ``carrier_shipment_ids`` are the carrier's ids of the shipments (labels) to include;
    ``account`` picks one of several carrier accounts where the carrier has them.
    """

    ship_date: date
    carrier_shipment_ids: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    account: str | None = None


class Driver:
    """Base class of every carrier driver.

    Subclasses set :attr:`info` and :attr:`config_model` and override the operations they declare
    in ``info.capabilities``. The defaults raise :class:`~shipsync.errors.UnsupportedOperationError`
    so an undeclared operation fails typed, never with ``AttributeError``.
    """

    info: ClassVar[DriverInfo]
    config_model: ClassVar[type[CarrierConfig]] = CarrierConfig
    #: How the carrier signs its webhooks, when the driver declares ``parse_webhook``.
    signature_scheme: ClassVar[SignatureScheme | None] = None

    def __init__(self, config: CarrierConfig | Mapping[str, Any]) -> None:
        if not isinstance(config, self.config_model):
            data = config.model_dump() if isinstance(config, BaseModel) else dict(config)
            config = self.config_model.model_validate(data)
        self.config = config

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.name!r}>"

    def _unsupported(self, capability: Capability) -> UnsupportedOperationError:
        reason = dict(self.info.unsupported_reasons).get(capability)
        return UnsupportedOperationError(
            f"the driver does not support {capability.value}" + (f": {reason}" if reason else ""),
            carrier=self.info.name,
            operation=capability.value,
            code="unsupported",
        )

    # -- authentication and errors --------------------------------------------------------------

    def token_request(self) -> CarrierRequest | None:
        """The OAuth2 client-credentials token request, or ``None`` when no token is needed."""
        return None

    def parse_token(self, response: CarrierResponse) -> AccessToken:
        """Read the token endpoint's answer (no ``expires_in`` means an hour)."""
        data = response.json()
        expires_in = data.get("expires_in")
        lifetime = 3600.0 if expires_in is None else float(expires_in)
        if not 0 <= lifetime < math.inf:  # NaN, negative, infinite: a token we cannot time
            raise CarrierResponseError(
                "the token endpoint sent an impossible expires_in", code="invalid_token"
            )
        value = data["access_token"]
        if not isinstance(value, str) or not value:
            raise CarrierResponseError("the token endpoint sent no access_token", code="no_token")
        return AccessToken(
            value=value,
            expires_in=lifetime,
            token_type=str(data.get("token_type") or "Bearer"),
        )

    def parse_error(self, response: CarrierResponse) -> tuple[str | None, str | None]:
        """The carrier's own error code and message from an error response, if it has them."""
        return None, None

    # -- operations -----------------------------------------------------------------------------

    def validate_address(self, address: Address) -> Flow[AddressValidation]:
        """Ask the carrier whether ``address`` is deliverable."""
        raise self._unsupported(Capability.VALIDATE_ADDRESS)

    def quote_rates(self, shipment: Shipment) -> Flow[list[Rate]]:
        """Rates for ``shipment`` (its ``service`` is ignored: every service is quoted)."""
        raise self._unsupported(Capability.QUOTE_RATES)

    def create_shipment(
        self, shipment: Shipment, *, label_format: LabelFormat, idempotency_key: str
    ) -> Flow[Shipment]:
        """Book ``shipment``; return it with carrier ids, tracking numbers and labels."""
        raise self._unsupported(Capability.CREATE_SHIPMENT)

    def cancel_shipment(self, carrier_shipment_id: str) -> Flow[None]:
        """Cancel a booked shipment."""
        raise self._unsupported(Capability.CANCEL_SHIPMENT)

    def schedule_pickup(self, request: PickupRequest, *, idempotency_key: str) -> Flow[Pickup]:
        """Book a pickup."""
        raise self._unsupported(Capability.SCHEDULE_PICKUP)

    def cancel_pickup(self, confirmation_number: str) -> Flow[None]:
        """Cancel a booked pickup."""
        raise self._unsupported(Capability.CANCEL_PICKUP)

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        """Pull the tracking history of one package."""
        raise self._unsupported(Capability.TRACK)

    def parse_webhook(self, body: bytes, *, received_at: datetime) -> list[TrackingEvent]:
        """Turn an authenticated webhook body into canonical events (no I/O, no verification)."""
        raise self._unsupported(Capability.PARSE_WEBHOOK)

    def fetch_invoices(self, *, since: date | None = None) -> Flow[list[FreightInvoice]]:
        """Every freight invoice issued since ``since`` (following pagination)."""
        raise self._unsupported(Capability.FETCH_INVOICES)

    def create_return(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Flow[ReturnShipment]:
        """Book a return of ``shipment`` to its shipper."""
        raise self._unsupported(Capability.CREATE_RETURN)

    def create_manifest(self, request: ManifestRequest) -> Flow[list[Manifest]]:
        """Create the end-of-day manifests of the shipments handed over, with their documents
        (an aggregator returns one per carrier account)."""
        raise self._unsupported(Capability.CREATE_MANIFEST)

    def quote_landed_cost(self, shipment: Shipment) -> Flow[Rate]:
        """The landed cost of a declarable ``shipment`` in its ``service``: freight plus the
        destination's duties and taxes, as one rate (amounts never added across currencies)."""
        raise self._unsupported(Capability.QUOTE_LANDED_COST)

    def fetch_proof_of_delivery(
        self, tracking_number: str, *, shipment_id: str | None = None, received_at: datetime
    ) -> Flow[ProofOfDelivery]:
        """The proof of delivery of a delivered package (``shipment_id`` names our shipment;
        the tracking number stands in for it when not given)."""
        raise self._unsupported(Capability.FETCH_PROOF_OF_DELIVERY)

    def update_pickup(self, confirmation_number: str, request: PickupRequest) -> Flow[Pickup]:
        """Move or change a booked pickup."""
        raise self._unsupported(Capability.UPDATE_PICKUP)
