"""Strict decoders for the small values webhook headers carry.

Every decoder here accepts exactly one spelling of a value and raises
:class:`~shipsync.errors.MalformedHeaderError` for anything else, so a signature or a timestamp
can never be "almost" right: no signs, fractions, spaces, underscores or non-ASCII digits in
timestamps; no missing padding, stray characters or non-zero trailing bits in base64.
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime, timedelta

from shipsync.errors import InvalidInputError, MalformedHeaderError

__all__ = [
    "DECIMAL",
    "MAX_TIMESTAMP_DIGITS",
    "b64decode_strict",
    "hexdecode_strict",
    "parse_timestamp",
    "raw_body",
    "timestamp_seconds",
]

#: Enough for any Unix time in seconds until the year 33658; longer is malformed.
MAX_TIMESTAMP_DIGITS = 12

DECIMAL = re.compile(rf"(?:0|[1-9][0-9]{{0,{MAX_TIMESTAMP_DIGITS - 1}}})")
"""A plain ASCII decimal integer of at most ``MAX_TIMESTAMP_DIGITS`` digits, no leading zero."""
_HEX = re.compile(r"[0-9a-fA-F]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_TIMESTAMP_LIMIT = 10**MAX_TIMESTAMP_DIGITS


def parse_timestamp(value: str, header: str) -> int:
    """Parse a Unix timestamp in seconds written as a plain ASCII decimal integer.

    ``"1614265330"`` is accepted; ``"+1614265330"``, ``"1614265330.9"``, ``" 1614265330"``,
    ``"1_614_265_330"``, ``"01614265330"`` and non-ASCII digits are all malformed.
    """
    if DECIMAL.fullmatch(value) is None:
        raise MalformedHeaderError(header, "timestamp must be a plain decimal integer of seconds")
    return int(value)


def b64decode_strict(value: str, header: str, *, what: str = "signature") -> bytes:
    """Decode canonical, padded standard base64 (RFC 4648 section 4) and nothing else."""
    if not value:
        raise MalformedHeaderError(header, f"empty {what}")
    if not value.isascii():
        raise MalformedHeaderError(header, f"{what} is not base64")
    raw = value.encode("ascii")
    try:
        decoded = binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error:
        raise MalformedHeaderError(header, f"{what} is not canonical base64") from None
    if binascii.b2a_base64(decoded, newline=False) != raw:
        raise MalformedHeaderError(header, f"{what} is not canonical base64")
    return decoded


def hexdecode_strict(value: str, header: str, *, length: int, what: str = "signature") -> bytes:
    """Decode exactly ``length`` bytes written as hexadecimal digits (either case)."""
    if not value:
        raise MalformedHeaderError(header, f"empty {what}")
    if len(value) != 2 * length or _HEX.fullmatch(value) is None:
        raise MalformedHeaderError(header, f"{what} must be {2 * length} hexadecimal digits")
    return bytes.fromhex(value)


def raw_body(body: object) -> bytes:
    """Return ``body`` as ``bytes``; only raw bytes (or a bytearray/memoryview of them) qualify.

    A ``str`` or a parsed object is refused: a signature is checked over the bytes received,
    never over a re-serialised body.
    """
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise InvalidInputError("the body must be the raw bytes received", path="body")


def timestamp_seconds(timestamp: datetime | int) -> int:
    """Return Unix seconds for an aware datetime (any timezone) or a non-negative integer.

    Fractions of a second are dropped (floor), as every signer in the wild does. A time that
    needs more than ``MAX_TIMESTAMP_DIGITS`` digits is refused: no verifier would read it.
    """
    if isinstance(timestamp, bool):
        raise InvalidInputError(
            "timestamp must be an aware datetime or an integer", path="timestamp"
        )
    if isinstance(timestamp, int):
        if timestamp < 0:
            raise InvalidInputError("timestamp must not be negative", path="timestamp")
        if timestamp >= _TIMESTAMP_LIMIT:
            raise InvalidInputError("timestamp is too far in the future", path="timestamp")
        return timestamp
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None or timestamp.utcoffset() is None:
            raise InvalidInputError("timestamp must be timezone-aware", path="timestamp")
        seconds = (timestamp - _EPOCH) // _SECOND
        if seconds < 0:
            raise InvalidInputError("timestamp must not be before 1970", path="timestamp")
        return seconds
    raise InvalidInputError("timestamp must be an aware datetime or an integer", path="timestamp")
