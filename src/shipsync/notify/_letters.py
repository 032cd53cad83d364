"""Dead letters that read notification events: what replay needs to send them again."""

from __future__ import annotations

from typing import Any

import attrs

from shipsync.canonical import Event, EventCatalogue
from shipsync.flows import DeadLetter, DeadLetterFilter, DeadLetterStore, NewDeadLetter

from ._model import notify_catalogue

__all__ = ["NotifyDeadLetters"]


@attrs.frozen
class _Letter(DeadLetter):
    catalogue: EventCatalogue = attrs.field(factory=notify_catalogue, repr=False, eq=False)

    def event(self, catalogue: EventCatalogue | None = None) -> Event:
        """The event this letter holds, read with the notify catalogue by default."""
        return (catalogue or self.catalogue).parse(self.body)


class NotifyDeadLetters:
    """Wraps a dead letter store so that its letters parse ``notify.requested`` events.

    Hand it to the :class:`~shipsync.flows.Dispatcher` in place of the store itself; the
    dispatcher's replay then sends dead-lettered notifications again.
    """

    def __init__(self, inner: DeadLetterStore, catalogue: EventCatalogue | None = None) -> None:
        self.inner = inner
        self.catalogue = catalogue or notify_catalogue()

    def _wrap(self, letter: DeadLetter) -> DeadLetter:
        fields: dict[str, Any] = attrs.asdict(letter, recurse=False)
        return _Letter(**fields, catalogue=self.catalogue)

    def record(self, letter: NewDeadLetter) -> int:
        """Record or update the letter of (event, handler)."""
        return self.inner.record(letter)

    def get(self, letter_id: int) -> DeadLetter:
        """One letter."""
        return self._wrap(self.inner.get(letter_id))

    def list(
        self,
        where: DeadLetterFilter = DeadLetterFilter(),  # noqa: B008
        limit: int = 1000,
    ) -> list[DeadLetter]:
        """Letters matching ``where``, oldest first."""
        return [self._wrap(letter) for letter in self.inner.list(where, limit)]

    def mark_replayed(self, letter_id: int, *, resolved: bool, at: float) -> None:
        """Count a replay."""
        self.inner.mark_replayed(letter_id, resolved=resolved, at=at)

    def purge(self, where: DeadLetterFilter) -> int:
        """Delete matching letters."""
        return self.inner.purge(where)

    def close(self) -> None:
        """Close the inner store."""
        self.inner.close()
