"""The ``ups`` driver: UPS's published REST APIs, sans-IO, with Track Alert pushes.

Installed like any third-party driver, through the ``shipsync.carriers`` entry point (``ups``)::

    driver = UpsDriver({"client_id": ..., "client_secret": ..., "account_number": "A1B2C3"})
    with CarrierClient(driver) as client:
        rates = client.quote_rates(shipment)

The Track Alert token endpoint (an ASGI app) is in :mod:`shipsync.carriers.ups.app`
(``server`` extra). ``docs/carriers/ups.md`` documents configuration, capabilities, the mapping
tables and the limits.
"""

from shipsync.carriers.ups._driver import (
    ENVIRONMENTS,
    MAX_SUBSCRIPTION_NUMBERS,
    VERSIONS,
    UpsConfig,
    UpsDriver,
)
from shipsync.carriers.ups._mapping import (
    LABELS,
    SERVICE_CODES,
    SERVICES,
    STATUS_CODES,
    STATUS_TYPES,
    UNSERVED_COUNTRIES,
    status_for,
)
from shipsync.carriers.ups._pdf import png_to_pdf
from shipsync.carriers.ups._trackalert import (
    USER_AGENT,
    TrackAlertScheme,
    TrackAlertTokens,
    TrackAlertVerifier,
)

__all__ = [
    "ENVIRONMENTS",
    "LABELS",
    "MAX_SUBSCRIPTION_NUMBERS",
    "SERVICES",
    "SERVICE_CODES",
    "STATUS_CODES",
    "STATUS_TYPES",
    "UNSERVED_COUNTRIES",
    "USER_AGENT",
    "VERSIONS",
    "TrackAlertScheme",
    "TrackAlertTokens",
    "TrackAlertVerifier",
    "UpsConfig",
    "UpsDriver",
    "png_to_pdf",
    "status_for",
]
