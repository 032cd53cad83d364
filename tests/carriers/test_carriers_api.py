"""The public surface of shipsync.carriers, pinned: changing it is a deliberate act."""

from __future__ import annotations

import shipsync.carriers
import shipsync.carriers.fake
import shipsync.testing.carriers
import shipsync.testing.fake_carrier
import shipsync.testing.openapi


def test_carriers_all() -> None:
    """shipsync.carriers exports exactly these names."""
    assert shipsync.carriers.__all__ == [
        "DRIVER_API_VERSION",
        "ENTRY_POINT_GROUP",
        "AccessToken",
        "AddressValidation",
        "AsyncCarrierClient",
        "Capability",
        "CarrierClient",
        "CarrierConfig",
        "CarrierFailure",
        "CarrierRequest",
        "CarrierResponse",
        "CircuitBreaker",
        "Driver",
        "DriverEntry",
        "DriverInfo",
        "DriverRegistry",
        "Flow",
        "ManifestRequest",
        "PickupRequest",
        "RateLimit",
        "RateShopResult",
        "RetryPolicy",
        "SleepRecorder",
        "TenantCarrierClients",
        "ashop_rates",
        "drivers_markdown",
        "hookimpl",
        "is_compatible_api_version",
        "shop_rates",
    ]


def test_fake_all() -> None:
    """shipsync.carriers.fake exports exactly these names."""
    assert shipsync.carriers.fake.__all__ == [
        "CHARGE_TYPES",
        "DEFAULT_CLIENT_ID",
        "DEFAULT_CLIENT_SECRET",
        "DISCREPANCY_KINDS",
        "ENDPOINTS",
        "MILESTONES",
        "REASONS",
        "RETRY_DELAYS",
        "SCENARIOS",
        "STATUS_DESCRIPTIONS",
        "TRANSIENT",
        "Delivery",
        "FakeCarrierService",
        "FakeClock",
        "FakeConfig",
        "FakeDriver",
        "FakeResponse",
        "Fault",
        "FaultPlan",
        "RunningServer",
        "Scenario",
        "TenantFakeCarriers",
        "WebhookOutbox",
        "address_json",
        "create_app",
        "run_server",
        "serve",
        "shipment_json",
    ]


def test_testing_modules_all() -> None:
    """The public testing helpers for carriers export exactly these names."""
    assert shipsync.testing.fake_carrier.__all__ == [
        "FakeCarrier",
        "FakeCarrierServer",
        "sample_address",
        "sample_shipment",
    ]
    assert shipsync.testing.carriers.__all__ == [
        "DriverConformance",
        "Recording",
        "check_driver",
        "check_spec",
        "check_spec_recording",
        "load_recordings",
        "recordings_from_cassette",
    ]
    assert shipsync.testing.openapi.__all__ == [
        "Correction",
        "OpenAPISpec",
        "SpecViolation",
        "check_request",
        "extract",
        "load_document",
    ]


def test_every_exported_name_exists() -> None:
    """Every name in each __all__ resolves."""
    for module in (shipsync.carriers, shipsync.carriers.fake):
        for name in module.__all__:
            assert getattr(module, name) is not None
