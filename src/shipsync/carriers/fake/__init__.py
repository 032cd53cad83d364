"""The fake carrier: a stateful carrier service, its ``fake`` driver, and ways to run it.

In-process::

    service = FakeCarrierService(seed=1)
    client = CarrierClient(FakeDriver(), transport=service.mock_transport())

As a server (``server`` extra): ``shipsync fake-carrier serve --port 8765`` or
:func:`run_server`. The HTTP API is documented in ``docs/fake-carrier.md``.
"""

from shipsync.carriers.fake._app import RunningServer, create_app, run_server, serve
from shipsync.carriers.fake._clock import FakeClock
from shipsync.carriers.fake._driver import FakeConfig, FakeDriver, address_json, shipment_json
from shipsync.carriers.fake._faults import ENDPOINTS, TRANSIENT, Fault, FaultPlan
from shipsync.carriers.fake._invoices import DISCREPANCY_KINDS
from shipsync.carriers.fake._mapping import CHARGE_TYPES, MILESTONES, REASONS
from shipsync.carriers.fake._scenarios import SCENARIOS, STATUS_DESCRIPTIONS, Scenario
from shipsync.carriers.fake._service import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeCarrierService,
    FakeResponse,
)
from shipsync.carriers.fake._tenants import TenantFakeCarriers
from shipsync.carriers.fake._webhooks import RETRY_DELAYS, Delivery, WebhookOutbox

__all__ = [
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
