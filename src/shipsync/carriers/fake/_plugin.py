"""The built-in plugin that provides the ``fake`` driver."""

from __future__ import annotations

from collections.abc import Sequence

from shipsync.carriers._driver import Driver
from shipsync.carriers._hookspecs import hookimpl
from shipsync.carriers.fake._driver import FakeDriver


@hookimpl
def shipsync_carrier_drivers() -> Sequence[type[Driver]]:
    """The ``fake`` driver."""
    return [FakeDriver]
