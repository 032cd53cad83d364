"""The Track Alert token endpoint, as an ASGI app (``server`` extra: starlette).

UPS's Track Alert fetches a bearer token from the subscriber before it pushes events
(``UPSTrackAlert.yaml``: OAuth2 client credentials, ``client_secret_basic``). Mount this route
beside the webhook receiver and register its URL and credentials with UPS::

    tokens = TrackAlertTokens(client_id, client_secret)
    app = Starlette(routes=[token_route(tokens), ...])   # or create_token_app(tokens)
    verifier = TrackAlertScheme(tokens).verifier(client_id)  # for the WebhookReceiver

The endpoint follows RFC 6749 section 4.4: ``POST`` with HTTP Basic credentials and the form
field ``grant_type=client_credentials``; answers ``{"access_token", "token_type": "Bearer",
"expires_in"}`` with ``Cache-Control: no-store``; a bad client is 401 ``invalid_client`` with a
``WWW-Authenticate`` challenge, another grant is 400 ``unsupported_grant_type``.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shipsync.carriers.ups._trackalert import TrackAlertTokens

__all__ = ["MAX_TOKEN_REQUEST_BYTES", "create_token_app", "token_route"]

#: A token request is a few dozen bytes; anything over this is refused unread.
MAX_TOKEN_REQUEST_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(status: int, error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ups-track-alert"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def token_route(tokens: TrackAlertTokens, path: str = "/oauth/token") -> Route:
    """The ``POST`` route that issues Track Alert tokens from ``tokens``."""

    async def issue(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > MAX_TOKEN_REQUEST_BYTES
        ):
            return _error(413, "invalid_request", "the request is too large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_TOKEN_REQUEST_BYTES:
                return _error(413, "invalid_request", "the request is too large")
        credentials = _credentials(request.headers.get("authorization"))
        if credentials is None or not tokens.check_client(*credentials):
            return _error(401, "invalid_client", "client authentication failed")
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request", "the body must be form-urlencoded")
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        except UnicodeDecodeError:
            return _error(400, "invalid_request", "the body is not UTF-8")
        grants = form.get("grant_type", [])
        if len(grants) != 1:
            return _error(400, "invalid_request", "give exactly one grant_type")
        if grants[0] != "client_credentials":
            return _error(400, "unsupported_grant_type", "only client_credentials is supported")
        token, lifetime = tokens.issue()
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime)},
            headers=_NO_STORE,
        )

    return Route(path, issue, methods=["POST"])


def create_token_app(tokens: TrackAlertTokens, path: str = "/oauth/token") -> Starlette:
    """A Starlette app serving only the token route."""
    return Starlette(routes=[token_route(tokens, path)])
