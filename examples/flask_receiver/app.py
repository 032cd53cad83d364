"""A Flask (WSGI) endpoint that receives Standard Webhooks deliveries of shipsync events.

Run it (secrets and data directory from the environment)::

    SHIPSYNC_WEBHOOK_SECRET=whsec_... SHIPSYNC_DATA_DIR=./data \\
        flask --app examples/flask_receiver/app.py:create_app_from_env run

Each delivery is verified, deduplicated in an SQLite idempotency store and appended durably to an
SQLite event log before the endpoint answers 200. Flask's ``MAX_CONTENT_LENGTH`` refuses an
oversized body before it is read; the receiver checks the limit again.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, jsonify, request

from shipsync.flows import SQLiteEventLog
from shipsync.idempotency import SQLiteStore
from shipsync.webhooks import DEFAULT_MAX_BODY_SIZE, StandardWebhooksScheme, WebhookReceiver


def build_receiver(data_dir: Path, secrets: list[str]) -> WebhookReceiver:
    """A receiver with an SQLite dedupe store and an SQLite event log in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return WebhookReceiver(
        StandardWebhooksScheme().verifier(secrets),
        store=SQLiteStore(data_dir / "dedupe.db", namespace="flask-example"),
        sink=SQLiteEventLog(data_dir / "events.db"),
    )


def create_app(receiver: WebhookReceiver, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> Flask:
    """The WSGI app: one POST route that hands the raw body and headers to ``receiver``."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_size

    @app.post("/webhooks/shipsync")
    def receive() -> tuple[Response, int, dict[str, str]]:
        body = request.get_data(cache=False)  # the raw bytes, never a re-serialised form
        receipt = receiver.receive(body, request.headers)
        content = {
            "outcome": receipt.outcome.value,
            "events": [event.id for event in receipt.events],
            "reason": receipt.reason,
        }
        return jsonify(content), receipt.status, receipt.headers

    return app


def create_app_from_env() -> Flask:
    """The app configured from ``SHIPSYNC_WEBHOOK_SECRET`` (space-separated) and a data dir."""
    secrets = os.environ["SHIPSYNC_WEBHOOK_SECRET"].split()
    data_dir = Path(os.environ.get("SHIPSYNC_DATA_DIR", "data"))
    return create_app(build_receiver(data_dir, secrets))
