"""The in-process gateway, for Odoo addons: the same calls, run on an Odoo ``env``.

It dispatches the way Odoo's ``api.call_kw`` does (``@api.model`` methods get the arguments,
other methods get the records whose ids come first), runs each call inside a savepoint so a
refused call leaves the caller's transaction usable, brings results to the JSON-RPC shape and
translates every exception the method raises by its class path, as JSON-RPC would report it.
It never commits: the host (a controller, a cron job) owns the transaction. It imports nothing
from Odoo at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shipsync.errors import OdooError
from shipsync.odoo._faults import error_from_fault
from shipsync.odoo._jsonish import to_rpc_shape

__all__ = ["EnvGateway"]


def _release() -> tuple[int, int]:
    try:
        from odoo import release  # type: ignore[import-not-found]
    except ImportError:
        return (0, 0)
    info = getattr(release, "version_info", (0, 0))
    return int(info[0]), int(info[1])


class EnvGateway:
    """Run gateway calls on an Odoo environment (``self.env`` or ``request.env``).

    ``server_version`` is read from ``odoo.release`` when available; pass ``version`` to
    override it. ``round_trips`` counts calls, as there is no network in between.
    """

    def __init__(self, env: Any, *, version: tuple[int, int] | None = None) -> None:
        self._env = env
        self._version = version or _release()
        self._calls = 0

    @property
    def server_version(self) -> tuple[int, int]:
        """The running Odoo's major and minor version."""
        return self._version

    @property
    def uid(self) -> int:
        """The id of the user the environment runs as."""
        return int(self._env.uid)

    @property
    def round_trips(self) -> int:
        """Calls run so far (no network is involved in process)."""
        return self._calls

    @property
    def env(self) -> Any:
        """The Odoo environment the calls run in."""
        return self._env

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run ``model.method`` like ``execute_kw`` and return the JSON-RPC-shaped result."""
        self._calls += 1
        named = dict(kwargs or {})
        context = named.pop("context", None) or {}
        try:
            records = self._env[model]
        except KeyError as exc:
            raise OdooError(f"Odoo has no model {model!r}") from exc
        function = getattr(type(records), method, None)
        if function is None or method.startswith("_"):
            raise OdooError(f"Odoo model {model!r} has no public method {method!r}")
        api = getattr(function, "_api", None)
        positional = list(args)
        if not api:
            ids = positional.pop(0) if positional else []
            records = records.browse(ids)
        records = records.with_context(**context) if context else records
        try:
            with self._env.cr.savepoint():
                result = getattr(records, method)(*positional, **named)
        except Exception as exc:
            if isinstance(exc, OdooError):
                raise
            # Whatever the model method raised (Odoo's exceptions, a ValueError for a field
            # the server lacks, a bug in an addon's override) is what JSON-RPC would report
            # as the same class path: the same OdooError in process, chained to the original.
            kind = type(exc)
            name = f"{kind.__module__}.{kind.__qualname__}"
            message = str(exc.args[0]) if exc.args else str(exc)
            raise error_from_fault(name, message, model=model, method=method) from exc
        if api == "model_create" and positional and isinstance(positional[0], Mapping):
            return int(result.id)
        return to_rpc_shape(result)
