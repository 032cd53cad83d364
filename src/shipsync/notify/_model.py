"""Notifications as events: who is told what, on which channel, carried in the flows' event log.

A :class:`NotificationRequested` event (type ``notify.requested``; :func:`notify_catalogue`
reads it) is published into the event log once per (shipment,
recipient, channel, customer status). Its id is a hash of those four, so the same change asked
twice is the same event, and the dispatcher's idempotency store lets each channel's handler take
effect once per change. The data (:class:`Notification`) holds everything a channel needs to
render and send the message, so a replay months later sends what was decided then.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from shipsync.canonical import (
    CanonicalModel,
    Event,
    EventCatalogue,
    PersonalData,
    Reason,
    UtcDatetime,
    default_catalogue,
)
from shipsync.canonical._base import Identifier, PersonalStr, ShortText

from ._status import CustomerStatus

__all__ = [
    "NOTIFICATION_SOURCE",
    "Notification",
    "NotificationRequested",
    "Recipient",
    "notification_id",
    "notify_catalogue",
]

NOTIFICATION_SOURCE = "shipsync/notify"
"""The CloudEvents ``source`` of notification events."""

LocaleName = Annotated[str, Field(pattern=r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$", max_length=12)]
ZoneName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_+\-/]{1,64}$")]


class Recipient(CanonicalModel):
    """Someone (or some system) to tell: an id, how to reach them, their language and zone.

    ``id`` is stable (a customer number, or the e-mail address); ``email`` and ``phone`` are
    personal data, hidden in reprs.
    """

    id: Identifier
    name: PersonalStr | None = None
    email: PersonalStr | None = None
    phone: PersonalStr | None = None
    locale: LocaleName = "en"
    timezone: ZoneName = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("an IANA time zone name such as Europe/Paris") from exc
        return value


class Notification(CanonicalModel):
    """One change of customer status, to be sent on one channel to one recipient."""

    notification_id: Identifier
    channel: Identifier
    shipment_id: Identifier
    recipient: Recipient
    status: CustomerStatus
    previous: CustomerStatus | None = None
    reason: Reason | None = None
    promised: date | None = None
    predicted: date | None = None
    changed_at: UtcDatetime | None = None
    requested_at: UtcDatetime
    order_reference: ShortText | None = None
    carrier: ShortText | None = None
    tracking_numbers: Annotated[tuple[Identifier, ...], Field(max_length=999)] = ()
    tracking_url: Annotated[str, PersonalData(), Field(max_length=2000)] | None = None


class NotificationRequested(Event):
    """A customer notification was decided and waits for its channel."""

    type: Literal["notify.requested"] = "notify.requested"
    data: Notification


def notification_id(shipment_id: str, recipient_id: str, channel: str, status: str) -> str:
    """The stable id of one change on one channel for one recipient (a UUID from SHA-256)."""
    text = "\n".join((shipment_id, recipient_id, channel, status))
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16], version=5))


def notify_catalogue(base: EventCatalogue = default_catalogue) -> EventCatalogue:
    """``base``'s event types plus :class:`NotificationRequested`: open the event log with it.

    The default catalogue stays as it is (other code relies on its exact list of types), so an
    event log that carries notifications is opened with ``catalogue=notify_catalogue()``, and its
    dead letters are read through :class:`~shipsync.notify.NotifyDeadLetters`.
    """
    if NotificationRequested.event_type() in base.types:
        return base
    return EventCatalogue([*base.types.values(), NotificationRequested])


def requested(notification: Notification, *, at: datetime) -> NotificationRequested:
    """The event carrying ``notification``; its id is the notification's."""
    return NotificationRequested.of(
        notification,
        source=NOTIFICATION_SOURCE,
        time=at,
        id=notification.notification_id,
        subject=notification.shipment_id,
        partitionkey=notification.shipment_id,
    )
