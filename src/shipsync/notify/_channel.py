"""The channel contract: one rendered message in, a receipt out, or a typed error.

A channel (e-mail, outbound webhooks, the Odoo chatter, an SMS gateway of a host's own) takes an
:class:`OutboundMessage` and delivers it. Its contract, checked by the public conformance kit
``shipsync.testing.notify``:

* ``name`` is a non-empty string without ``:`` (it becomes part of handler names and keys);
* ``address`` names what the recipient needs for this channel (``"email"``, ``"phone"``) or is
  None (a channel addressed by configuration: webhooks, Odoo);
* ``send`` returns a :class:`SendReceipt` naming the message id, or raises
  :class:`~shipsync.errors.ChannelUnavailableError` (try again later) or
  :class:`~shipsync.errors.ChannelRejectedError` (never again as it is); nothing else;
* the message id travels with the message (``webhook-id``, ``Message-ID``, Odoo's
  ``message_id``), the same on every attempt, so a receiver can drop a repeat: sending is at
  least once when a process dies between the send and its record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from ._model import Notification, Recipient

__all__ = ["Channel", "OutboundMessage", "RecordingChannel", "SendReceipt", "ShadowChannel"]


@attrs.frozen
class OutboundMessage:
    """A notification rendered for one channel.

    ``id`` is the notification id (stable across retries and replays); ``payload`` is the JSON
    object a machine channel sends; ``subject``, ``text`` and ``html`` are what a person reads.
    """

    id: str
    channel: str
    event_type: str
    recipient: Recipient
    notification: Notification = attrs.field(repr=False)
    payload: Mapping[str, Any] = attrs.field(repr=False)
    subject: str = ""
    text: str = attrs.field(default="", repr=False)
    html: str = attrs.field(default="", repr=False)
    locale: str = "en"


@attrs.frozen
class SendReceipt:
    """A channel took the message: its id, the channel, and what the far side answered."""

    message_id: str
    channel: str
    detail: str = ""
    shadow: bool = False


@runtime_checkable
class Channel(Protocol):
    """Delivers rendered messages; see the module docstring for the contract."""

    @property
    def name(self) -> str:
        """The channel's name: ``"email"``, ``"webhook"``, ``"odoo"``, ..."""
        ...

    @property
    def address(self) -> str | None:
        """The recipient field this channel needs (``"email"``, ``"phone"``) or None."""
        ...

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Deliver ``message``; raise ``ChannelUnavailableError`` or ``ChannelRejectedError``."""
        ...


@attrs.define
class RecordingChannel:
    """A channel that keeps what it was given: the reference channel of tests and previews."""

    name: str = "recording"
    address: str | None = None
    sent: list[OutboundMessage] = attrs.Factory(list)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Keep ``message``."""
        self.sent.append(message)
        return SendReceipt(message.id, self.name)


@attrs.define
class ShadowChannel:
    """Wraps a channel: renders and records what it would send, and sends nothing (shadow mode).

    It has the wrapped channel's ``name`` and ``address``, so the same rules and idempotency keys
    apply; ``recorded`` holds the messages, and receipts say ``shadow=True``.
    """

    inner: Channel
    recorded: list[OutboundMessage] = attrs.Factory(list)

    @property
    def name(self) -> str:
        """The wrapped channel's name."""
        return self.inner.name

    @property
    def address(self) -> str | None:
        """The wrapped channel's address kind."""
        return self.inner.address

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Record ``message`` without sending it."""
        self.recorded.append(message)
        return SendReceipt(message.id, self.name, detail="shadow: not sent", shadow=True)


def reachable(recipient: Recipient, channel: Channel) -> bool:
    """Whether ``recipient`` has what ``channel`` needs (an e-mail address, say)."""
    field = channel.address
    return field is None or bool(getattr(recipient, field, None))
