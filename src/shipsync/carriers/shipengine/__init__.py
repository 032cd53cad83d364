"""The ``shipengine`` driver (ShipEngine / ShipStation API): one API key, many carriers."""

from shipsync.carriers.shipengine._driver import (
    SPEC_VERSION,
    ShipEngineBatch,
    ShipEngineConfig,
    ShipEngineDriver,
)

__all__ = ["SPEC_VERSION", "ShipEngineBatch", "ShipEngineConfig", "ShipEngineDriver"]
