"""The pluggy plugin that registers the ``shipengine`` driver (entry point ``shipengine``)."""

from __future__ import annotations

from collections.abc import Sequence

from shipsync.carriers._driver import Driver
from shipsync.carriers._hookspecs import hookimpl
from shipsync.carriers.shipengine._driver import ShipEngineDriver


@hookimpl
def shipsync_carrier_drivers() -> Sequence[type[Driver]]:
    """The ShipEngine driver."""
    return [ShipEngineDriver]
