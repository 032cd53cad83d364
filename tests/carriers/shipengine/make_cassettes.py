"""Produce the sandbox replay cassettes offline, from the OpenAPI document's examples.

    python tests/carriers/shipengine/make_cassettes.py

Runs each sandbox story under vcrpy in record mode, with the client's transport answering from
``cassettes/replay.json`` (the document's examples) instead of ShipEngine (no network), so the
cassettes hold the exact requests the driver sends. They are not recordings of ShipEngine: set
``SHIPENGINE_API_KEY`` and run the sandbox tests to record real ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from shipengine_sandbox import NOW, STORIES, config, recorder, recording

from shipsync.carriers import CarrierClient
from shipsync.carriers.shipengine import ShipEngineDriver

#: ``GET /v1/carriers``: the document has no whole example; two accounts, after its schema.
CARRIERS = {
    "carriers": [
        {"carrier_id": "se-123890", "carrier_code": "ups", "nickname": "UPS"},
        {"carrier_id": "se-123891", "carrier_code": "stamps_com", "nickname": "USPS"},
    ],
    "request_id": "aa3d8e8e-462b-4476-9618-72db7f7b7009",
    "errors": [],
}


def _body(name: str) -> object:
    return recording(name)["responses"][0]["body"]


def main() -> None:
    routes = {
        "/v1/addresses/validate": _body("validate-documented"),
        "/v1/carriers": CARRIERS,
        "/v1/rates": _body("rates-two-carriers"),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        body = routes[request.url.path]
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(200, text=content, headers={"content-type": "application/json"})

    for name, story in STORIES.items():
        client = CarrierClient(
            ShipEngineDriver(config()), transport=httpx.MockTransport(answer), clock=NOW.timestamp
        )
        with recorder("all").use_cassette(name):
            story(client)
        client.close()
        print("wrote", name)


if __name__ == "__main__":
    main()
