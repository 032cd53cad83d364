"""Held changes (quiet hours, coalescing) are released by the hosting path, once, across restarts.

A change decided at night is held in the notifier's state, not in memory.
``NotificationService.run`` (the dispatcher with its flusher) publishes it once its time has
come, also after a restart; a dispatcher running alone releases it with the next event of any
shipment.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from _notify_helpers import created, milestone

from shipsync.canonical import Milestone
from shipsync.flows import AsyncSQLiteEventLog, Dispatcher
from shipsync.idempotency import SQLiteStore
from shipsync.notify import (
    NotificationService,
    Notifier,
    NotifyState,
    QuietHours,
    RecordingChannel,
    Rule,
    Rules,
    notify_catalogue,
)

NIGHT = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
MORNING = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
RULES = Rules.of([Rule(("webhook",), quiet_hours=QuietHours(time(22), time(7)))])


class Host:
    """One process of the host: its own objects on the same files, its own clock."""

    def __init__(self, root: Path, now: datetime, sweep_interval: float = 1.0) -> None:
        self.now = now
        self.log = AsyncSQLiteEventLog(root / "events.db", catalogue=notify_catalogue(), lease=2)
        self.state = NotifyState(root / "notify.db")
        self.webhook = RecordingChannel("webhook")
        notifier = Notifier(
            self.state, RULES, clock=lambda: self.now, sweep_interval=sweep_interval
        )
        self.service = NotificationService(notifier, [self.webhook])
        self.keys = SQLiteStore(root / "keys.db")
        self.dispatcher = Dispatcher(self.keys)
        self.service.attach(self.dispatcher, self.log)

    def sent(self) -> list[tuple[str, str]]:
        return [(m.notification.shipment_id, m.payload["status"]) for m in self.webhook.sent]

    async def close(self) -> None:
        await self.log.close()
        self.state.close()
        self.keys.close()


async def test_a_change_held_overnight_is_sent_once_after_a_restart(tmp_path: Path) -> None:
    """Decided at 23:00 and held; the process stops; the next one, at 07:30, sends it once and
    a third sends nothing more."""
    night = Host(tmp_path, NIGHT)
    await night.log.publish(
        [
            created("H1"),
            milestone("H1", Milestone.IN_TRANSIT, 1),
            milestone("H1", Milestone.DELIVERED, 2),
        ]
    )
    await night.service.run(night.dispatcher, night.log, idle_timeout=0.5, flush_interval=0.1)
    assert night.sent() == []
    await night.close()

    morning = Host(tmp_path, MORNING)
    await morning.service.run(morning.dispatcher, morning.log, idle_timeout=0.5, flush_interval=0.1)
    assert morning.sent() == [("H1", "delivered")]
    await morning.close()

    later = Host(tmp_path, MORNING + timedelta(hours=1))
    await later.service.run(later.dispatcher, later.log, idle_timeout=0.5, flush_interval=0.1)
    assert later.sent() == []
    await later.close()


async def test_the_flusher_beside_the_dispatcher_releases_at_the_end_of_quiet_hours(
    tmp_path: Path,
) -> None:
    """While run() waits for events, the quiet hours end: the held change goes out, once."""
    host = Host(tmp_path, NIGHT)
    await host.log.publish([created("H2"), milestone("H2", Milestone.OUT_FOR_DELIVERY, 1)])
    stop = asyncio.Event()
    running = asyncio.create_task(
        host.service.run(host.dispatcher, host.log, stop=stop, flush_interval=0.05)
    )
    for _ in range(100):
        await asyncio.sleep(0.05)
        if host.state.due(MORNING.timestamp()):
            break
    assert host.sent() == []
    host.now = MORNING
    for _ in range(100):
        await asyncio.sleep(0.05)
        if host.sent():
            break
    await asyncio.sleep(0.3)
    stop.set()
    await running
    assert host.sent() == [("H2", "out_for_delivery")]
    await host.close()


async def test_a_dispatcher_alone_releases_held_changes_with_the_next_event(
    tmp_path: Path,
) -> None:
    """Without a flusher, the next event of another shipment carries the due change out."""
    host = Host(tmp_path, NIGHT, sweep_interval=0.0)
    await host.log.publish([created("H3"), milestone("H3", Milestone.IN_TRANSIT, 1)])
    await host.dispatcher.run(host.log, idle_timeout=0.5)
    assert host.sent() == []
    host.now = MORNING
    await host.log.publish([created("H4")])
    await host.dispatcher.run(host.log, idle_timeout=0.5)
    assert ("H3", "shipped") in host.sent()
    await host.close()
