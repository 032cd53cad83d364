"""A webhook sender process for the SIGKILL test: deliver until nothing is pending, then exit."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from shipsync.notify import EndpointStore, WebhookSender


async def main(path: Path) -> None:
    store = EndpointStore(path)
    sender = WebhookSender(store, timeout=1.0, lease=2.0, concurrency=4)
    print("ready", flush=True)
    while store.deliveries("pending"):
        await sender.deliver_due()
        await asyncio.sleep(0.05)
    await sender.aclose()
    store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
