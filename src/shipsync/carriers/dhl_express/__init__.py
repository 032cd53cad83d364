"""The ``dhl_express`` driver (DHL Express, MyDHL API)."""

from shipsync.carriers.dhl_express._customs import check_customs
from shipsync.carriers.dhl_express._driver import (
    NO_CANCEL_REASON,
    SPEC_VERSION,
    DhlExpressConfig,
    DhlExpressDriver,
)

__all__ = [
    "NO_CANCEL_REASON",
    "SPEC_VERSION",
    "DhlExpressConfig",
    "DhlExpressDriver",
    "check_customs",
]
