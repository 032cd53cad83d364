"""The Odoo 19 gateway over JSON-2, and :func:`connect`, which picks a gateway by server version.

Theory of operation: Odoo 19 serves every public model method at
``POST /json/2/<model>/<method>``, authenticated by ``Authorization: bearer <API key>`` and, on a
server with several databases, ``X-Odoo-Database``. The body is one JSON object of *named*
arguments: ``ids`` for a record method, ``context``, and the method's own parameter names
(``domain``, ``fields``, ``vals_list``, ...). The answer is the method's result as JSON
(recordsets as lists of ids); an error is an HTTP status (401, 403, 404, 409, 422, 500) with a
body ``{"name": "odoo.exceptions.AccessError", "message": ..., "arguments": ..., "context": ...,
"debug": ...}``, whose ``name`` is the same class path JSON-RPC reports, so one table
(:func:`~shipsync.odoo.error_from_fault`) maps both.

:meth:`Json2Gateway.call` keeps ``execute_kw``'s positional semantics: a known model method
(:data:`MODEL_METHODS`) takes its positional arguments by its parameter names; any other method is
a record method whose first positional argument is the ids and whose further positional arguments
are named from :data:`RECORD_METHODS`. A positional argument the gateway cannot name is refused
before sending (pass it as a keyword). ``create`` given one mapping answers one id, as over
JSON-RPC. Each request is stateless: no session, no cookie.

Retries follow :class:`~shipsync.odoo.RpcGateway`: a refused connection or a 429 means the
request never reached Odoo, so every method is sent again; a timeout, a reset, a 502/503/504 or
a database conflict leaves the outcome unknown, so only :data:`~shipsync.odoo.SAFE_METHODS` are.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from shipsync.errors import (
    ConfigurationError,
    InvalidInputError,
    OdooAuthError,
    OdooError,
    OdooResponseError,
    OdooUnavailableError,
)
from shipsync.odoo._faults import MAX_MESSAGE, error_from_fault
from shipsync.odoo._gateway import SAFE_METHODS, OdooGateway
from shipsync.odoo._rpc import _NOT_TLS as NOT_TLS
from shipsync.odoo._rpc import DEFAULT_RETRY
from shipsync.odoo._versions import gateway_protocol
from shipsync.retry import RetryPolicy

__all__ = ["MODEL_METHODS", "RECORD_METHODS", "Json2Gateway", "connect"]

MODEL_METHODS: Mapping[str, tuple[str, ...]] = {
    "create": ("vals_list",),
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "load": ("fields", "data"),
    "fields_get": ("allfields", "attributes"),
    "name_search": ("name", "domain", "operator", "limit"),
    "name_create": ("name",),
    "read_group": ("domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"),
    "default_get": ("fields",),
    "context_get": (),
    "check_access_rights": ("operation", "raise_exception"),
}
"""Odoo's ``@api.model`` methods and their positional parameter names (Odoo 19's signatures)."""

RECORD_METHODS: Mapping[str, tuple[str, ...]] = {
    "read": ("fields", "load"),
    "write": ("vals",),
    "copy": ("default",),
    "unlink": (),
    "exists": (),
    "check_access": ("operation",),
    "has_access": ("operation",),
    "export_data": ("fields_to_export",),
}
"""Record methods with positional parameters after the ids, and their names."""

_RETRYABLE_HTTP = frozenset({502, 503, 504})
_JSON = "application/json"


class _NotSent(Exception):
    """The request surely did not reach the server."""


class _MaybeSent(Exception):
    """The request may or may not have reached the server."""


def named_arguments(
    model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The JSON-2 body for ``execute_kw``'s ``args`` and ``kwargs`` of ``model.method``.

    Raises :class:`~shipsync.errors.InvalidInputError` for a positional argument without a known
    name, or one given both by position and by name.
    """
    where = f"{model}.{method}"
    positional = list(args)
    body: dict[str, Any] = {}
    if method in MODEL_METHODS:
        names = MODEL_METHODS[method]
    else:
        names = RECORD_METHODS.get(method, ())
        if positional:
            ids = positional.pop(0)
            body["ids"] = [ids] if isinstance(ids, int) and not isinstance(ids, bool) else ids
    if len(positional) > len(names):
        raise InvalidInputError(
            f"{where} takes {len(names)} positional argument(s) over JSON-2 after the ids; "
            "pass the others by name",
            path=where,
        )
    body.update(zip(names, positional, strict=False))
    for key, value in (kwargs or {}).items():
        if key in body:
            raise InvalidInputError(f"{where} got {key!r} by position and by name", path=key)
        body[key] = value
    return body


class Json2Gateway:
    """Talk to an Odoo 19 (or later) server over JSON-2 with an API key.

    ``url`` is the server's root (a path prefix is kept); ``api_key`` is a key of the user the
    calls run as (Odoo: Preferences, Account Security, New API Key). Connecting asks the
    server's version (``GET /json/version``) and the key's user (``res.users.context_get``), so
    a wrong key or database raises :class:`~shipsync.errors.OdooAuthError` here, not on the
    first operation. ``transport`` replaces httpx's network transport (tests pass an
    ``httpx.MockTransport``). The key is never shown in messages or the repr.
    """

    def __init__(
        self,
        url: str,
        db: str,
        api_key: str,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = _root(url)
        if not api_key or any(c.isspace() for c in api_key):
            raise ConfigurationError("Odoo API key must be a non-empty word", path="api_key")
        self._db = db
        self._retry = retry or DEFAULT_RETRY
        self._round_trips = 0
        headers = {"Authorization": f"bearer {api_key}", "Accept": _JSON}
        if db:
            headers["X-Odoo-Database"] = db
        self._client = httpx.Client(
            base_url=self._url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            event_hooks={"request": [self._count]},
        )
        self._version = _read_version(self._transport("", "version", self._get_version, safe=True))
        context = self.call("res.users", "context_get")
        uid = context.get("uid") if isinstance(context, dict) else None
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise OdooResponseError("Odoo answered res.users.context_get without a user id")
        self._uid = uid

    def __repr__(self) -> str:
        return f"Json2Gateway(url={self._url!r}, db={self._db!r})"

    def _count(self, request: httpx.Request) -> None:
        self._round_trips += 1

    @property
    def server_version(self) -> tuple[int, int]:
        """Major and minor version reported by the server when connecting."""
        return self._version

    @property
    def uid(self) -> int:
        """The id of the API key's user."""
        return self._uid

    @property
    def round_trips(self) -> int:
        """Requests sent so far, connecting and retries included."""
        return self._round_trips

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Json2Gateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run one model method over JSON-2; see :class:`~shipsync.odoo.OdooGateway`."""
        if not model or not method or "/" in model or "/" in method:
            raise InvalidInputError(f"not an Odoo model and method: {model!r}.{method!r}")
        body = named_arguments(model, method, args, kwargs)
        try:
            content = json.dumps(body).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"the arguments of {model}.{method} are not JSON values (Decimal, datetime and "
                "bytes must be converted first)"
            ) from exc
        path = f"/json/2/{quote(model, safe='.')}/{quote(method, safe='_')}"

        def send() -> Any:
            return self._client.post(path, content=content, headers={"Content-Type": _JSON})

        response = self._transport(model, method, send, safe=method in SAFE_METHODS)
        result = _result(response, model, method)
        if method == "create" and isinstance(body.get("vals_list"), Mapping):
            # execute_kw answers one id for one mapping; JSON-2 answers the recordset's ids.
            if isinstance(result, list) and len(result) == 1:
                return result[0]
            raise OdooResponseError(f"Odoo answered {model}.create of one record with {result!r}")
        return result

    def _get_version(self) -> httpx.Response:
        return self._client.get("/json/version")

    def _transport(self, model: str, method: str, send: Any, *, safe: bool) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:
                response: httpx.Response = send()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                reason = _plain_port(exc)
                if reason:
                    raise ConfigurationError(
                        f"TLS handshake with {self._url} failed ({reason}): the port speaks "
                        "plain HTTP; use an http:// URL or the TLS port of a proxy",
                        path="url",
                    ) from exc
                raise _NotSent(str(exc)) from exc
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise _MaybeSent(str(exc)) from exc
            except httpx.RequestError as exc:  # a proxy error, a body that does not decode, ...
                where = f"{model}.{method}" if model else "connecting"
                raise OdooUnavailableError(
                    f"Odoo at {self._url} failed {where}: {type(exc).__name__}"
                ) from exc
            if response.status_code == 429:
                raise _NotSent("HTTP 429")
            if response.status_code in _RETRYABLE_HTTP:
                raise _MaybeSent(f"HTTP {response.status_code}")
            if response.status_code >= 400 and model:
                error = _error(response, model, method)
                if isinstance(error, OdooUnavailableError):
                    raise error  # a database conflict: the same request may pass
            return response

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _NotSent):
                return True
            return isinstance(exc, _MaybeSent | OdooUnavailableError) and safe

        try:
            response: httpx.Response = self._retry.call(
                lambda _attempt: attempt(), retry_if=retryable
            )
        except (_NotSent, _MaybeSent) as exc:
            where = f" {model}.{method}" if model else " connecting"
            raise OdooUnavailableError(
                f"Odoo at {self._url} could not be reached for{where}"
            ) from exc.__cause__
        if not model and response.status_code != 200:
            if response.status_code == 404:
                raise OdooError(
                    f"Odoo at {self._url} has no /json/version: it is older than 19 or JSON-2 is "
                    "not served there; use RpcGateway"
                )
            raise OdooError(f"Odoo answered HTTP {response.status_code} to GET /json/version")
        return response


def _plain_port(exc: BaseException) -> str | None:
    """OpenSSL's reason when an https:// URL reached a port that does not speak TLS.

    httpx wraps httpcore's error, which wraps the ``ssl.SSLError``: the chain is walked.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError) and seen.reason in NOT_TLS:
            return str(seen.reason)
        seen = seen.__cause__ or seen.__context__
    return None


def _root(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError("Odoo url must look like http(s)://host[:port]", path="url")
    if parts.query or parts.fragment:
        raise ConfigurationError("Odoo url must not carry a query or fragment", path="url")
    return url.rstrip("/")


def _json(response: httpx.Response, where: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise OdooResponseError(
            f"Odoo answered {where} with something that is not JSON",
            odoo_message=response.text[:200] or None,
        ) from exc


def _read_version(response: httpx.Response) -> tuple[int, int]:
    data = _json(response, "GET /json/version")
    info = data.get("version_info") if isinstance(data, dict) else None
    if (
        isinstance(info, list)
        and len(info) >= 2
        and isinstance(info[0], int)
        and isinstance(info[1], int)
    ):
        return info[0], info[1]
    raise OdooResponseError("Odoo did not report a readable server version")


def _error(response: httpx.Response, model: str, method: str) -> OdooError:
    """The error for a JSON-2 answer with an error status.

    Odoo's JSON body names the exception's class path; a 401 is always an
    :class:`~shipsync.errors.OdooAuthError`; an HTML 404 means the database was not found (a
    proxy or ``dbfilter``); any other body we cannot read is an
    :class:`~shipsync.errors.OdooResponseError` that keeps the status.
    """
    where = f"{model}.{method}"
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        text = response.text[:MAX_MESSAGE] or None
        if status == 401:
            return OdooAuthError(f"Odoo (or a proxy) asked to authenticate: {where}")
        if status == 404:
            return OdooError(
                f"Odoo found no database or JSON-2 endpoint for {where} (check the database "
                "name and the server's dbfilter)",
                odoo_message=text,
            )
        return OdooResponseError(f"Odoo answered HTTP {status} to {where}", odoo_message=text)
    name = data["name"]
    message = str(data.get("message") or "")
    if status == 401 or name == "werkzeug.exceptions.Unauthorized":
        db = response.request.headers.get("X-Odoo-Database", "")
        return OdooAuthError(
            f"Odoo refused the API key for database {db!r} in {where}",
            odoo_message=message[:MAX_MESSAGE] or None,
        )
    return error_from_fault(name, message, model=model, method=method)


def _result(response: httpx.Response, model: str, method: str) -> Any:
    if response.status_code >= 400:
        raise _error(response, model, method)
    return _json(response, f"{model}.{method}")


def connect(
    url: str,
    db: str,
    login: str,
    key: str,
    *,
    protocol: Literal["auto", "jsonrpc", "json2"] = "auto",
    timeout: float = 120.0,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> OdooGateway:
    """Connect to Odoo with the gateway its version calls for.

    ``key`` is an API key (or, over JSON-RPC only, the password) of the user ``login``. With
    ``protocol="auto"`` the server's version is asked first (JSON-RPC ``common.version``, or
    ``GET /json/version`` where JSON-RPC is gone): 16 to 18 get a
    :class:`~shipsync.odoo.RpcGateway`, 19 a :class:`Json2Gateway`
    (:data:`~shipsync.odoo.ODOO_VERSIONS` says which); a version shipsync does not know raises
    :class:`~shipsync.errors.ConfigurationError` naming it. ``transport`` is used for JSON-2
    and for asking the version (tests pass an ``httpx.MockTransport``).
    """
    if protocol == "auto":
        version = server_version(url, timeout=timeout, transport=transport)
        protocol = gateway_protocol(version)
    if protocol == "json2":
        return Json2Gateway(url, db, key, timeout=timeout, retry=retry, transport=transport)
    if protocol == "jsonrpc":
        from shipsync.odoo._rpc import RpcGateway

        return RpcGateway(url, db, login, key, timeout=timeout, retry=retry)
    raise ConfigurationError(
        f"unknown Odoo protocol {protocol!r} (auto, jsonrpc or json2)", path="protocol"
    )


def server_version(
    url: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
) -> tuple[int, int]:
    """Ask an Odoo server its ``(major, minor)`` version without logging in.

    JSON-RPC's ``common.version`` answers on Odoo 16 to 19; where ``/jsonrpc`` is gone (a 404),
    ``GET /json/version`` is asked instead.
    """
    root = _root(url)
    params = {"service": "common", "method": "version", "args": []}
    body = {"jsonrpc": "2.0", "method": "call", "params": params}
    with httpx.Client(base_url=root, timeout=timeout, transport=transport) as client:
        try:
            response = client.post("/jsonrpc", json=body)
            if response.status_code == 404:
                return _read_version(client.get("/json/version"))
        except httpx.RequestError as exc:
            raise OdooUnavailableError(f"Odoo at {root} could not be reached") from exc
        if response.status_code != 200:
            raise OdooError(f"Odoo answered HTTP {response.status_code} to common.version")
        data = _json(response, "common.version")
        result = data.get("result") if isinstance(data, dict) else None
        info = result.get("server_version_info") if isinstance(result, dict) else None
        if isinstance(info, list) and len(info) >= 2 and all(isinstance(i, int) for i in info[:2]):
            return info[0], info[1]
        raise OdooResponseError("Odoo did not report a readable server version")
