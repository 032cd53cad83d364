"""Driver discovery: typed errors that name the package, and no broken plugin hides another."""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest

from shipsync.carriers import (
    Capability,
    Driver,
    DriverInfo,
    DriverRegistry,
    hookimpl,
    is_compatible_api_version,
)
from shipsync.carriers.fake import FakeDriver
from shipsync.errors import (
    DriverLoadError,
    DriverNotFoundError,
    DuplicateDriverError,
    IncompatibleDriverError,
)


@attrs.frozen
class Dist:
    name: str
    version: str = "1.2.3"


@attrs.frozen
class EntryPoint:
    name: str
    loader: Callable[[], Any]
    dist: Dist
    value: str = "pkg.module"

    def load(self) -> Any:
        return self.loader()


def driver_class(name: str, api_version: str = "1.0") -> type[Driver]:
    info = DriverInfo(
        name=name,
        display_name=name.title(),
        api_version=api_version,
        capabilities={Capability.TRACK},
    )
    return type(f"{name.title()}Driver", (Driver,), {"info": info})


def plugin(*drivers: object) -> types.SimpleNamespace:
    @hookimpl
    def shipsync_carrier_drivers() -> Sequence[object]:
        return list(drivers)

    return types.SimpleNamespace(shipsync_carrier_drivers=shipsync_carrier_drivers)


def entry(name: str, package: str, *drivers: object) -> EntryPoint:
    module = plugin(*drivers)
    return EntryPoint(name, lambda: module, Dist(package))


def broken_import() -> Any:
    raise ImportError("No module named 'acme_sdk'")


def raising_plugin() -> types.SimpleNamespace:
    @hookimpl
    def shipsync_carrier_drivers() -> Sequence[object]:
        raise RuntimeError("boom while loading")

    return types.SimpleNamespace(shipsync_carrier_drivers=shipsync_carrier_drivers)


def test_builtin_fake_driver_is_always_there() -> None:
    """Discovery with no third-party plugin still finds ``fake`` from the shipsync package."""
    registry = DriverRegistry.discover([])
    assert registry.names() == ["fake"]
    assert registry.get("fake") is FakeDriver
    assert registry.entries()[0].package == "shipsync"
    registry.check_pending()


def test_every_kind_of_broken_plugin_is_reported_and_the_good_ones_load() -> None:
    """Import failures, raising hooks, non-drivers, bad versions and clashes all become errors."""
    good = driver_class("acme")
    points = [
        EntryPoint("ghost", broken_import, Dist("shipsync-carrier-ghost")),
        entry("acme", "shipsync-carrier-acme", good),
        EntryPoint("bomb", raising_plugin, Dist("shipsync-carrier-bomb")),
        entry("junk", "shipsync-carrier-junk", object()),
        entry("future", "shipsync-carrier-future", driver_class("future", "2.0")),
        entry("twin-a", "shipsync-carrier-twin-a", driver_class("twin")),
        entry("twin-b", "shipsync-carrier-twin-b", driver_class("twin")),
        entry("late", "shipsync-carrier-late", driver_class("late")),
    ]
    registry = DriverRegistry.discover(points)
    assert registry.names() == ["acme", "fake", "late"]
    kinds = {(type(e).__name__, e.package) for e in registry.errors}
    assert kinds == {
        ("DriverLoadError", "shipsync-carrier-ghost"),
        ("DriverLoadError", "shipsync-carrier-bomb"),
        ("DriverLoadError", "shipsync-carrier-junk"),
        ("IncompatibleDriverError", "shipsync-carrier-future"),
        ("DuplicateDriverError", "shipsync-carrier-twin-b"),
    }
    for error in registry.errors:
        assert error.package is not None
        assert error.package in str(error)
    assert registry.entries()[0].version == "1.2.3"


def test_lookups_raise_the_error_that_keeps_a_driver_out() -> None:
    """get() on a broken or clashing name raises that typed error, else DriverNotFoundError."""
    points = [
        EntryPoint("ghost", broken_import, Dist("shipsync-carrier-ghost")),
        entry("twin-a", "pkg-a", driver_class("twin")),
        entry("twin-b", "pkg-b", driver_class("twin")),
    ]
    registry = DriverRegistry.discover(points)
    with pytest.raises(DriverLoadError) as load:
        registry.get("ghost")
    assert "ImportError" in str(load.value)
    with pytest.raises(DuplicateDriverError) as dup:
        registry.get("twin")
    assert "pkg-a" in str(dup.value)
    assert "pkg-b" in str(dup.value)
    with pytest.raises(DriverNotFoundError) as missing:
        registry.get("nope")
    assert "fake" in str(missing.value)


def test_direct_registration_checks_version_and_name() -> None:
    """register() raises at once instead of collecting errors."""
    registry = DriverRegistry.discover([])
    with pytest.raises(IncompatibleDriverError):
        registry.register(driver_class("old", "0.9"), package="old-pkg")
    with pytest.raises(DuplicateDriverError):
        registry.register(driver_class("fake"), package="impostor")
    assert registry.get("fake") is FakeDriver


def test_create_validates_the_configuration() -> None:
    """create() builds the driver with its own config model; secrets stay hidden in reprs."""
    registry = DriverRegistry.discover([])
    driver = registry.create("fake", {"base_url": "http://x", "client_secret": "s3cr3t"})
    assert isinstance(driver, FakeDriver)
    assert "s3cr3t" not in repr(driver.config)


@pytest.mark.parametrize(
    ("declared", "ok"),
    [("1.0", True), ("1.1", False), ("0.9", False), ("2.0", False), ("x", False)],
    ids=["same", "newer-minor", "older-major", "newer-major", "garbage"],
)
def test_api_version_compatibility(declared: str, ok: bool) -> None:
    """Same major and a minor not above ours is compatible."""
    assert is_compatible_api_version(declared) is ok


def test_installed_entry_points_are_read() -> None:
    """Without explicit entry points, discovery reads the installed ``shipsync.carriers`` group."""
    registry = DriverRegistry.discover()
    assert "fake" in registry.names()
