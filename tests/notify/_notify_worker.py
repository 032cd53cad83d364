"""A notification worker process for the SIGKILL test: log -> notifier -> e-mail channel.

Run as a script with the work directory and the SMTP port; it handles the event log until it
has been idle for a second. Leases are short so that a successor takes over quickly.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from pathlib import Path

from shipsync.flows import AsyncSQLiteEventLog, Dispatcher, SQLiteDeadLetters
from shipsync.idempotency import SQLiteStore
from shipsync.notify import (
    EmailChannel,
    NotificationService,
    Notifier,
    NotifyDeadLetters,
    NotifyState,
    Rule,
    Rules,
    notify_catalogue,
)


async def main(workdir: Path, port: int) -> None:
    log = AsyncSQLiteEventLog(workdir / "log.db", catalogue=notify_catalogue(), lease=2.0)
    service = NotificationService(
        Notifier(NotifyState(workdir / "notify.db"), Rules.of([Rule(("email",))])),
        [EmailChannel("127.0.0.1", port, "shop@example.com", timeout=10)],
    )
    dispatcher = Dispatcher(
        SQLiteStore(workdir / "keys.db"),
        NotifyDeadLetters(SQLiteDeadLetters(workdir / "dead.db")),
        lease=timedelta(seconds=2),
        concurrency=8,
    )
    service.attach(dispatcher, log)
    print("ready", flush=True)
    await dispatcher.run(log, idle_timeout=1.5)
    await log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    asyncio.run(main(args.workdir, args.port))
