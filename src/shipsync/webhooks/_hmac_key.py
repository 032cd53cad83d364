"""HMAC with the key schedule done once per secret instead of once per message.

HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)). The two padded-key blocks do not depend on
the message, so we hash them once and copy the hash states for each message. The result is
byte-for-byte ``hmac.digest(key, m, name)``; it only skips OpenSSL's per-call key setup, which
costs more than hashing a kilobyte.
"""

from __future__ import annotations

import hashlib
from typing import Literal

__all__ = ["HmacKey"]

_BLOCK_SIZE = {"sha256": 64, "sha512": 128}


class HmacKey:
    """A secret prepared for fast repeated HMAC-SHA256 or HMAC-SHA512.

    ``inner`` and ``outer`` are the hash states after the padded key blocks; callers on a hot
    path may copy and feed them directly (see :meth:`digest`).
    """

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes, algorithm: Literal["sha256", "sha512"] = "sha256") -> None:
        block = _BLOCK_SIZE[algorithm]
        if len(key) > block:
            key = hashlib.new(algorithm, key).digest()
        key = key.ljust(block, b"\0")
        self.inner = hashlib.new(algorithm, bytes(b ^ 0x36 for b in key))
        self.outer = hashlib.new(algorithm, bytes(b ^ 0x5C for b in key))

    def __repr__(self) -> str:
        return "HmacKey(<secret>)"

    def digest(self, message: bytes) -> bytes:
        """Return HMAC(key, message)."""
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def digest_parts(self, *parts: bytes) -> bytes:
        """Return HMAC(key, b"".join(parts)) without joining the parts."""
        inner = self.inner.copy()
        for part in parts:
            inner.update(part)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()
