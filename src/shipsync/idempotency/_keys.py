"""Namespaces, storage keys and outbound idempotency keys.

A caller's key may be any Unicode string, of any length. Every backend stores it under a
*storage key*: ``k:`` followed by the key itself when it is short (at most
:data:`MAX_PLAIN_KEY_BYTES` UTF-8 bytes) and printable, otherwise ``h:`` followed by the SHA-256 of
its UTF-8 bytes. The two prefixes keep a plain key from ever colliding with a hashed one.

A namespace (a tenant, a flow) is a short name of ``[A-Za-z0-9_.:/-]``; :func:`namespace` builds
one from parts. Keys in different namespaces never meet.
"""

from __future__ import annotations

import hashlib
import re

from shipsync.errors import ConfigurationError

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_PLAIN_KEY_BYTES",
    "check_namespace",
    "key_from_parts",
    "namespace",
    "outbound_key",
    "storage_key",
]

DEFAULT_NAMESPACE = "default"
MAX_PLAIN_KEY_BYTES = 200

_NAMESPACE = re.compile(r"[A-Za-z0-9_.:/\-]{1,120}")
_PART = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


def check_namespace(value: str) -> str:
    """Return ``value`` if it is a valid namespace, else raise ``ConfigurationError``."""
    if not isinstance(value, str) or not _NAMESPACE.fullmatch(value):
        raise ConfigurationError(
            "a namespace is 1-120 characters of letters, digits and _.:/-", path="namespace"
        )
    return value


def namespace(*parts: str) -> str:
    """Join ``parts`` (tenant, flow, ...) into one namespace, e.g. ``"acme/webhooks"``.

    A part that is not a short plain name is replaced by a digest of it, so any string is safe.
    """
    if not parts:
        raise ConfigurationError("a namespace needs at least one part", path="namespace")
    shown = []
    for part in parts:
        if _PART.fullmatch(part):
            shown.append(part)
        else:
            digest = hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()
            shown.append(":" + digest[:24])
    return check_namespace("/".join(shown))


def key_from_parts(*parts: object) -> str:
    """Build one key from several values without ambiguity (``("a/b", "c")`` ≠ ``("a", "b/c")``)."""
    return "/".join(str(p).replace("\\", "\\\\").replace("/", "\\/") for p in parts)


def _plain(key: str) -> bool:
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return 0 < len(raw) <= MAX_PLAIN_KEY_BYTES and key.isprintable()


def storage_key(key: str) -> str:
    """Map a caller's key to the string a backend stores (see the module docstring)."""
    if not isinstance(key, str):
        raise TypeError("an idempotency key is a str")
    if key.isascii() and 0 < len(key) <= MAX_PLAIN_KEY_BYTES and key.isprintable():
        return "k:" + key  # the common case, without encoding
    if _plain(key):
        return "k:" + key
    return "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def outbound_key(namespace: str, key: str) -> str:
    """A stable key to send downstream (a carrier's ``Idempotency-Key``) for ``key``.

    It depends only on the namespace and the key, never on the attempt or the fencing token, so a
    re-execution after a crash sends the same request id and the carrier deduplicates it.
    """
    data = f"{namespace}\x00{key}".encode("utf-8", "surrogatepass")
    return "ss-" + hashlib.sha256(data).hexdigest()[:40]
