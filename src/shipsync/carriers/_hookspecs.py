"""The pluggy hook specifications a carrier driver plugin implements.

A plugin is a module (named by an entry point in the ``shipsync.carriers`` group) with functions
marked :data:`~shipsync.carriers.hookimpl`::

    from shipsync.carriers import hookimpl

    @hookimpl
    def shipsync_carrier_drivers():
        return [AcmeDriver]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from shipsync.carriers._driver import Driver

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec", "shipsync_carrier_drivers"]

PROJECT_NAME = "shipsync"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def shipsync_carrier_drivers() -> Sequence[type[Driver]]:  # type: ignore[empty-body]
    """Return the driver classes this plugin provides."""
