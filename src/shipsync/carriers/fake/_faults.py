"""Faults the fake carrier injects, per endpoint, deterministically for its seed."""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable

import attrs

__all__ = ["ENDPOINTS", "Fault", "FaultPlan"]

#: The endpoint names faults and counters use.
ENDPOINTS = (
    "token",
    "validate_address",
    "quote_rates",
    "create_shipment",
    "get_shipment",
    "cancel_shipment",
    "schedule_pickup",
    "cancel_pickup",
    "track",
    "fetch_invoices",
    "create_return",
)


class Fault(enum.StrEnum):
    """What can go wrong with one request.

    ``rate_limited`` answers 429 with ``Retry-After``; ``server_error`` 500;
    ``unavailable`` 503 (before or after the request took effect); ``bad_gateway`` 502;
    ``timeout`` never answers in time (before or after the request took effect); ``malformed``
    answers 200 with a body that is not JSON (after the request took effect).
    """

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    BAD_GATEWAY = "bad_gateway"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"


#: Faults a well-behaved client recovers from on its own by retrying.
TRANSIENT = (Fault.RATE_LIMITED, Fault.UNAVAILABLE, Fault.BAD_GATEWAY, Fault.TIMEOUT)


def _faults(value: Iterable[Fault | str]) -> tuple[Fault, ...]:
    return tuple(Fault(v) for v in value)


@attrs.frozen
class FaultPlan:
    """Inject one of ``kinds`` into a share ``rate`` (0..1) of an endpoint's requests.

    ``retry_after`` is the value of the 429's ``Retry-After`` header (seconds, or an HTTP date
    when ``retry_after_date`` is set). ``after_share`` is the share of 502/503/timeouts that hit
    *after* the request took effect, so the client never hears that it worked. ``limit`` stops
    injecting after that many faults on the endpoint.
    """

    rate: float
    kinds: tuple[Fault, ...] = attrs.field(default=TRANSIENT, converter=_faults)
    retry_after: int = 1
    retry_after_date: bool = False
    after_share: float = 0.5
    limit: int | None = None

    def draw(self, rng: random.Random) -> tuple[Fault, bool] | None:
        """Whether this request fails, how, and whether after taking effect."""
        if not self.kinds or rng.random() >= self.rate:
            return None
        kind = self.kinds[rng.randrange(len(self.kinds))]
        if kind is Fault.MALFORMED:
            return kind, True
        if kind in (Fault.RATE_LIMITED, Fault.SERVER_ERROR):
            return kind, False
        return kind, rng.random() < self.after_share
