"""``shipsync dlq show`` and ``replay`` read dead-lettered notifications (the top-level group)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import shipsync.cli
from shipsync.flows import NewDeadLetter, SQLiteDeadLetters
from shipsync.notify import NotificationRequested, Recipient
from shipsync.testing.notify import sample_notification

APP = """
from shipsync.flows import Dispatcher
from shipsync.idempotency import MemoryStore
from shipsync.notify import (
    NotificationService, Notifier, NotifyState, Rule, Rules, SendReceipt,
)

SENT = []


class Webhook:
    name = "webhook"
    address = None

    async def send(self, message):
        SENT.append(message.id)
        return SendReceipt(message.id, self.name)


def build():
    service = NotificationService(
        Notifier(NotifyState(":memory:"), Rules.of([Rule(("webhook",))])), [Webhook()]
    )
    dispatcher = Dispatcher(MemoryStore())

    class Log:
        async def publish(self, events):
            return None

    service.attach(dispatcher, Log())
    return dispatcher
"""


@pytest.fixture
def letter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A dead letter store holding one notification the webhook channel gave up on."""
    notification = sample_notification("webhook", Recipient(id="cust-1"))
    event = NotificationRequested.of(
        notification,
        source="shipsync/notify",
        id=notification.notification_id,
        time=notification.requested_at,
    )
    store = str(tmp_path / "dead.db")
    letters = SQLiteDeadLetters(store)
    now = time.time()
    letters.record(
        NewDeadLetter(
            event_id=event.id,
            event_type=event.type,
            partition=notification.shipment_id,
            handler="notify.webhook",
            body=event.to_json(),
            error_type="ChannelUnavailableError",
            error="endpoint down",
            attempts=1,
            failed_at=now,
        )
    )
    letters.close()
    (tmp_path / "notify_dlq_app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return store, notification.notification_id


def test_show_parses_a_notification_letter(letter: tuple[str, str]) -> None:
    """`dlq show` reads a notify.requested letter with the notify catalogue: parsed, typed."""
    store, nid = letter
    result = CliRunner().invoke(shipsync.cli.main, ["dlq", "show", "1", "--store", store])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["parsed"] is True, shown.get("parse_error")
    assert shown["event"]["type"] == "notify.requested"
    assert shown["event"]["data"]["notification_id"] == nid


def test_replay_sends_a_notification_letter_once(letter: tuple[str, str]) -> None:
    """`dlq replay` sends the dead-lettered notification through the app's channel, once."""
    store, nid = letter
    args = ["dlq", "replay", "--all", "--store", store, "--app", "notify_dlq_app:build"]
    result = CliRunner().invoke(shipsync.cli.main, args)
    assert result.exit_code == 0, result.output
    assert "succeeded 1" in result.output
    sent = sys.modules["notify_dlq_app"].SENT
    assert sent == [nid]
    result = CliRunner().invoke(shipsync.cli.main, args)
    assert "succeeded 0" in result.output
    sent = sys.modules["notify_dlq_app"].SENT
    assert sent == [nid]
