"""Wiring: a notifier and its channels as dispatcher handlers on the flows' event log.

:meth:`NotificationService.attach` subscribes two kinds of handler to a
:class:`~shipsync.flows.Dispatcher`:

* ``notify.observe`` (blocking, retried) reads shipment events, decides the changes and publishes
  the due ones as ``notify.requested`` events into the same log;
* one ``notify.<channel>`` handler per channel (non-blocking: one attempt, then a dead letter)
  renders and sends the notifications of its channel.

So a channel that is down dead-letters only its own messages; shipment execution and the other
channels go on, and :meth:`~shipsync.flows.Dispatcher.replay` sends each dead letter once after
the outage (the idempotency key of a pair that took effect is never claimed again).

Delivery is at least once only across a crash: the dispatcher records completions once per
batch, so each channel handler also marks its send in the notifier's state right after the
channel took it and skips a marked one. A process killed mid-send therefore repeats at most the
sends that were in flight (one per concurrent partition), with the same message id each time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from shipsync.canonical import Event
from shipsync.errors import ConfigurationError
from shipsync.flows import AsyncEventLog, Dispatcher, DispatchReport, HandlerContext, Subscription

from ._channel import Channel, OutboundMessage, SendReceipt, reachable
from ._model import Notification, NotificationRequested, Recipient, notification_id
from ._notifier import Notifier, NotifyState, notification_of
from ._render import Renderer

__all__ = ["NotificationService"]


class _Publisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...


@attrs.define
class NotificationService:
    """A notifier, its channels and a renderer, ready to attach to a dispatcher.

    ``channel_timeout`` bounds each send (seconds); past it the send has failed.
    """

    notifier: Notifier
    channels: Sequence[Channel]
    renderer: Renderer = attrs.Factory(Renderer)
    channel_timeout: float = 30.0
    _by_name: dict[str, Channel] = attrs.field(init=False, factory=dict)
    _publisher: _Publisher | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        for channel in self.channels:
            name = channel.name
            if not name or ":" in name:
                raise ConfigurationError("a channel name is non-empty, without ':'", path="name")
            if name in self._by_name:
                raise ConfigurationError(f"two channels are named {name!r}", path="channels")
            self._by_name[name] = channel
            self.notifier.reachable.setdefault(name, _reach(channel))

    def channel(self, name: str) -> Channel:
        """The channel named ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(f"no channel named {name!r}", path="channel") from None

    def attach(self, dispatcher: Dispatcher, log: _Publisher) -> list[Subscription]:
        """Subscribe the notifier and one handler per channel; due changes go into ``log``."""

        self._publisher = log

        async def observe(event: Event, _ctx: HandlerContext) -> None:
            await self.notifier.handle(event, log.publish)

        subs = [
            dispatcher.subscribe(Notifier.EVENT_TYPES, observe, name="notify.observe"),
        ]
        for channel in self.channels:
            subs.append(
                dispatcher.subscribe(
                    NotificationRequested.event_type(),
                    self._handler(channel),
                    name=f"notify.{channel.name}",
                    blocking=False,
                    timeout=self.channel_timeout,
                )
            )
        return subs

    def _handler(self, channel: Channel) -> _ChannelHandler:
        return _ChannelHandler(channel, self.renderer, self.notifier.state)

    async def flush(self, log: _Publisher) -> int:
        """Publish the changes whose time has come (coalesced, past quiet hours)."""
        return await self.notifier.flush(log.publish)

    async def run_flusher(
        self, log: _Publisher, *, interval: float = 5.0, stop: asyncio.Event | None = None
    ) -> None:
        """Call :meth:`flush` every ``interval`` seconds until ``stop`` is set."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.flush(log)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue

    async def run(
        self,
        dispatcher: Dispatcher,
        log: AsyncEventLog,
        *,
        stop: asyncio.Event | None = None,
        idle_timeout: float | None = None,
        flush_interval: float = 5.0,
        batch_size: int = 100,
    ) -> DispatchReport:
        """Run the dispatcher on ``log`` with the flusher beside it: the way to host notify.

        First publishes what came due while no process ran (held by quiet hours or coalescing
        before a restart: the held changes live in the notifier's state, not in memory), then
        runs :meth:`~shipsync.flows.Dispatcher.run` and :meth:`run_flusher` together until
        ``stop`` is set (or nothing came for ``idle_timeout`` seconds and a last flush found
        nothing more to publish). Changes still held when it returns stay in the state and go
        out on a later run. Attach the service to ``dispatcher`` first.
        """
        if self._publisher is None:
            raise ConfigurationError("attach the service to the dispatcher first", path="run")
        publisher = self._publisher
        stop = stop or asyncio.Event()
        done = asyncio.Event()
        total = DispatchReport()
        await self.flush(publisher)
        flusher = asyncio.create_task(
            self.run_flusher(publisher, interval=flush_interval, stop=done)
        )
        try:
            while True:
                report = await dispatcher.run(
                    log, batch_size=batch_size, stop=stop, idle_timeout=idle_timeout
                )
                total.add(report)
                if stop.is_set() or not await self.flush(publisher):
                    break
        finally:
            done.set()
            await flusher
        return total

    def preview(self, shipment_id: str) -> list[OutboundMessage]:
        """What each channel would send about the shipment's current status; changes nothing."""
        view = self.notifier.view(shipment_id)
        if view is None:
            return []
        shipment, _ = self.notifier.state.shipment(shipment_id)
        out = []
        for recipient in self.notifier.recipients(shipment, shipment_id):
            for name in self.notifier.rules.routes(view.status, recipient):
                channel = self._by_name.get(name)
                if channel is not None and not reachable(recipient, channel):
                    continue
                n = Notification(
                    notification_id=notification_id(
                        shipment_id, recipient.id, name, view.status.value
                    ),
                    channel=name,
                    shipment_id=shipment_id,
                    recipient=recipient,
                    status=view.status,
                    reason=view.reason,
                    promised=view.promised,
                    predicted=view.predicted,
                    changed_at=view.changed_at,
                    requested_at=self.notifier.clock(),
                    order_reference=shipment.order_reference if shipment else None,
                    carrier=shipment.carrier if shipment else None,
                    tracking_numbers=shipment.tracking_numbers if shipment else (),
                )
                out.append(self.renderer.render(n))
        return out


def _reach(channel: Channel) -> Callable[[Recipient], bool]:
    def check(recipient: Recipient) -> bool:
        return reachable(recipient, channel)

    return check


@attrs.frozen
class _ChannelHandler:
    """The dispatcher handler of one channel: render its notifications and send them."""

    channel: Channel
    renderer: Renderer
    state: NotifyState

    async def __call__(self, event: Event, ctx: HandlerContext) -> SendReceipt | None:
        notification = notification_of(event)
        if notification is None or notification.channel != self.channel.name:
            return None
        # The dispatcher records completions per batch; this mark, written right after the
        # send, narrows the repeat after a crash to the sends in flight at that moment.
        if await asyncio.to_thread(self.state.was_sent, ctx.key):
            return None
        message = self.renderer.render(notification)
        receipt = await self.channel.send(message)
        await asyncio.to_thread(self.state.mark_sent, ctx.key, time.time())
        return receipt
