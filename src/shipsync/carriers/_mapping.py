"""The one boundary where HTTP outcomes and foreign exceptions become shipsync errors.

Everything a carrier can do wrong ends here: a status code becomes the most specific
:class:`~shipsync.errors.CarrierError`, an httpx exception becomes
:class:`~shipsync.errors.CarrierUnavailableError`, and a parser's ``KeyError`` or pydantic
``ValidationError`` becomes :class:`~shipsync.errors.CarrierResponseError`, chained ``from`` the
original so nothing is lost for debugging.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import httpx

from shipsync.carriers._http import CarrierResponse
from shipsync.errors import (
    CarrierAuthError,
    CarrierError,
    CarrierRequestError,
    CarrierResponseError,
    CarrierUnavailableError,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_STATUSES",
    "error_for_response",
    "error_for_transport",
    "parse_retry_after",
    "response_error",
]

#: Statuses retried with backoff: rate limited, bad gateway, unavailable, gateway timeout.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

#: Exceptions a parser may raise on data that breaks the carrier's contract.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    LookupError,  # KeyError, IndexError
    TypeError,
    ValueError,  # also JSON, base64, Unicode and pydantic validation errors
    AttributeError,
    ArithmeticError,  # decimal.InvalidOperation
    RecursionError,  # absurdly nested JSON
)

#: The longest wait a ``Retry-After`` can ask for (about 31 years): bigger values, and dates
#: further out, read as this, so the number stays finite before any policy caps it.
MAX_RETRY_AFTER = 1e9


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date).

    ``now`` is the current POSIX time. A malformed value (negative, fractional, exponent,
    non-ASCII digits) gives ``None``; a date in the past gives ``0.0``; anything beyond
    :data:`MAX_RETRY_AFTER` reads as that bound.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        # Never int() a long string (Python refuses > 4300 digits; float() overflows earlier).
        return MAX_RETRY_AFTER if len(text) > 10 else min(float(int(text)), MAX_RETRY_AFTER)
    if len(text) > 200:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            return None
        return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


ErrorDetails = Callable[[CarrierResponse], tuple[str | None, str | None]]


def error_for_response(
    response: CarrierResponse,
    *,
    carrier: str,
    operation: str,
    details: ErrorDetails,
    now: float,
) -> CarrierError:
    """The typed error for a non-2xx ``response``.

    ``details`` is the driver's ``parse_error``; it returns the carrier's own code and message.
    A driver that cannot read the error body never hides the status: its failure is ignored.
    """
    try:
        code, message = details(response)
    except Exception:
        code, message = None, None
    status = response.status
    retry_after = parse_retry_after(response.header("retry-after"), now)
    code = code if code is not None else str(status)
    kind: type[CarrierError]
    if status in (401, 403):
        kind, text = CarrierAuthError, "credentials refused"
    elif status in RETRYABLE_STATUSES or status == 408:
        kind, text = CarrierUnavailableError, "carrier unavailable"
    elif status >= 500:
        kind, text = CarrierUnavailableError, "carrier failed"
    elif 400 <= status < 500:
        kind, text = CarrierRequestError, "request refused"
    else:
        kind, text = CarrierResponseError, "unexpected status"
    error = kind(
        f"{text} (HTTP {status})",
        carrier=carrier,
        operation=operation,
        code=code,
        carrier_message=message,
        retry_after=retry_after if kind is CarrierUnavailableError else None,
    )
    if status >= 500 and status not in RETRYABLE_STATUSES:
        error.retryable = False
    return error


def error_for_transport(exc: httpx.HTTPError, *, carrier: str, operation: str) -> CarrierError:
    """The typed error for an httpx exception raised while sending."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return CarrierUnavailableError(
            f"transport failure ({kind})", carrier=carrier, operation=operation, code=kind
        )
    return CarrierRequestError(
        f"request could not be sent ({kind})", carrier=carrier, operation=operation, code=kind
    )


def response_error(exc: Exception, *, carrier: str, operation: str) -> CarrierResponseError:
    """The typed error for a parser that choked on what the carrier sent."""
    if isinstance(exc, CarrierResponseError):
        if exc.carrier is not None:
            return exc
        return CarrierResponseError(
            exc.message,
            carrier=carrier,
            operation=operation,
            code=exc.code or "malformed_response",
            carrier_message=exc.carrier_message,
        )
    return CarrierResponseError(
        f"malformed response ({type(exc).__name__})",
        carrier=carrier,
        operation=operation,
        code="malformed_response",
    )
