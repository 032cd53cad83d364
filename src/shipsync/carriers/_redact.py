"""Redaction of secrets and personal data before anything reaches a log or a recording."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_headers", "redact_json", "redact_url", "sensitive_key"]

REDACTED = "***"

_SECRET_PARTS = (
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "api-key",
    "cookie",
    "signature",
    "credential",
    "client_id",
    "account_number",
)
_PERSONAL_KEYS = frozenset(
    {
        "name",
        "street",
        "street1",
        "street2",
        "street3",
        "address",
        "address_lines",
        "phone",
        "email",
        "signed_by",
        "contact",
        "recipient_name",
    }
)
_NOT_SECRET = frozenset({"idempotency-key", "idempotency_key", "token_type"})


def sensitive_key(key: str) -> bool:
    """Whether a header, field or query parameter named ``key`` holds a secret or personal data."""
    lowered = key.lower()
    if lowered in _NOT_SECRET:
        return False
    return lowered in _PERSONAL_KEYS or any(part in lowered for part in _SECRET_PARTS)


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict for a log record, with sensitive values replaced by ``***``."""
    return {k.lower(): (REDACTED if sensitive_key(k) else v) for k, v in headers}


def redact_json(value: Any) -> Any:
    """A deep copy of decoded JSON with every sensitive field's value replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if sensitive_key(str(k)) else redact_json(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_json(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """``url`` with userinfo and sensitive query parameter values replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if sensitive_key(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
