"""What mapping a carrier's status code gives: a milestone (or none), a reason, the raw code."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable

from shipsync.canonical._base import CanonicalModel, ShortText
from shipsync.canonical._tracking import Milestone, Reason

__all__ = ["MAX_RAW_LENGTH", "CodeKind", "MappedStatus", "StatusScheme", "clip", "count_unmapped"]

MAX_RAW_LENGTH = 200
"""Raw codes longer than this are clipped (status codes are a few characters; junk is not)."""


def clip(raw: str) -> str:
    """``raw`` verbatim, or its first ``MAX_RAW_LENGTH`` characters."""
    return raw[:MAX_RAW_LENGTH]


class StatusScheme(enum.StrEnum):
    """The code list a raw status code comes from."""

    EDI_214 = "edi_214"
    OCA_DELIVERY_STATE = "oca_delivery_state"


class CodeKind(enum.StrEnum):
    """What kind of code was read."""

    MILESTONE = "milestone"
    """A status the state machine understands; ``milestone`` is set."""
    ETA = "eta"
    """An estimate of arrival, not something that happened; ``milestone`` is None."""
    INFORMATIONAL = "informational"
    """A known code that moves no milestone (an arrival at the pick-up dock); None."""
    UNMAPPED = "unmapped"
    """A code the table does not know: ``milestone`` is ``unknown``, never a guess."""


class MappedStatus(CanonicalModel):
    """The canonical reading of one carrier status code.

    ``milestone`` is None for codes that are not milestones (an ETA); check :attr:`is_milestone`
    before building a :class:`~shipsync.canonical.TrackingEvent`. An unknown code maps to
    ``Milestone.UNKNOWN`` with the raw code kept, so it can be counted and fixed.
    """

    scheme: StatusScheme
    raw_code: ShortText
    kind: CodeKind
    milestone: Milestone | None
    reason: Reason = Reason.NORMAL
    raw_reason: ShortText | None = None
    description: ShortText = ""

    @property
    def is_milestone(self) -> bool:
        """True when the code names a milestone other than ``unknown``."""
        return self.milestone is not None and self.milestone is not Milestone.UNKNOWN

    @property
    def is_unmapped(self) -> bool:
        """True when the status code (or its reason code) is not in the table."""
        return self.kind is CodeKind.UNMAPPED or self.reason is Reason.UNKNOWN


def count_unmapped(results: Iterable[MappedStatus]) -> Counter[tuple[StatusScheme, str]]:
    """Count the raw codes that did not map, per ``(scheme, code)``; reason codes count as
    ``"AT701/AT702"`` pairs. Feed it every mapping a driver made to see what the tables miss."""
    counts: Counter[tuple[StatusScheme, str]] = Counter()
    for result in results:
        if result.kind is CodeKind.UNMAPPED:
            counts[(result.scheme, result.raw_code)] += 1
        elif result.reason is Reason.UNKNOWN:
            counts[(result.scheme, f"{result.raw_code}/{result.raw_reason}")] += 1
    return counts
