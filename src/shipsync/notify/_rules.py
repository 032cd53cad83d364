"""Notification rules: which change goes to which channel, when, and who opted out.

A :class:`Rule` names the customer statuses it covers and the channels they go to, with the
quiet hours that hold a message until morning in the recipient's time zone and the coalescing
window that turns a burst of scans into one message. :class:`Rules` is the ordered list a
:class:`~shipsync.notify.Notifier` consults; the first rule naming a channel for a status wins
for that channel. :class:`Preferences` are one recipient's choices: opted out of everything, of
some channels, or of some statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from shipsync.errors import ConfigurationError

from ._model import Recipient
from ._status import CustomerStatus

__all__ = [
    "DEFAULT_RULES",
    "PreferenceBook",
    "Preferences",
    "QuietHours",
    "Rule",
    "Rules",
    "zone",
]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; an unknown name is a ``ConfigurationError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"unknown time zone {name!r}", path="timezone") from exc


@attrs.frozen
class QuietHours:
    """A daily window, in the recipient's local time, when messages wait (22:00 to 07:00, say).

    ``start`` after ``end`` spans midnight. A message due inside the window is held until its
    end, in the recipient's zone (daylight saving included).
    """

    start: time = time(22, 0)
    end: time = time(7, 0)

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise ConfigurationError("quiet hours start and end must differ", path="quiet_hours")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ConfigurationError(
                "quiet hours are local times without a zone", path="quiet_hours"
            )

    def _inside(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_at(self, when: datetime, timezone: str) -> datetime:
        """``when`` if it is outside the window, else the window's end (UTC-aware, same zone)."""
        if when.tzinfo is None:
            raise ConfigurationError("when must be timezone-aware", path="when")
        tz = zone(timezone)
        local = when.astimezone(tz)
        if not self._inside(local.time().replace(tzinfo=None)):
            return when
        end = datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=tz)
        return end.astimezone(when.tzinfo)


@attrs.frozen
class Rule:
    """Send changes to ``statuses`` (None: every status) on ``channels``.

    ``quiet_hours`` holds the message during the recipient's night; ``coalesce`` waits this long
    after the first change so that later changes within the window go out as one message (the
    latest status).
    """

    channels: tuple[str, ...]
    statuses: frozenset[CustomerStatus] | None = None
    quiet_hours: QuietHours | None = None
    coalesce: timedelta = timedelta(0)

    def __attrs_post_init__(self) -> None:
        if not self.channels or any(not c or ":" in c for c in self.channels):
            raise ConfigurationError("a rule names channels, without ':'", path="channels")
        if self.coalesce < timedelta(0):
            raise ConfigurationError("coalesce is not negative", path="coalesce")

    def covers(self, status: CustomerStatus) -> bool:
        """Whether this rule sends ``status``."""
        return self.statuses is None or status in self.statuses

    def due_at(self, now: datetime, recipient: Recipient) -> datetime:
        """When a change seen at ``now`` may go out to ``recipient``."""
        due = now + self.coalesce
        if self.quiet_hours is not None:
            due = self.quiet_hours.release_at(due, recipient.timezone)
        return due


@attrs.frozen
class Preferences:
    """One recipient's choices: opted out of all, of some channels, or of some statuses."""

    opted_out: bool = False
    channels_off: frozenset[str] = frozenset()
    statuses_off: frozenset[CustomerStatus] = frozenset()

    def allows(self, channel: str, status: CustomerStatus) -> bool:
        """Whether ``channel`` may carry ``status`` to this recipient."""
        return not (self.opted_out or channel in self.channels_off or status in self.statuses_off)


@attrs.define
class PreferenceBook:
    """Preferences by recipient id, kept in memory (a host with a database passes a callable)."""

    entries: dict[str, Preferences] = attrs.Factory(dict)

    def __call__(self, recipient: Recipient) -> Preferences:
        return self.entries.get(recipient.id, Preferences())

    def opt_out(self, recipient_id: str, *channels: str) -> None:
        """Opt ``recipient_id`` out of ``channels`` (none named: of everything)."""
        current = self.entries.get(recipient_id, Preferences())
        if channels:
            current = attrs.evolve(current, channels_off=current.channels_off | set(channels))
        else:
            current = attrs.evolve(current, opted_out=True)
        self.entries[recipient_id] = current


@attrs.frozen
class Rules:
    """The ordered rules and the preferences a notifier consults."""

    rules: tuple[Rule, ...]
    preferences: Callable[[Recipient], Preferences] = attrs.field(factory=PreferenceBook, eq=False)

    @classmethod
    def of(
        cls,
        rules: Iterable[Rule],
        preferences: Callable[[Recipient], Preferences] | Mapping[str, Preferences] | None = None,
    ) -> Rules:
        """Build from rules and preferences (a callable, a mapping by recipient id, or none)."""
        if preferences is None:
            prefs: Callable[[Recipient], Preferences] = PreferenceBook()
        elif isinstance(preferences, Mapping):
            prefs = PreferenceBook(dict(preferences))
        else:
            prefs = preferences
        return cls(tuple(rules), prefs)

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel some rule names, in first-mention order."""
        seen: dict[str, None] = {}
        for rule in self.rules:
            seen.update(dict.fromkeys(rule.channels))
        return tuple(seen)

    def routes(self, status: CustomerStatus, recipient: Recipient) -> dict[str, Rule]:
        """Channel -> the rule that sends ``status`` there, after ``recipient``'s preferences."""
        prefs = self.preferences(recipient)
        out: dict[str, Rule] = {}
        for rule in self.rules:
            if not rule.covers(status):
                continue
            for channel in rule.channels:
                if channel not in out and prefs.allows(channel, status):
                    out[channel] = rule
        return out


DEFAULT_RULES = Rules.of(
    [
        Rule(channels=("webhook",)),
        Rule(
            channels=("email",),
            statuses=frozenset(
                {
                    CustomerStatus.SHIPPED,
                    CustomerStatus.DELAYED,
                    CustomerStatus.OUT_FOR_DELIVERY,
                    CustomerStatus.ACTION_NEEDED,
                    CustomerStatus.READY_FOR_PICKUP,
                    CustomerStatus.DELIVERED,
                    CustomerStatus.RETURNED,
                    CustomerStatus.CANCELLED,
                }
            ),
            quiet_hours=QuietHours(),
            coalesce=timedelta(minutes=10),
        ),
    ]
)
"""Every change to the webhooks at once; those that matter by e-mail, batched, not at night."""
