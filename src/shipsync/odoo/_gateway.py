"""The one small interface every way of talking to Odoo implements.

A gateway runs one Odoo model method per :meth:`OdooGateway.call`, with the semantics of Odoo's
``execute_kw``: for ``@api.model`` methods (``create``, ``search_read``, ``load``, ...) the
positional arguments go to the method; for record methods (``read``, ``write``,
``message_post``, ...) the first positional argument is the list of ids. Results come back as
JSON-shaped values (ids instead of recordsets, lists instead of tuples, dates as Odoo's strings),
the same over RPC and in process. Errors come back as :class:`~shipsync.errors.OdooError`
subclasses. ``round_trips`` counts the requests that went to the server, so batching can be
measured and tested.

Three gateways fit behind it: :class:`~shipsync.odoo.RpcGateway` (odoorpc, JSON-RPC, Odoo 16 to
19), :class:`~shipsync.odoo.Json2Gateway` (JSON-2, ``POST /json/2/<model>/<method>`` with a bearer
API key over httpx, Odoo 19; it names ``call``'s positional arguments) and
:class:`~shipsync.odoo.EnvGateway` (an Odoo ``env``, for addons).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["SAFE_METHODS", "OdooGateway"]

SAFE_METHODS: frozenset[str] = frozenset(
    {
        "read",
        "search",
        "search_read",
        "search_count",
        "fields_get",
        "read_group",
        "name_search",
        "check_access_rights",
        "has_access",
        "write",
    }
)
"""Methods that may be sent again after a transport failure whose outcome is unknown.

Reads change nothing and ``write`` of the same values twice leaves the same state. ``create``,
``load`` and actions are retried only when the request surely never reached the server.
"""


@runtime_checkable
class OdooGateway(Protocol):
    """Runs Odoo model methods; see the module docstring for the contract."""

    @property
    def server_version(self) -> tuple[int, int]:
        """Major and minor version of the Odoo server, e.g. ``(18, 0)``."""
        ...

    @property
    def uid(self) -> int:
        """The id of the Odoo user the calls run as."""
        ...

    @property
    def round_trips(self) -> int:
        """How many requests this gateway sent to the server so far (0 in process)."""
        ...

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run ``model.method(*args, **kwargs)`` as ``execute_kw`` does; return the result."""
        ...
