"""The gateways without a real Odoo: retries and re-login over a small fake server, and the
in-process gateway over a small fake ``env``."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from shipsync.errors import (
    InvalidInputError,
    OdooError,
    OdooUnavailableError,
    OdooValidationError,
)
from shipsync.odoo import EnvGateway, OdooGateway, RetryPolicy, RpcGateway

NO_WAIT = RetryPolicy(attempts=3, initial=0, jitter=0)


class FakeOdoo(BaseHTTPRequestHandler):
    """Answers JSON-RPC like Odoo, routed on the path and the called method.

    ``script`` maps a model method to a list of answers consumed in order: an ``int`` is an HTTP
    status to fail with, a ``str`` an Odoo exception path to raise, anything else the result.
    """

    script: ClassVar[dict[str, list[Any]]] = {}
    seen: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        params = request["params"]
        if self.path == "/web/webclient/version_info":
            key = "version"
        elif params.get("method") == "execute_kw":
            key = f"{params['args'][3]}.{params['args'][4]}"
        else:
            key = f"{params['service']}.{params['method']}"
        self.seen.append(key)
        defaults = {"version": {"server_version": "17.0"}, "common.login": 7, "object.execute": {}}
        queue = self.script.get(key) or [defaults.get(key)]
        answer = queue.pop(0) if len(queue) > 1 or key in defaults else queue[0]
        if isinstance(answer, int) and not isinstance(answer, bool) and answer >= 500:
            self._answer(answer, {})
        elif isinstance(answer, str) and answer.startswith(("odoo.", "psycopg2.")):
            error = {"code": 200, "message": "Odoo Server Error"}
            error["data"] = {"name": answer, "message": f"{answer} happened"}
            self._answer(200, {"jsonrpc": "2.0", "id": request["id"], "error": error})
        else:
            self._answer(200, {"jsonrpc": "2.0", "id": request["id"], "result": answer})


@pytest.fixture
def fake_odoo() -> Iterator[tuple[str, type[FakeOdoo]]]:
    """A fake Odoo on a free local port; tests fill ``script`` and read ``seen``."""
    handler = type("Handler", (FakeOdoo,), {"script": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_reads_are_retried_after_a_gateway_error(fake_odoo: tuple[str, type[FakeOdoo]]) -> None:
    """A search_read answered 503 then 200 succeeds, taking two requests."""
    url, handler = fake_odoo
    handler.script["res.partner.search_read"] = [503, [{"id": 1}]]
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    assert gateway.server_version == (17, 0)
    assert gateway.call("res.partner", "search_read", [[]]) == [{"id": 1}]
    assert handler.seen.count("res.partner.search_read") == 2
    assert gateway.round_trips == 5


def test_create_is_not_sent_twice_when_the_outcome_is_unknown(
    fake_odoo: tuple[str, type[FakeOdoo]],
) -> None:
    """A create answered 502 is reported as unavailable, not repeated (it may have run)."""
    url, handler = fake_odoo
    handler.script["res.partner.create"] = [502, 5]
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    with pytest.raises(OdooUnavailableError) as caught:
        gateway.call("res.partner", "create", [{"name": "x"}])
    assert caught.value.retryable
    assert handler.seen.count("res.partner.create") == 1


def test_retries_stop_after_the_configured_attempts(fake_odoo: tuple[str, type[FakeOdoo]]) -> None:
    """A read failing every time is tried three times, then raises OdooUnavailableError."""
    url, handler = fake_odoo
    handler.script["res.partner.read"] = [503, 503, 503, 503, []]
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    with pytest.raises(OdooUnavailableError):
        gateway.call("res.partner", "read", [[1]])
    assert handler.seen.count("res.partner.read") == 3


def test_database_conflicts_on_reads_are_retried(fake_odoo: tuple[str, type[FakeOdoo]]) -> None:
    """A serialization failure reported by Odoo is retried for a read."""
    url, handler = fake_odoo
    handler.script["res.partner.search"] = ["psycopg2.errors.SerializationFailure", [3]]
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    assert gateway.call("res.partner", "search", [[]]) == [3]


def test_an_expired_session_logs_in_again_and_repeats_the_call(
    fake_odoo: tuple[str, type[FakeOdoo]],
) -> None:
    """SessionExpiredException makes the gateway log in once more and repeat the call."""
    url, handler = fake_odoo
    handler.script["res.partner.search"] = ["odoo.http.SessionExpiredException", [4]]
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    assert gateway.call("res.partner", "search", [[]]) == [4]
    assert handler.seen.count("common.login") == 2


def test_an_unreachable_server_is_unavailable() -> None:
    """Nothing listening: connecting fails with OdooUnavailableError after the retries."""
    with socket_closed_port() as port, pytest.raises(OdooUnavailableError):
        RpcGateway(f"http://127.0.0.1:{port}", "db", "bot", "pw", retry=NO_WAIT)


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]  # bound but not listening: connections are refused


# --- the in-process gateway ------------------------------------------------------------------


def _odoo_exception(name: str) -> type[Exception]:
    return type(name, (Exception,), {"__module__": "odoo.exceptions"})


ValidationError = _odoo_exception("ValidationError")


def _api(kind: str) -> Any:
    def mark(function: Any) -> Any:
        function._api = kind
        return function

    return mark


class FakeRecords:
    """Just enough of an Odoo recordset: browse, with_context, a few methods."""

    _name = "res.partner"

    def __init__(self, env: FakeEnv, ids: list[int] | None = None) -> None:
        self.env = env
        self.ids = list(ids or [])

    @property
    def id(self) -> int:
        return self.ids[0]

    def browse(self, ids: Any) -> FakeRecords:
        return FakeRecords(self.env, ids if isinstance(ids, list) else [ids])

    def with_context(self, **context: Any) -> FakeRecords:
        self.env.contexts.append(context)
        return self

    @_api("model")
    def search_read(self, domain: list[Any], fields: list[str] | None = None) -> list[Any]:
        stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).replace(tzinfo=None)
        return [{"id": 1, "parent_id": (3, "Parent"), "write_date": stamp, "tags": self}]

    @_api("model_create")
    def create(self, values: Any) -> FakeRecords:
        count = 1 if isinstance(values, dict) else len(values)
        return FakeRecords(self.env, list(range(10, 10 + count)))

    def write(self, values: dict[str, Any]) -> bool:
        if not values.get("name"):
            raise ValidationError("Contacts require a name")
        self.env.written.append((self.ids, values))
        return True

    def boom(self) -> None:
        raise RuntimeError("not an Odoo error")


class FakeCursor:
    def __init__(self) -> None:
        self.savepoints = 0

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self.savepoints += 1
        yield


class FakeEnv:
    uid = 2

    def __init__(self) -> None:
        self.cr = FakeCursor()
        self.contexts: list[dict[str, Any]] = []
        self.written: list[Any] = []

    def __getitem__(self, model: str) -> FakeRecords:
        if model != "res.partner":
            raise KeyError(model)
        return FakeRecords(self)


def test_env_gateway_dispatches_like_execute_kw_and_returns_rpc_shapes() -> None:
    """Model methods get the arguments, record methods the ids; results look like JSON-RPC."""
    env = FakeEnv()
    gateway = EnvGateway(env, version=(18, 0))
    assert isinstance(gateway, OdooGateway)
    rows = gateway.call("res.partner", "search_read", [[]], {"context": {"lang": "fr_FR"}})
    assert rows == [
        {"id": 1, "parent_id": [3, "Parent"], "write_date": "2026-01-02 03:04:05", "tags": []}
    ]
    assert env.contexts == [{"lang": "fr_FR"}]
    assert gateway.call("res.partner", "create", [{"name": "a"}]) == 10
    assert gateway.call("res.partner", "create", [[{"name": "a"}, {"name": "b"}]]) == [10, 11]
    assert gateway.call("res.partner", "write", [[4, 5], {"name": "n"}]) is True
    assert env.written == [([4, 5], {"name": "n"})]
    assert gateway.round_trips == 4
    assert env.cr.savepoints == 4
    assert gateway.uid == 2


def test_env_gateway_translates_every_exception_as_json_rpc_would() -> None:
    """Odoo's ValidationError becomes ours; any other exception of the method becomes the
    OdooError JSON-RPC would give for its class path, chained to the original."""
    gateway = EnvGateway(FakeEnv(), version=(18, 0))
    with pytest.raises(OdooValidationError) as caught:
        gateway.call("res.partner", "write", [[1], {"name": ""}])
    assert caught.value.odoo_message == "Contacts require a name"
    with pytest.raises(OdooError, match=r"RuntimeError in res\.partner\.boom") as bug:
        gateway.call("res.partner", "boom", [[1]])
    assert type(bug.value) is OdooError
    assert bug.value.odoo_message == "not an Odoo error"
    assert isinstance(bug.value.__cause__, RuntimeError)
    with pytest.raises(OdooError):
        gateway.call("no.model", "search", [[]])
    with pytest.raises(OdooError):
        gateway.call("res.partner", "_private", [[1]])


def test_arguments_that_are_not_json_are_refused_before_sending(
    fake_odoo: tuple[str, type[FakeOdoo]],
) -> None:
    """A Decimal in the values is our mistake: InvalidInputError, and nothing is sent."""
    url, handler = fake_odoo
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    with pytest.raises(InvalidInputError):
        gateway.call("res.partner", "write", [[1], {"credit_limit": Decimal("1.5")}])
    assert "res.partner.write" not in handler.seen
