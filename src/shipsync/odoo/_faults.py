"""Translate Odoo's exceptions into ours, at one boundary.

Both gateways see Odoo's errors by their class path: over JSON-RPC as ``error.data.name``
(``"odoo.exceptions.ValidationError"``), in process as the exception's module and class name.
:func:`error_from_fault` maps that path and Odoo's message onto the most specific
:class:`~shipsync.errors.OdooError`; callers chain it ``from`` the original exception.
"""

from __future__ import annotations

from shipsync.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooMissingError,
    OdooUnavailableError,
    OdooUserError,
    OdooValidationError,
)

__all__ = ["MAX_MESSAGE", "error_from_fault", "is_session_expired"]

MAX_MESSAGE = 2000
"""Odoo's message is kept up to this many characters."""

# Most specific first: RedirectWarning and CacheMiss derive from UserError/KeyError in Odoo, but
# the path is matched exactly, so order only matters for the prefix rules below.
_BY_NAME: dict[str, tuple[type[OdooError], str]] = {
    "odoo.exceptions.AccessDenied": (OdooAuthError, "Odoo refused the credentials"),
    "odoo.exceptions.AccessError": (OdooAccessError, "Odoo refused access"),
    "odoo.exceptions.ValidationError": (OdooValidationError, "Odoo rejected the values"),
    "odoo.exceptions.MissingError": (OdooMissingError, "the Odoo record does not exist"),
    "odoo.exceptions.UserError": (OdooUserError, "Odoo refused the operation"),
    "odoo.exceptions.RedirectWarning": (OdooUserError, "Odoo refused the operation"),
    "odoo.exceptions.except_orm": (OdooUserError, "Odoo refused the operation"),
    "odoo.http.SessionExpiredException": (OdooAuthError, "the Odoo session expired"),
}

# Database conflicts Odoo itself would retry: the same call may succeed unchanged.
_TRANSIENT_PREFIXES = (
    "psycopg2.errors.SerializationFailure",
    "psycopg2.errors.LockNotAvailable",
    "psycopg2.errors.DeadlockDetected",
    "psycopg2.extensions.TransactionRollbackError",
)


def is_session_expired(name: str) -> bool:
    """Tell whether an Odoo error path means the session must be established again."""
    return name == "odoo.http.SessionExpiredException"


def error_from_fault(name: str, message: str, *, model: str = "", method: str = "") -> OdooError:
    """Return the shipsync error for an Odoo error named ``name`` with Odoo's ``message``.

    ``model`` and ``method`` say which call failed; they go into our message, Odoo's own text
    goes into ``odoo_message`` (cut to :data:`MAX_MESSAGE` characters).
    """
    odoo_message = (message or "")[:MAX_MESSAGE] or None
    where = f" in {model}.{method}" if model else ""
    known = _BY_NAME.get(name)
    if known is not None:
        cls, text = known
        return cls(f"{text}{where}", odoo_message=odoo_message)
    if name.startswith(_TRANSIENT_PREFIXES):
        return OdooUnavailableError(
            f"Odoo hit a database conflict{where}; retry", odoo_message=odoo_message
        )
    kind = name.rsplit(".", 1)[-1] or "error"
    return OdooError(f"Odoo raised {kind}{where}", odoo_message=odoo_message)
