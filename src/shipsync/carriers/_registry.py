"""Discovery of carrier drivers: pluggy plus the ``shipsync.carriers`` entry-point group.

Every entry point is loaded on its own, and every plugin's hook is called on its own, so a plugin
that fails to import, raises while loading, returns something that is not a driver, declares an
incompatible driver API version or claims a taken name becomes one typed error in
:attr:`DriverRegistry.errors`, naming its package — and every other driver still loads.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

import attrs
import pluggy

from shipsync.carriers import _hookspecs
from shipsync.carriers._driver import (
    DRIVER_API_VERSION,
    CarrierConfig,
    Driver,
    DriverInfo,
    is_compatible_api_version,
)
from shipsync.errors import (
    DriverLoadError,
    DriverNotFoundError,
    DriverRegistryError,
    DuplicateDriverError,
    IncompatibleDriverError,
)

__all__ = ["ENTRY_POINT_GROUP", "DriverEntry", "DriverRegistry", "EntryPointLike"]

ENTRY_POINT_GROUP = "shipsync.carriers"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_log = logging.getLogger("shipsync.carriers")


class EntryPointLike(Protocol):
    """What discovery needs of an entry point (``importlib.metadata.EntryPoint`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> Any: ...


@attrs.frozen
class DriverEntry:
    """One loaded driver and where it came from."""

    name: str
    driver: type[Driver]
    package: str
    version: str | None

    @property
    def info(self) -> DriverInfo:
        """The driver's declared metadata."""
        return self.driver.info


def _origin(entry_point: EntryPointLike) -> tuple[str, str | None]:
    dist = getattr(entry_point, "dist", None)
    if dist is not None:
        return str(dist.name), str(dist.version)
    return entry_point.value.split(":", 1)[0].split(".", 1)[0], None


#: What a plugin may throw at us and still not stop discovery: ``sys.exit()`` at import time is
#: a broken plugin, not a reason to end the host process. ``KeyboardInterrupt`` still propagates.
_PLUGIN_FAILURES = (Exception, SystemExit)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else f"{text[:97]}..."


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DriverRegistry:
    """The installed drivers by name, plus the errors met while finding them."""

    def __init__(self) -> None:
        self.plugin_manager = pluggy.PluginManager(_hookspecs.PROJECT_NAME)
        self.plugin_manager.add_hookspecs(_hookspecs)
        self._entries: dict[str, DriverEntry] = {}
        self._blocked: dict[str, DriverRegistryError] = {}
        self.errors: list[DriverRegistryError] = []

    # -- discovery ------------------------------------------------------------------------------

    @classmethod
    def discover(
        cls,
        entry_points: Iterable[EntryPointLike] | None = None,
        *,
        builtins: bool = True,
    ) -> DriverRegistry:
        """Load the built-in ``fake`` driver and every ``shipsync.carriers`` entry point."""
        registry = cls()
        if builtins:
            from shipsync.carriers.fake import _plugin

            registry.add_plugin(_plugin, package="shipsync", version=_shipsync_version())
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in entry_points:
            registry._load(entry_point)
        return registry

    def _record(self, error: DriverRegistryError, *, block: str | None = None) -> None:
        self.errors.append(error)
        if block is not None and block not in self._entries:
            self._blocked.setdefault(block, error)
        _log.warning("%s", error, extra={"shipsync": {"package": error.package}})

    def _load(self, entry_point: EntryPointLike) -> None:
        package, version = _origin(entry_point)
        try:
            plugin = entry_point.load()
        except _PLUGIN_FAILURES as exc:
            self._record(
                DriverLoadError(
                    f"plugin {entry_point.name!r} of {package!r} failed to import: "
                    f"{_describe(exc)}",
                    package=package,
                    carrier=entry_point.name,
                ),
                block=entry_point.name,
            )
            return
        self.add_plugin(plugin, package=package, version=version, name=entry_point.name)

    def add_plugin(
        self, plugin: object, *, package: str, version: str | None = None, name: str | None = None
    ) -> None:
        """Register a plugin object (a module with hookimpls) and add the drivers it returns."""
        plugin_name = f"{package}:{name or getattr(plugin, '__name__', repr(plugin))}"
        try:
            self.plugin_manager.register(plugin, name=plugin_name)
        except Exception as exc:
            self._record(
                DriverLoadError(
                    f"plugin {plugin_name!r} cannot be registered: {_describe(exc)}",
                    package=package,
                    carrier=name,
                ),
                block=name,
            )
            return
        hook = self.plugin_manager.hook.shipsync_carrier_drivers
        for impl in hook.get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            try:
                result = impl.function()
                if result is None or isinstance(result, type | str | bytes | Mapping):
                    raise TypeError(f"returned {_short(result)}, not a list of Driver classes")
                drivers = list(cast("Iterable[object]", result))
            except _PLUGIN_FAILURES as exc:
                self._record(
                    DriverLoadError(
                        f"plugin {plugin_name!r} raised while loading: {_describe(exc)}",
                        package=package,
                        carrier=name,
                    ),
                    block=name,
                )
                continue
            for driver in drivers:
                self._add_checked(driver, package=package, version=version)

    def _add_checked(self, driver: object, *, package: str, version: str | None) -> None:
        try:
            info = getattr(driver, "info", None)
        except _PLUGIN_FAILURES:
            info = None
        if not (isinstance(driver, type) and issubclass(driver, Driver)) or not isinstance(
            info, DriverInfo
        ):
            self._record(
                DriverLoadError(
                    f"package {package!r} returned {_short(driver)}, which is not a Driver "
                    "subclass with a DriverInfo",
                    package=package,
                )
            )
            return
        try:
            self.register(driver, package=package, version=version)
        except DuplicateDriverError as exc:
            # Neither claimant wins: which one loads first is an accident of install order.
            self._entries.pop(info.name, None)
            self._record(exc, block=info.name)
        except DriverRegistryError as exc:
            self._record(exc)

    # -- registration and lookup ----------------------------------------------------------------

    def register(
        self, driver: type[Driver], *, package: str = "(local)", version: str | None = None
    ) -> DriverEntry:
        """Add ``driver``; a taken name or an incompatible API version raises a typed error."""
        info = driver.info
        if not isinstance(info.name, str) or not _NAME.fullmatch(info.name):
            raise DriverLoadError(
                f"package {package!r} declares the driver name {_short(info.name)}; a name is "
                "1-64 letters, digits, '.', '_' or '-'",
                package=package,
            )
        if not isinstance(info.api_version, str) or not is_compatible_api_version(info.api_version):
            raise IncompatibleDriverError(
                f"driver {info.name!r} of {package!r} declares driver API "
                f"{_short(info.api_version)}; this shipsync speaks {DRIVER_API_VERSION!r}",
                package=package,
                carrier=info.name,
            )
        existing = self._entries.get(info.name)
        if existing is not None:
            error = DuplicateDriverError(
                f"driver name {info.name!r} is claimed by both {existing.package!r} and "
                f"{package!r}",
                package=package,
                carrier=info.name,
            )
            raise error
        if info.name in self._blocked:
            raise DuplicateDriverError(
                f"driver name {info.name!r} is claimed more than once (also by {package!r})",
                package=package,
                carrier=info.name,
            )
        entry = DriverEntry(info.name, driver, package, version)
        self._entries[info.name] = entry
        return entry

    def entries(self) -> list[DriverEntry]:
        """Every usable driver, sorted by name."""
        return [self._entries[name] for name in sorted(self._entries)]

    def names(self) -> list[str]:
        """The names of every usable driver, sorted."""
        return sorted(self._entries)

    def get(self, name: str) -> type[Driver]:
        """The driver class called ``name``, or the typed error that keeps it from loading."""
        entry = self._entries.get(name)
        if entry is not None:
            return entry.driver
        blocked = self._blocked.get(name)
        if blocked is not None:
            raise blocked
        raise DriverNotFoundError(
            f"no installed driver is named {name[:100]!r}; installed: "
            f"{', '.join(self.names()) or 'none'}",
            carrier=name[:100],
        )

    def create(self, name: str, config: CarrierConfig | Mapping[str, Any]) -> Driver:
        """An instance of driver ``name`` with ``config`` validated by its config model."""
        return self.get(name)(config)

    def check_pending(self) -> None:
        """Raise if a plugin implements a hook that has no specification (for plugin tests)."""
        self.plugin_manager.check_pending()


def _shipsync_version() -> str:
    from shipsync import __version__

    return __version__
