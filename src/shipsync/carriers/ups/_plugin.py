"""The plugin that provides the ``ups`` driver through the ``shipsync.carriers`` entry point."""

from __future__ import annotations

from collections.abc import Sequence

from shipsync.carriers._driver import Driver
from shipsync.carriers._hookspecs import hookimpl
from shipsync.carriers.ups._driver import UpsDriver


@hookimpl
def shipsync_carrier_drivers() -> Sequence[type[Driver]]:
    """The ``ups`` driver."""
    return [UpsDriver]
