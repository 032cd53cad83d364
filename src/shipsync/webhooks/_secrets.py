"""Turning the secrets a host configures into HMAC keys, without ever echoing them."""

from __future__ import annotations

import unicodedata
from typing import Literal

from shipsync.errors import WebhookSecretError
from shipsync.webhooks._scheme import Secret

__all__ = ["hmac_secret"]


def hmac_secret(secret: Secret, *, normalize: Literal["NFKD"] | None = None) -> bytes:
    """Return the key bytes of a shared secret: ``bytes`` as given, ``str`` as UTF-8.

    ``normalize="NFKD"`` applies Unicode NFKD normalisation first, as EasyPost does.
    """
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        if normalize is not None:
            secret = unicodedata.normalize(normalize, secret)
        try:
            key = secret.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, e.g. from a mis-decoded environment
            raise WebhookSecretError("a webhook secret must be valid Unicode text") from None
    else:
        raise WebhookSecretError("an HMAC secret must be a str or bytes, not a key object")
    if not key:
        raise WebhookSecretError("a webhook secret must not be empty")
    return key
