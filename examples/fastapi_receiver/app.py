"""A FastAPI (ASGI) endpoint that receives Standard Webhooks deliveries of shipsync events.

Run it (secrets and data directory from the environment)::

    SHIPSYNC_WEBHOOK_SECRET=whsec_... SHIPSYNC_DATA_DIR=./data \\
        uvicorn app:create_app_from_env --factory --app-dir examples/fastapi_receiver

Each delivery is verified, deduplicated in an SQLite idempotency store and appended durably to an
SQLite event log before the endpoint answers 200. The answer's status, ``Retry-After`` header and
reason come straight from the receiver's :class:`~shipsync.webhooks.Receipt`.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shipsync.errors import PayloadTooLargeError
from shipsync.flows import AsyncSQLiteEventLog
from shipsync.idempotency import AsyncSQLiteStore
from shipsync.webhooks import (
    DEFAULT_MAX_BODY_SIZE,
    AsyncWebhookReceiver,
    Receipt,
    StandardWebhooksScheme,
)


def build_receiver(data_dir: Path, secrets: list[str]) -> AsyncWebhookReceiver:
    """A receiver with an SQLite dedupe store and an SQLite event log in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return AsyncWebhookReceiver(
        StandardWebhooksScheme().verifier(secrets),
        store=AsyncSQLiteStore(data_dir / "dedupe.db", namespace="fastapi-example"),
        sink=AsyncSQLiteEventLog(data_dir / "events.db"),
    )


def _response(receipt: Receipt) -> JSONResponse:
    content = {
        "outcome": receipt.outcome.value,
        "events": [event.id for event in receipt.events],
        "reason": receipt.reason,
    }
    return JSONResponse(content, status_code=receipt.status, headers=receipt.headers)


def create_app(
    receiver: AsyncWebhookReceiver, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE
) -> FastAPI:
    """The ASGI app: one POST route that hands the raw body and headers to ``receiver``."""
    app = FastAPI(title="shipsync webhook receiver")

    @app.post("/webhooks/shipsync")
    async def receive(request: Request) -> JSONResponse:
        # Read the raw bytes, but stop as soon as the body is over the limit.
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_size:
                error = PayloadTooLargeError(size, max_body_size)
                return JSONResponse({"outcome": "rejected", "reason": str(error)}, 413)
            chunks.append(chunk)
        receipt = await receiver.receive(b"".join(chunks), request.headers.raw)
        return _response(receipt)

    return app


def create_app_from_env() -> FastAPI:
    """The app configured from ``SHIPSYNC_WEBHOOK_SECRET`` (space-separated) and a data dir."""
    secrets = os.environ["SHIPSYNC_WEBHOOK_SECRET"].split()
    data_dir = Path(os.environ.get("SHIPSYNC_DATA_DIR", "data"))
    return create_app(build_receiver(data_dir, secrets))
