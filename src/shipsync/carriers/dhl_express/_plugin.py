"""The pluggy plugin that registers the ``dhl_express`` driver (entry point ``dhl_express``)."""

from __future__ import annotations

from collections.abc import Sequence

from shipsync.carriers._driver import Driver
from shipsync.carriers._hookspecs import hookimpl
from shipsync.carriers.dhl_express._driver import DhlExpressDriver


@hookimpl
def shipsync_carrier_drivers() -> Sequence[type[Driver]]:
    """The DHL Express driver."""
    return [DhlExpressDriver]
