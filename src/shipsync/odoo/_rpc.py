"""The JSON-RPC gateway, built on odoorpc. This is the only module that imports odoorpc.

Theory of operation: odoorpc's ``ODOO`` object asks the server for its version when it is built
(one request) and logs in with ``common.login`` plus ``res.users.context_get`` (two requests).
Every model call is then one stateless ``POST /jsonrpc`` carrying the database, uid and password
(or API key), so there is no session cookie that could expire; should a server answer
``SessionExpiredException`` anyway, the gateway logs in once more and repeats the call.

Transport failures are sorted in two kinds. A refused connection means the request never
reached Odoo: every method is retried. A timeout, reset or 502/503/504 leaves the outcome
unknown: only :data:`~shipsync.odoo.SAFE_METHODS` are retried, because sending ``create``
twice would create twice (shipsync's operations are idempotent as a whole, so a caller may
repeat the whole operation instead). Database conflicts that Odoo reports are retried the same
way. Retries use tenacity with exponential backoff and jitter; when they run out the caller
gets :class:`~shipsync.errors.OdooUnavailableError`.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import tenacity

from shipsync.errors import (
    ConfigurationError,
    InvalidInputError,
    MissingDependencyError,
    OdooAuthError,
    OdooError,
    OdooResponseError,
    OdooUnavailableError,
)
from shipsync.odoo._faults import error_from_fault, is_session_expired
from shipsync.odoo._gateway import SAFE_METHODS, RetryPolicy

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["RpcGateway", "parse_server_version"]

_RETRYABLE_HTTP = frozenset({502, 503, 504})


def _odoorpc() -> ModuleType:
    try:
        import odoorpc
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("Odoo RPC gateway", "odoo") from exc
    module: ModuleType = odoorpc
    return module


def parse_server_version(text: str) -> tuple[int, int]:
    """Read ``(major, minor)`` from a ``server_version`` such as ``"18.0-20250722"``."""
    match = re.search(r"(\d+)\.(\d+)", text or "")
    if match is None:
        raise OdooResponseError("Odoo did not report a readable server version")
    return int(match.group(1)), int(match.group(2))


class _Counter(urllib.request.BaseHandler):
    """A urllib handler that counts the requests leaving this gateway."""

    handler_order = 100

    def __init__(self) -> None:
        self.count = 0

    def _count(self, request: urllib.request.Request) -> urllib.request.Request:
        self.count += 1
        return request

    http_request = _count
    https_request = _count


class _NotSent(Exception):
    """The request surely did not reach the server."""


class _MaybeSent(Exception):
    """The request may or may not have reached the server."""


def _classify(exc: BaseException) -> type[Exception] | None:
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 429:  # refused before any work: safe to send again
            return _NotSent
        return _MaybeSent if exc.code in _RETRYABLE_HTTP else None
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError | socket.gaierror):
        return _NotSent
    if isinstance(reason, OSError | http.client.HTTPException | urllib.error.URLError):
        return _MaybeSent
    return None


# OpenSSL's reasons when the other end answered the handshake with something that is not TLS.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG"}
)


def _plain_port(exc: BaseException) -> str | None:
    """The OpenSSL reason when an https:// URL reached a port that does not speak TLS."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLError) and reason.reason in _NOT_TLS:
        return str(reason.reason)
    return None


class RpcGateway:
    """Talk to an Odoo 16, 17 or 18 server over JSON-RPC with odoorpc.

    ``url`` is the server's root (``https://erp.example.com`` or ``http://127.0.0.1:8069``);
    ``password`` may be the user's password or an API key. Connecting asks for the server's
    version and logs in; a wrong database, login or password raises
    :class:`~shipsync.errors.OdooAuthError` (Odoo answers ``false`` to a wrong password rather
    than an error; the gateway turns that into the error). The password is never shown in
    messages or the repr.
    """

    def __init__(
        self,
        url: str,
        db: str,
        login: str,
        password: str,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigurationError("Odoo url must look like http(s)://host[:port]", path="url")
        if parts.path.strip("/") or parts.query or parts.fragment:
            # odoorpc builds every URL from host and port: a path would be dropped silently.
            raise ConfigurationError(
                "Odoo url must be the server's root (http(s)://host[:port]); "
                "Odoo served under a path is not supported",
                path="url",
            )
        self._url = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._db = db
        self._login = login
        self._password = password
        self._retry = retry or RetryPolicy()
        self._counter = _Counter()
        odoorpc = _odoorpc()
        self._rpc_error: type[Exception] = odoorpc.error.RPCError
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), self._counter
        )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        protocol = "jsonrpc+ssl" if parts.scheme == "https" else "jsonrpc"

        def build() -> Any:
            return odoorpc.ODOO(
                parts.hostname, protocol=protocol, port=port, timeout=timeout, opener=opener
            )

        self._odoo: Any = self._transport("", "version_info", build, safe=True)
        self._version = parse_server_version(str(self._odoo.version))
        self._log_in()

    def __repr__(self) -> str:
        return f"RpcGateway(url={self._url!r}, db={self._db!r}, login={self._login!r})"

    @property
    def server_version(self) -> tuple[int, int]:
        """Major and minor version reported by the server when connecting."""
        return self._version

    @property
    def round_trips(self) -> int:
        """Requests sent so far, connecting and logging in included."""
        return self._counter.count

    @property
    def uid(self) -> int:
        """The id of the logged-in user."""
        return self._uid

    def _log_in(self) -> None:
        def login() -> None:
            self._odoo.login(self._db, self._login, self._password)

        try:
            self._transport("res.users", "login", login, safe=True)
        except OdooAuthError:
            raise
        except OdooError as exc:
            if exc.odoo_message is None:  # transport failure, not a refusal
                raise
            raise OdooAuthError(
                f"Odoo refused the login to database {self._db!r}", odoo_message=exc.odoo_message
            ) from exc
        uid = getattr(self._odoo.env, "uid", None)
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise OdooResponseError("Odoo answered the login with something that is not a user id")
        self._uid = uid

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run one model method with ``execute_kw``; see :class:`~shipsync.odoo.OdooGateway`."""
        arguments = list(args)
        named = dict(kwargs or {})

        def execute() -> Any:
            # odoorpc's connector sends the request; the envelope is read here, because
            # odoorpc's own reading breaks on an error without ``data`` and on a non-object.
            params = {
                "service": "object",
                "method": "execute_kw",
                "args": [self._db, self.uid, self._password, model, method, arguments, named],
            }
            return _unwrap(self._odoo._connector.proxy_json("/jsonrpc", params), model, method)

        try:
            json.dumps([arguments, named])
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"the arguments of {model}.{method} are not JSON values (Decimal, datetime and "
                "bytes must be converted first)"
            ) from exc

        try:
            return self._transport(model, method, execute, safe=method in SAFE_METHODS)
        except _SessionExpired:
            self._log_in()
            return self._transport(model, method, execute, safe=method in SAFE_METHODS)

    def _transport(self, model: str, method: str, send: Any, *, safe: bool) -> Any:
        def attempt() -> Any:
            try:
                return send()
            except self._rpc_error as exc:
                raise self._translate(exc, model, method) from exc
            except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                raise OdooResponseError(
                    f"Odoo answered something unreadable to {model}.{method}"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    exc.close()  # the error holds the response; free its socket now
                if _plain_port(exc):
                    raise ConfigurationError(
                        f"TLS handshake with {self._url} failed ({_plain_port(exc)}): the port "
                        "speaks plain HTTP; use an http:// URL or the TLS port of a proxy"
                    ) from exc
                kind = _classify(exc)
                if kind is None:
                    raise _http_error(exc, model, method) from exc
                raise kind(str(exc)) from exc

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _NotSent):
                return True
            if isinstance(exc, _MaybeSent):
                return safe
            return isinstance(exc, OdooUnavailableError) and safe

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._retry.attempts),
            wait=tenacity.wait_exponential(multiplier=self._retry.initial, max=self._retry.maximum)
            + tenacity.wait_random(0, self._retry.initial),
            retry=tenacity.retry_if_exception(retryable),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except (_NotSent, _MaybeSent) as exc:
            where = f" {model}.{method}" if model else ""
            raise OdooUnavailableError(
                f"Odoo at {self._url} could not be reached for{where or ' connecting'}"
            ) from exc.__cause__

    def _translate(self, exc: Exception, model: str, method: str) -> Exception:
        info = getattr(exc, "info", None)
        if not isinstance(info, dict):
            # odoorpc raises RPCError without info for a login answered with ``false``.
            return OdooAuthError(
                f"Odoo refused the login to database {self._db!r}", odoo_message=str(exc)[:200]
            )
        data = info.get("data") or {}
        name = str(data.get("name") or "")
        message = str(data.get("message") or info.get("message") or "")
        if is_session_expired(name):
            return _SessionExpired(message)
        return error_from_fault(name, message, model=model, method=method)


class _SessionExpired(Exception):
    """The server asked for a new login."""


def _http_error(exc: BaseException, model: str, method: str) -> OdooError:
    """The error for a transport failure that is not worth a retry.

    A 4xx answer (a proxy's authentication, a body over the size limit, a wrong path) will not
    change by sending again: 401 is an :class:`~shipsync.errors.OdooAuthError`, the others an
    :class:`~shipsync.errors.OdooError`. Anything else (a 500, an odd socket error) may pass:
    :class:`~shipsync.errors.OdooUnavailableError`.
    """
    where = f"{model}.{method}" if model else "connecting"
    if isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500:
        if exc.code == 401:
            return OdooAuthError(f"Odoo (or a proxy in front of it) asked to authenticate: {where}")
        return OdooError(f"Odoo answered HTTP {exc.code} to {where}")
    return OdooUnavailableError(f"Odoo failed {where}: {exc}")


def _unwrap(data: object, model: str, method: str) -> Any:
    """The ``result`` of a JSON-RPC answer; its ``error`` as our error; anything else refused.

    Odoo puts its exception's class path and text in ``error.data``; a proxy or an older
    server may send an error without ``data`` (its ``message`` is kept then), and a body that
    is not a JSON-RPC answer at all is an :class:`~shipsync.errors.OdooResponseError`.
    """
    where = f"{model}.{method}"
    if not isinstance(data, dict):
        raise OdooResponseError(f"Odoo answered {where} with something that is not JSON-RPC")
    error = data.get("error")
    if error:
        if not isinstance(error, dict):
            raise OdooResponseError(
                f"Odoo answered {where} with an unreadable error", odoo_message=str(error)[:200]
            )
        details = error.get("data")
        details = details if isinstance(details, dict) else {}
        name = str(details.get("name") or "")
        message = str(details.get("message") or error.get("message") or "")
        if is_session_expired(name):
            raise _SessionExpired(message)
        raise error_from_fault(name, message, model=model, method=method)
    if "result" not in data:
        raise OdooResponseError(f"Odoo answered {where} without a result")
    return data["result"]
