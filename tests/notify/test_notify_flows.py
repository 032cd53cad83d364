"""Notifications through the dispatcher: never backwards, once per channel, degradable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
from _notify_helpers import T0, created, milestone
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Event, Milestone, event_for_tracking, fold
from shipsync.errors import ChannelUnavailableError
from shipsync.flows import AsyncSQLiteEventLog, Dispatcher, SQLiteDeadLetters
from shipsync.idempotency import MemoryStore
from shipsync.notify import (
    NotificationRequested,
    NotificationService,
    Notifier,
    NotifyDeadLetters,
    NotifyState,
    OutboundMessage,
    RecordingChannel,
    Rule,
    Rules,
    SendReceipt,
    StatusProjection,
    notify_catalogue,
)
from shipsync.testing import strategies as sst

RULES = Rules.of([Rule(("webhook", "email"))])


@attrs.define
class _Collector:
    """Stands in for the log's publish: keeps the notification events to dispatch next."""

    events: list[Event] = attrs.Factory(list)

    async def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@attrs.define
class _FlakyChannel:
    """A channel that is down while ``down`` is set; keeps what it sent."""

    name: str
    address: str | None = None
    down: bool = False
    sent: list[OutboundMessage] = attrs.Factory(list)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self.down:
            raise ChannelUnavailableError("down for the test", channel=self.name)
        self.sent.append(message)
        return SendReceipt(message.id, self.name)


@given(
    history=sst.tracking_histories(shipment_id="S1", packages=2, min_size=1, max_size=10),
    data=st.data(),
)
async def test_any_order_and_duplication_tells_a_rising_sequence_once_per_channel(
    history: list[object], data: st.DataObject
) -> None:
    """Whatever the order and repeats of carrier events (the booking among them), each
    channel's customer sees strictly rising statuses, each once (idempotency store), ending at
    the highest status reached."""
    events = [
        event_for_tracking(e, source="test")  # type: ignore[arg-type]
        for e in history
        if e.milestone is not Milestone.UNKNOWN  # type: ignore[attr-defined]
    ]
    if not events:
        return
    booking = created("S1", tns=("1Z000000000001", "1Z000000000002", "1Z000000000003"))
    arrival = data.draw(st.permutations([*events, booking]))
    arrival += data.draw(st.lists(st.sampled_from(events), max_size=6))
    channels = [RecordingChannel("webhook"), RecordingChannel("email")]
    service = NotificationService(Notifier(NotifyState(":memory:"), RULES), channels)
    dispatcher = Dispatcher(MemoryStore())
    collector = _Collector()
    service.attach(dispatcher, collector)
    projection = StatusProjection()
    best = -1
    seen: list[object] = []
    numbers: tuple[str, ...] = ()
    for event in arrival:
        if event is booking:
            numbers = booking.data.tracking_numbers
        else:
            seen.append(event.data)
        await dispatcher.dispatch([event])
        state = fold(seen, shipment_id="S1", tracking_numbers=numbers)  # type: ignore[arg-type]
        view = projection.project(state)
        if view is not None:
            best = max(best, view.rank)
        # Every notification event is delivered twice: the store must absorb the repeat.
        batch, collector.events = collector.events, []
        await dispatcher.dispatch(batch)
        await dispatcher.dispatch(batch)
    for channel in channels:
        ranks = [projection.rank(m.notification.status) for m in channel.sent]
        assert ranks == sorted(set(ranks)), channel.name
        assert len({m.id for m in channel.sent}) == len(channel.sent)
        assert (ranks[-1] if ranks else -1) == best


async def _run(log: AsyncSQLiteEventLog, dispatcher: Dispatcher) -> None:
    await dispatcher.run(log, idle_timeout=0.3)


async def test_a_failing_channel_dead_letters_only_its_own_and_replay_sends_each_once(
    tmp_path: Path,
) -> None:
    """E-mail down: webhooks and the notifier go on, e-mails are dead letters; replay sends each
    once, and a second replay sends nothing more."""
    log = AsyncSQLiteEventLog(tmp_path / "log.db", catalogue=notify_catalogue())
    email = _FlakyChannel("email", address="email", down=True)
    webhook = _FlakyChannel("webhook")
    service = NotificationService(Notifier(NotifyState(tmp_path / "n.db"), RULES), [webhook, email])
    dead = NotifyDeadLetters(SQLiteDeadLetters(tmp_path / "dead.db"))
    dispatcher = Dispatcher(MemoryStore(), dead)
    service.attach(dispatcher, log)
    from shipsync.canonical import Milestone as M

    stories = []
    for sid in ("S1", "S2", "S3"):
        stories += [created(sid), milestone(sid, M.PICKED_UP, 1), milestone(sid, M.DELIVERED, 9)]
    await log.publish(stories)
    await _run(log, dispatcher)
    assert len(webhook.sent) == 6
    assert email.sent == []
    letters = dead.list()
    assert {letter.handler for letter in letters} == {"notify.email"}
    assert len(letters) == 6
    email.down = False
    report = await dispatcher.replay()
    assert len(report.succeeded) == 6
    assert sorted(m.id for m in email.sent) == sorted({m.id for m in email.sent})
    assert len(email.sent) == 6
    again = await dispatcher.replay()
    assert again.succeeded == []
    assert len(email.sent) == 6
    assert all(isinstance(letter.event(), NotificationRequested) for letter in dead.list())
    await log.close()


async def test_a_redelivered_notification_event_is_sent_once(tmp_path: Path) -> None:
    """The same notify.requested event published twice reaches the channel once."""
    log = AsyncSQLiteEventLog(tmp_path / "log.db", catalogue=notify_catalogue())
    webhook = _FlakyChannel("webhook")
    notifier = Notifier(NotifyState(tmp_path / "n.db"), Rules.of([Rule(("webhook",))]))
    service = NotificationService(notifier, [webhook])
    dispatcher = Dispatcher(MemoryStore())
    service.attach(dispatcher, log)
    from shipsync.canonical import Milestone as M

    await log.publish([created("S1"), milestone("S1", M.IN_TRANSIT, 1)])
    await _run(log, dispatcher)
    assert len(webhook.sent) == 1
    # A crash between publishing and recording "shown": the notifier publishes it again.
    sent = webhook.sent[0]
    event = NotificationRequested.of(
        sent.notification, source="shipsync/notify", time=T0, id=sent.id, subject="S1"
    )
    await log.publish([event])
    await _run(log, dispatcher)
    assert len(webhook.sent) == 1
    await log.close()
