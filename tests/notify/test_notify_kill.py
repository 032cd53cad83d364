"""A notification worker SIGKILLed mid-send: nothing lost, repeats only of unacknowledged sends."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _notify_helpers import SmtpSink, created, milestone, smtp_server

from shipsync.canonical import Milestone
from shipsync.flows import SQLiteEventLog
from shipsync.notify import notify_catalogue

WORKER = Path(__file__).with_name("_notify_worker.py")
CONCURRENCY = 8


class SlowSink(SmtpSink):
    """Takes 30 ms per message, so a kill lands while sends are in flight."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


def _decided(workdir: Path) -> set[str]:
    with sqlite3.connect(workdir / "log.db") as conn:
        rows = conn.execute(
            "SELECT event_id FROM shipsync_events WHERE type = 'notify.requested'"
        ).fetchall()
    return {r[0] for r in rows}


def _start(workdir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(workdir), str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.slow
def test_a_worker_killed_mid_send_loses_nothing_and_repeats_only_in_flight_sends(
    tmp_path: Path,
) -> None:
    """After SIGKILL and a restart every notification arrived; an id arrives twice only when
    its send was in flight at the kill (at most one per concurrent partition), same Message-ID."""
    log = SQLiteEventLog(tmp_path / "log.db", catalogue=notify_catalogue())
    events = []
    for i in range(30):
        sid = f"K{i:03d}"
        events += [
            created(sid, email=f"k{i}@example.com"),
            milestone(sid, Milestone.PICKED_UP, 1),
            milestone(sid, Milestone.OUT_FOR_DELIVERY, 5),
            milestone(sid, Milestone.DELIVERED, 9),
        ]
    log.publish(events)
    log.close()
    with smtp_server(SlowSink()) as (sink, port):
        worker = _start(tmp_path, port)
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while len(sink.messages) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        worker.stdout.close()
        killed_at = len(sink.messages)
        assert 0 < killed_at < 90
        successor = _start(tmp_path, port)
        assert successor.wait(120) == 0
        assert successor.stdout is not None
        successor.stdout.close()
        received = Counter(sink.message_ids())
    decided = _decided(tmp_path)
    assert len(decided) == 90  # 30 shipments x shipped, out for delivery, delivered
    assert set(received) == decided
    repeats = {i: c for i, c in received.items() if c > 1}
    assert all(c == 2 for c in repeats.values())
    assert len(repeats) <= CONCURRENCY


@pytest.mark.slow
def test_a_webhook_sender_killed_mid_round_loses_nothing_and_repeats_few(
    tmp_path: Path,
) -> None:
    """A sender SIGKILLed mid-round leaves its claims to expire; its successor delivers every
    message, repeating at most the attempts not yet recorded (4 x concurrency + in flight),
    each with the same webhook-id."""
    from _notify_helpers import LocalEndpoint

    from shipsync.notify import EndpointStore

    worker_script = Path(__file__).with_name("_notify_webhook_worker.py")
    with LocalEndpoint() as endpoint:
        endpoint.delay = 0.02
        store = EndpointStore(tmp_path / "endpoints.db")
        store.add(endpoint.url, id="ep", allow_private=True)
        for i in range(80):
            store.accept(f"msg-{i}", "t", b"{}")
        store.close()

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, str(worker_script), str(tmp_path / "endpoints.db")],
                stdout=subprocess.PIPE,
                text=True,
            )

        first = start()
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while len(endpoint.delivered) < 30 and time.monotonic() < deadline:
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        first.stdout.close()
        successor = start()
        assert successor.wait(120) == 0
        assert successor.stdout is not None
        successor.stdout.close()
        received = Counter(endpoint.delivered)
    assert set(received) == {f"msg-{i}" for i in range(80)}
    repeats = {i: c for i, c in received.items() if c > 1}
    assert all(c == 2 for c in repeats.values())
    assert len(repeats) <= 4 * 4 + 4
