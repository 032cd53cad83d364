"""The notification channel conformance suite: run it against any channel through one fixture.

Subclass :class:`ChannelConformance` in a test module and give it a fixture named
``channel_harness`` returning a :class:`ChannelHarness`::

    from shipsync.testing.notify import ChannelConformance, ChannelHarness

    class TestMySmsChannel(ChannelConformance):
        @pytest.fixture
        def channel_harness(self, sms_gateway):
            yield ChannelHarness(
                channel=MySmsChannel(sms_gateway.url),
                received=sms_gateway.message_ids,     # ids the far side got, in order
                break_channel=sms_gateway.go_down,    # optional: make it unavailable
                repair_channel=sms_gateway.come_back,
            )

The suite checks the contract of :class:`shipsync.notify.Channel`: a valid name and address
kind, a receipt naming the message id, the id reaching the far side unchanged on every send,
typed errors only (``ChannelUnavailableError`` while the far side is down) and recovery after it.
Needs ``pytest`` and the ``notify`` extra; async tests run with pytest-asyncio in auto mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import attrs
import pytest

from shipsync.errors import ChannelRejectedError, ChannelUnavailableError, ShipsyncError
from shipsync.notify import (
    Channel,
    CustomerStatus,
    Notification,
    OutboundMessage,
    Recipient,
    Renderer,
    SendReceipt,
)

__all__ = ["ChannelConformance", "ChannelHarness", "sample_notification"]


@attrs.define
class ChannelHarness:
    """A channel under test and how to observe and break its far side.

    ``received`` returns the message ids the far side got, in arrival order (repeats included).
    ``break_channel``/``repair_channel`` make the far side unavailable and available again; leave
    them None when the channel cannot be broken from the test.
    """

    channel: Channel
    received: Callable[[], Sequence[str]]
    break_channel: Callable[[], None] | None = None
    repair_channel: Callable[[], None] | None = None
    recipient: Recipient = attrs.field(
        factory=lambda: Recipient(id="cust-1", name="Ada", email="ada@example.com", locale="en")
    )
    order_reference: str = "SO042"


def sample_notification(
    channel: str,
    recipient: Recipient,
    *,
    status: CustomerStatus = CustomerStatus.SHIPPED,
    order_reference: str | None = "SO042",
) -> Notification:
    """A notification of a fresh shipment for ``channel`` and ``recipient`` (a new id each call)."""
    shipment_id = f"SHP-{uuid.uuid4().hex[:10]}"
    return Notification(
        notification_id=str(uuid.uuid4()),
        channel=channel,
        shipment_id=shipment_id,
        recipient=recipient,
        status=status,
        previous=CustomerStatus.PREPARING,
        predicted=date(2026, 12, 9),
        changed_at=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
        requested_at=datetime(2026, 12, 6, 9, 31, tzinfo=UTC),
        order_reference=order_reference,
        carrier="fake",
        tracking_numbers=("1Z000000000001",),
    )


class ChannelConformance:
    """Contract tests every notification channel passes; see the module docstring."""

    @pytest.fixture
    def channel_harness(self) -> ChannelHarness:
        """Override in the subclass: the channel under test and its far side."""
        raise NotImplementedError("give the conformance suite a channel_harness fixture")

    def message(self, harness: ChannelHarness) -> OutboundMessage:
        """A fresh rendered message for the harness's channel."""
        n = sample_notification(
            harness.channel.name, harness.recipient, order_reference=harness.order_reference
        )
        return Renderer().render(n)

    def test_name_and_address_have_the_contract_form(self, channel_harness: ChannelHarness) -> None:
        """A channel's name is non-empty without ':'; its address kind is None or a field."""
        channel = channel_harness.channel
        assert isinstance(channel.name, str)
        assert channel.name
        assert ":" not in channel.name
        assert channel.address is None or channel.address in {"email", "phone"}

    async def test_send_returns_a_receipt_naming_the_message(
        self, channel_harness: ChannelHarness
    ) -> None:
        """A successful send returns a receipt with the message id and the channel's name."""
        message = self.message(channel_harness)
        receipt = await channel_harness.channel.send(message)
        assert isinstance(receipt, SendReceipt)
        assert receipt.message_id == message.id
        assert receipt.channel == channel_harness.channel.name

    async def test_the_message_id_reaches_the_far_side(
        self, channel_harness: ChannelHarness
    ) -> None:
        """The far side gets the message id itself, so it can drop a repeat."""
        message = self.message(channel_harness)
        before = len(channel_harness.received())
        await channel_harness.channel.send(message)
        assert list(channel_harness.received())[before:] == [message.id]

    async def test_a_second_send_of_one_message_carries_the_same_id(
        self, channel_harness: ChannelHarness
    ) -> None:
        """Sending one message twice never invents a new id (receivers dedupe on it)."""
        message = self.message(channel_harness)
        await channel_harness.channel.send(message)
        await channel_harness.channel.send(message)
        ids = [i for i in channel_harness.received() if i == message.id]
        assert 1 <= len(ids) <= 2

    async def test_an_unavailable_far_side_is_a_typed_retryable_error_then_recovers(
        self, channel_harness: ChannelHarness
    ) -> None:
        """While the far side is down a send raises ChannelUnavailableError; after, it works."""
        if channel_harness.break_channel is None or channel_harness.repair_channel is None:
            pytest.skip("this harness cannot break its channel")
        message = self.message(channel_harness)
        channel_harness.break_channel()
        try:
            with pytest.raises(ChannelUnavailableError) as info:
                await channel_harness.channel.send(message)
            assert info.value.retryable
        finally:
            channel_harness.repair_channel()
        receipt = await channel_harness.channel.send(message)
        assert receipt.message_id == message.id
        assert message.id in channel_harness.received()

    async def test_errors_are_only_the_contract_types(
        self, channel_harness: ChannelHarness
    ) -> None:
        """Whatever happens, a send returns a receipt or raises a channel error, nothing else."""
        message = self.message(channel_harness)
        try:
            await channel_harness.channel.send(message)
        except (ChannelUnavailableError, ChannelRejectedError):
            pass
        except ShipsyncError as exc:  # pragma: no cover - a failing channel
            pytest.fail(f"a channel raised {type(exc).__name__}, not a channel error")
