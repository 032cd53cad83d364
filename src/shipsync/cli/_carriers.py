"""``shipsync carriers list`` and ``shipsync fake-carrier serve``."""

from __future__ import annotations

import json
import socket
from typing import Any

import click

from shipsync.cli._extras import requires

__all__ = ["carriers", "fake_carrier"]


@click.group()
def carriers() -> None:
    """Installed carrier drivers."""


@carriers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the built-in drivers page (docs/carriers/drivers.md) instead of a table.",
)
@click.option("--strict", is_flag=True, help="Exit with status 1 when a plugin failed to load.")
def list_drivers(as_json: bool, markdown: bool, strict: bool) -> None:
    """List every installed driver with its package, version and capabilities, and load errors."""
    from shipsync.carriers import DriverRegistry, drivers_markdown

    if markdown:
        click.echo(drivers_markdown(), nl=False)
        return
    registry = DriverRegistry.discover()
    drivers: list[dict[str, Any]] = [
        {
            "name": entry.name,
            "display_name": entry.info.display_name,
            "package": entry.package,
            "version": entry.version,
            "api_version": entry.info.api_version,
            "capabilities": sorted(c.value for c in entry.info.capabilities),
        }
        for entry in registry.entries()
    ]
    errors = [
        {
            "kind": type(error).__name__,
            "package": error.package,
            "carrier": error.carrier,
            "message": str(error),
        }
        for error in registry.errors
    ]
    if as_json:
        click.echo(json.dumps({"drivers": drivers, "errors": errors}, indent=2))
    else:
        for item in drivers:
            click.echo(
                f"{item['name']:<16} {item['package']:<32} {item['version'] or '-':<10} "
                f"{', '.join(item['capabilities'])}"
            )
        for error in errors:
            click.echo(f"error: {error['kind']} ({error['package']}): {error['message']}", err=True)
    if strict and errors:
        raise SystemExit(1)


@requires("server", "uvicorn", "starlette")
@click.group("fake-carrier")
def fake_carrier() -> None:
    """The fake carrier for tests in any language."""


@fake_carrier.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of faults and data.")
@click.option(
    "--discrepancy-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of shipments whose invoice line differs from the quote.",
)
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    help="Serve one fake per tenant ID (repeatable) under /t/ID/... or the X-Shipsync-Tenant "
    "header, each with its own shipments, faults and clock.",
)
def serve_command(
    host: str, port: int, seed: int, discrepancy_rate: float, tenants: tuple[str, ...]
) -> None:
    """Serve the fake carrier's HTTP API (needs the server extra: starlette and uvicorn).

    The address is announced on standard error once the port is bound; a busy port or a host
    that does not resolve ends the command with one line naming the cause.
    """
    from shipsync.carriers.fake import FakeCarrierService, TenantFakeCarriers, create_app
    from shipsync.errors import MissingDependencyError, UnknownTenantError
    from shipsync.tenants import check_tenant_id

    served: FakeCarrierService | TenantFakeCarriers
    try:
        ids = [check_tenant_id(t, path="--tenant") for t in dict.fromkeys(tenants)]
    except UnknownTenantError as exc:
        raise click.BadParameter(exc.reason, param_hint="--tenant") from None

    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("shipsync fake-carrier serve", "server") from None
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    if ids:
        served = TenantFakeCarriers(
            {
                tenant_id: FakeCarrierService(seed=seed + i, discrepancy_rate=discrepancy_rate)
                for i, tenant_id in enumerate(ids)
            }
        )
    else:
        served = FakeCarrierService(seed=seed, discrepancy_rate=discrepancy_rate)
    config = uvicorn.Config(create_app(served), log_level="warning", lifespan="off")
    which = f", tenants under /t/: {', '.join(ids)}" if ids else ""
    click.echo(f"fake carrier on http://{_url_host(host)}:{bound} (seed {seed}{which})", err=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a one-line error naming why there cannot be one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise click.ClickException(f"cannot resolve host {host!r}: {reason}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
