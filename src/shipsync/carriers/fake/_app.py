"""The fake carrier as an ASGI application, and a helper that serves it with uvicorn.

Needs the ``server`` extra (starlette and uvicorn).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs

from shipsync.carriers.fake._service import FakeCarrierService
from shipsync.carriers.fake._tenants import TenantFakeCarriers
from shipsync.errors import MissingDependencyError

__all__ = ["RunningServer", "create_app", "run_server", "serve"]


def create_app(
    service: FakeCarrierService | TenantFakeCarriers, *, timeout_seconds: float = 30.0
) -> Any:
    """A Starlette app serving ``service`` (one fake, or one per tenant). A timeout fault holds
    the answer ``timeout_seconds``."""
    try:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("the fake carrier server", "server") from exc

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        result = service.handle(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        if result.timeout:
            await asyncio.sleep(timeout_seconds)
            return Response(status_code=504)
        return Response(
            content=result.body, status_code=result.status, headers=dict(result.headers)
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("the fake carrier server", "server") from exc
    return uvicorn


def serve(service: FakeCarrierService, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve ``service`` until interrupted (what ``shipsync fake-carrier serve`` runs)."""
    uvicorn = _uvicorn()
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


@attrs.frozen
class RunningServer:
    """A fake carrier server running in a background thread."""

    service: FakeCarrierService | TenantFakeCarriers
    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def run_server(
    service: FakeCarrierService | TenantFakeCarriers,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout_seconds: float = 2.0,
) -> Iterator[RunningServer]:
    """Run ``service`` on ``host``:``port`` (0: a free port) in a thread for the block."""
    uvicorn = _uvicorn()
    chosen = port or _free_port(host)
    config = uvicorn.Config(
        create_app(service, timeout_seconds=timeout_seconds),
        host=host,
        port=chosen,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-carrier", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake carrier server did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(service, host, chosen)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
