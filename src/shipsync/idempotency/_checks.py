"""Argument checks every store shares, so a bad argument is one typed error on every backend.

A store checks its arguments before it talks to its backend: a lease or retention that no
backend can represent, a fingerprint that cannot be stored as text, a result that is not bytes or
a token that is not an integer is a :class:`~shipsync.errors.ConfigurationError`, never a bare
``TypeError`` from a driver, and never a record half written.
"""

from __future__ import annotations

from datetime import timedelta

from shipsync.errors import ConfigurationError

__all__ = [
    "MAX_SPAN",
    "MIN_SPAN",
    "check_fingerprint",
    "check_key",
    "check_result",
    "check_token",
    "seconds",
]

#: The shortest lease or retention: Redis counts in milliseconds.
MIN_SPAN = timedelta(milliseconds=1)
#: The longest lease or retention (every backend's timestamps hold it with room to spare).
MAX_SPAN = timedelta(days=365 * 100)


def seconds(span: timedelta, what: str) -> float:
    """``span`` in seconds, if it is a timedelta from :data:`MIN_SPAN` to :data:`MAX_SPAN`.

    ``what`` (``"lease"`` or ``"retention"``) names the argument in the error.
    """
    if not isinstance(span, timedelta) or not MIN_SPAN <= span <= MAX_SPAN:
        raise ConfigurationError(f"a {what} is a timedelta from 1 ms to 100 years", path=what)
    return span.total_seconds()


def check_fingerprint(fingerprint: str) -> str:
    """``fingerprint`` if every backend can store it as text (UTF-8 without NUL)."""
    if type(fingerprint) is str and fingerprint.isascii() and "\x00" not in fingerprint:
        return fingerprint  # the common case: a hex digest
    if not isinstance(fingerprint, str) or "\x00" in fingerprint:
        raise ConfigurationError("a fingerprint is a str without NUL", path="fingerprint")
    try:
        fingerprint.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(
            "a fingerprint is a str without lone surrogates", path="fingerprint"
        ) from None
    return fingerprint


def check_result(result: bytes) -> bytes:
    """``result`` as ``bytes`` (a copy of a ``bytearray`` or ``memoryview``)."""
    if type(result) is bytes:
        return result
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    raise ConfigurationError(
        f"a result is bytes, not {type(result).__name__}; use encode_result()", path="result"
    )


def check_token(token: int) -> int:
    """``token`` if it is an integer (not a bool)."""
    if isinstance(token, int) and not isinstance(token, bool):
        return int(token)
    raise ConfigurationError("a fencing token is an int", path="token")


def check_key(key: str) -> str:
    """``key`` if it is a ``str`` (any string, even empty, is a key)."""
    if isinstance(key, str):
        return key
    raise ConfigurationError(f"an idempotency key is a str, not {type(key).__name__}", path="key")
