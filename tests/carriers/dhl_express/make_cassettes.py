"""Produce the sandbox replay cassettes offline, from the MyDHL document's examples.

    python tests/carriers/dhl_express/make_cassettes.py

Runs each sandbox story under vcrpy in record mode, with the client's transport answering from
``cassettes/replay.json`` (the document's examples) instead of DHL (no network), so the
cassettes hold the exact requests the driver sends. They are not recordings of DHL: set the
``DHL_EXPRESS_*`` variables and run the sandbox tests to record real ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from dhl_express_sandbox import NOW, STORIES, config, recorder, recording

from shipsync.carriers import CarrierClient
from shipsync.carriers.dhl_express import DhlExpressDriver


def main() -> None:
    routes = {
        "/mydhlapi/test/address-validate": recording("address-valid")["responses"][0]["body"],
        "/mydhlapi/test/rates": recording("rates-documented")["responses"][0]["body"],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        body = routes[request.url.path]
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(200, text=content, headers={"content-type": "application/json"})

    for name, story in STORIES.items():
        client = CarrierClient(
            DhlExpressDriver(config()), transport=httpx.MockTransport(answer), clock=NOW.timestamp
        )
        with recorder("all").use_cassette(name):
            story(client)
        client.close()
        print("wrote", name)


if __name__ == "__main__":
    main()
