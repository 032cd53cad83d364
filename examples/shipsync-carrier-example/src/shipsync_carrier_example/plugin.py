"""The plugin module named by the ``shipsync.carriers`` entry point."""

from __future__ import annotations

from collections.abc import Sequence

from shipsync.carriers import Driver, hookimpl
from shipsync_carrier_example.driver import ExampleDriver


@hookimpl
def shipsync_carrier_drivers() -> Sequence[type[Driver]]:
    """Example Express."""
    return [ExampleDriver]
