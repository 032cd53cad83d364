"""OAuth2 client-credentials tokens: the value a driver parses and the cache a client keeps."""

from __future__ import annotations

import attrs

__all__ = ["AccessToken", "TokenCache"]


@attrs.frozen
class AccessToken:
    """A bearer token and its lifetime in seconds, as the carrier's token endpoint gave it."""

    value: str = attrs.field(repr=False)
    expires_in: float = 3600.0
    token_type: str = "Bearer"


class TokenCache:
    """Holds one token until ``skew`` seconds before it expires (times are POSIX seconds)."""

    def __init__(self, *, skew: float = 30.0) -> None:
        self.skew = skew
        self._token: AccessToken | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def get(self, now: float) -> AccessToken | None:
        """The cached token if it is still fresh at ``now``."""
        if self._token is not None and now < self._expires_at - self.skew:
            return self._token
        return None

    def put(self, token: AccessToken, now: float) -> None:
        """Cache ``token`` obtained at ``now``."""
        self._token = token
        self._expires_at = now + token.expires_in
        self.fetches += 1

    def invalidate(self, refused: AccessToken | None = None) -> None:
        """Forget the token (the carrier refused it).

        With ``refused``, only that token is forgotten: a request that was sent with an older
        token and answered 401 late must not throw away the fresh one another task just fetched.
        """
        if refused is not None and self._token is not refused:
            return
        self._token = None
        self._expires_at = 0.0
