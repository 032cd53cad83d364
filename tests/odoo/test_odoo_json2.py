"""The JSON-2 gateway and the version table without a real Odoo: a small fake Odoo 19, an
``httpx.MockTransport`` handler routed on the URL path, answers the way Odoo 19's
``addons/rpc/controllers/json2.py`` and ``Json2Dispatcher.handle_error`` do."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import (
    ConfigurationError,
    InvalidInputError,
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooMissingError,
    OdooModuleMissingError,
    OdooResponseError,
    OdooUnavailableError,
    OdooUserError,
    OdooValidationError,
)
from shipsync.odoo import (
    MODEL_METHODS,
    ODOO_VERSIONS,
    Json2Gateway,
    OdooFieldMap,
    OdooGateway,
    OdooLogistics,
    RetryPolicy,
    connect,
    gateway_protocol,
    server_version,
    version_facts,
)
from shipsync.odoo._facts import ServerFacts
from shipsync.odoo._json2 import named_arguments

NO_WAIT = RetryPolicy(attempts=3, initial=0, maximum=0)
KEY = "0123456789abcdef0123456789abcdef01234567"
URL = "http://odoo19.test"

Answer = int | str | httpx.Response | Exception | Any


def odoo_error(status: int, name: str, message: str) -> httpx.Response:
    """An error answer shaped like Odoo 19's ``serialize_exception`` body."""
    body = {"name": name, "message": message, "arguments": [message], "context": {}, "debug": ""}
    return httpx.Response(status, json=body)


class FakeOdoo19:
    """Answers like Odoo 19, routed on the URL path.

    ``script`` maps ``"model.method"`` to answers consumed in order: an ``int`` is an HTTP status
    (an HTML body, as a proxy sends), an ``httpx.Response`` is sent as is, an ``Exception`` is
    raised by the transport, anything else is the JSON result. ``seen`` keeps each JSON-2 call's
    ``(model.method, body)``.
    """

    def __init__(self, *, version: list[Any] | None = None, jsonrpc: bool = True) -> None:
        self.version = version or [19, 0, 0, "final", 0, ""]
        self.jsonrpc = jsonrpc
        self.script: dict[str, list[Answer]] = {}
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/json/version" and request.method == "GET":
            return httpx.Response(200, json={"version_info": self.version, "version": "x"})
        if path == "/jsonrpc":
            if not self.jsonrpc:
                return httpx.Response(404, text="<html>Not Found</html>")
            params = json.loads(request.content)["params"]
            if params != {"service": "common", "method": "version", "args": []}:
                error = {"message": "Odoo Server Error", "data": {"name": "builtins.TypeError"}}
                return httpx.Response(200, json={"jsonrpc": "2.0", "id": None, "error": error})
            info = {"server_version_info": self.version, "server_version": "x"}
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": None, "result": info})
        parts = path.split("/")
        if parts[:3] != ["", "json", "2"] or len(parts) != 5:
            return odoo_error(404, "werkzeug.exceptions.NotFound", "Did you mean POST ...?")
        if request.headers.get("Authorization") != f"bearer {KEY}":
            return odoo_error(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
        assert request.headers["Content-Type"] == "application/json"
        key = f"{parts[3]}.{parts[4]}"
        body = json.loads(request.content)
        self.seen.append((key, body))
        queue = self.script.get(key)
        answer: Answer = queue.pop(0) if queue else self.default(key, body)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        if isinstance(answer, int) and not isinstance(answer, bool) and answer >= 400:
            return httpx.Response(answer, text=f"<html>{answer}</html>")
        return httpx.Response(200, json=answer)

    def default(self, key: str, body: dict[str, Any]) -> Any:
        if key == "res.users.context_get":
            return {"lang": "en_US", "tz": False, "uid": 2}
        if key.endswith(".create"):
            values = body["vals_list"]
            return list(range(10, 10 + (len(values) if isinstance(values, list) else 1)))
        return []

    def gateway(self, **kwargs: Any) -> Json2Gateway:
        return Json2Gateway(
            URL, "shipsync19", KEY, retry=NO_WAIT, transport=self.transport, **kwargs
        )


@pytest.fixture
def odoo() -> FakeOdoo19:
    return FakeOdoo19()


def test_connecting_reads_the_version_and_the_key_user(odoo: FakeOdoo19) -> None:
    """Connecting asks /json/version and res.users.context_get: version, uid, two round trips."""
    gateway = odoo.gateway()
    assert isinstance(gateway, OdooGateway)
    assert gateway.server_version == (19, 0)
    assert gateway.uid == 2
    assert gateway.round_trips == 2
    assert KEY not in repr(gateway)


def test_a_wrong_api_key_is_an_auth_error_when_connecting(odoo: FakeOdoo19) -> None:
    """Odoo's 401 for a key it does not know raises OdooAuthError naming the database."""
    with pytest.raises(OdooAuthError, match="shipsync19") as caught:
        Json2Gateway(URL, "shipsync19", "not-the-key", retry=NO_WAIT, transport=odoo.transport)
    assert caught.value.odoo_message == "Invalid apikey"


def test_every_request_carries_the_bearer_key_and_the_database() -> None:
    """Each request sends ``Authorization: bearer`` and ``X-Odoo-Database``, and no cookie."""
    headers: list[httpx.Headers] = []
    odoo = FakeOdoo19()

    def spy(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        return odoo.handle(request)

    gateway = Json2Gateway(URL, "shipsync19", KEY, transport=httpx.MockTransport(spy))
    gateway.call("res.partner", "search", [[]])
    assert headers
    for sent in headers:
        assert sent["Authorization"] == f"bearer {KEY}"
        assert sent["X-Odoo-Database"] == "shipsync19"
        assert "Cookie" not in sent


@pytest.mark.parametrize(
    ("model", "method", "args", "kwargs", "body"),
    [
        (
            "stock.picking",
            "search_read",
            [[["state", "=", "done"]], ["name"]],
            {"limit": 5},
            {"domain": [["state", "=", "done"]], "fields": ["name"], "limit": 5},
        ),
        ("stock.picking", "read", [[1, 2], ["name"]], None, {"ids": [1, 2], "fields": ["name"]}),
        ("stock.picking", "read", [[3]], {"fields": ["state"]}, {"ids": [3], "fields": ["state"]}),
        ("stock.picking", "write", [[4], {"x": 1}], None, {"ids": [4], "vals": {"x": 1}}),
        ("stock.picking", "write", [5, {"x": 1}], None, {"ids": [5], "vals": {"x": 1}}),
        (
            "stock.picking",
            "button_validate",
            [[6, 7]],
            {"context": {"skip_backorder": True}},
            {"ids": [6, 7], "context": {"skip_backorder": True}},
        ),
        ("res.partner", "create", [[{"name": "a"}]], None, {"vals_list": [{"name": "a"}]}),
        ("account.move", "load", [["id"], [["x"]]], None, {"fields": ["id"], "data": [["x"]]}),
        (
            "stock.picking",
            "fields_get",
            [["name"]],
            {"attributes": ["type"]},
            {"allfields": ["name"], "attributes": ["type"]},
        ),
        ("account.move", "search", [[]], {"order": "id"}, {"domain": [], "order": "id"}),
        ("res.users", "context_get", [], None, {}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_positional_arguments_are_sent_by_their_odoo_names(
    odoo: FakeOdoo19,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any] | None,
    body: dict[str, Any],
) -> None:
    """execute_kw's positional arguments become JSON-2's named ones: ids first, then the names."""
    gateway = odoo.gateway()
    gateway.call(model, method, args, kwargs)
    assert odoo.seen[-1] == (f"{model}.{method}", body)


def test_create_of_one_mapping_answers_one_id_and_of_a_list_answers_ids(odoo: FakeOdoo19) -> None:
    """``create`` keeps execute_kw's answer shape: an id for a mapping, ids for a list."""
    gateway = odoo.gateway()
    assert gateway.call("res.partner", "create", [{"name": "one"}]) == 10
    assert gateway.call("res.partner", "create", [[{"name": "a"}, {"name": "b"}]]) == [10, 11]


def test_an_argument_without_a_name_is_refused_before_sending(odoo: FakeOdoo19) -> None:
    """An unknown method given positional arguments after the ids is refused, nothing sent."""
    gateway = odoo.gateway()
    before = gateway.round_trips
    with pytest.raises(InvalidInputError, match="by name"):
        gateway.call("stock.picking", "action_custom", [[1], "positional"])
    with pytest.raises(InvalidInputError, match="'fields' by position and by name"):
        gateway.call("stock.picking", "read", [[1], ["name"]], {"fields": ["state"]})
    with pytest.raises(InvalidInputError, match="JSON values"):
        gateway.call("stock.picking", "write", [[1], {"when": object()}])
    assert gateway.round_trips == before


@given(
    method=st.sampled_from(sorted(MODEL_METHODS)),
    values=st.lists(st.integers() | st.text(max_size=5), max_size=8),
    extra=st.dictionaries(st.sampled_from(["context", "zz_named"]), st.integers(), max_size=2),
)
def test_named_arguments_keep_every_value_under_its_odoo_name(
    method: str, values: list[Any], extra: dict[str, Any]
) -> None:
    """For any model method and arguments, the body holds each value once under its name, or
    the call is refused: never a value dropped or put under the wrong name."""
    names = MODEL_METHODS[method]
    if len(values) > len(names):
        with pytest.raises(InvalidInputError):
            named_arguments("m", method, values, extra)
        return
    body = named_arguments("m", method, values, extra)
    assert body == {**dict(zip(names, values, strict=False)), **extra}


ERRORS: list[tuple[httpx.Response, type[OdooError]]] = [
    (odoo_error(403, "odoo.exceptions.AccessError", "no access"), OdooAccessError),
    (odoo_error(422, "odoo.exceptions.ValidationError", "bad value"), OdooValidationError),
    (odoo_error(404, "odoo.exceptions.MissingError", "record gone"), OdooMissingError),
    (odoo_error(422, "odoo.exceptions.UserError", "refused"), OdooUserError),
    (odoo_error(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey"), OdooAuthError),
    (odoo_error(422, "werkzeug.exceptions.UnprocessableEntity", "missing 'domain'"), OdooError),
    (odoo_error(404, "werkzeug.exceptions.NotFound", "the model 'x' does not exist"), OdooError),
    (odoo_error(500, "builtins.ValueError", "Invalid field"), OdooError),
    (httpx.Response(404, text="<html>no database</html>"), OdooError),
    (httpx.Response(400, text="<html>bad</html>"), OdooResponseError),
    (httpx.Response(200, text="<html>a login page</html>"), OdooResponseError),
]


@pytest.mark.parametrize(("answer", "expected"), ERRORS, ids=lambda v: getattr(v, "text", "")[:40])
def test_odoo_errors_become_the_typed_errors(
    odoo: FakeOdoo19, answer: httpx.Response, expected: type[OdooError]
) -> None:
    """Each JSON-2 error status and body maps to the most specific OdooError, Odoo's text kept."""
    gateway = odoo.gateway()
    odoo.script["stock.picking.search_read"] = [answer]
    with pytest.raises(OdooError) as caught:
        gateway.call("stock.picking", "search_read", [[]])
    assert type(caught.value) is expected
    assert "stock.picking.search_read" in str(caught.value)
    if answer.headers.get("content-type") == "application/json":
        assert caught.value.odoo_message == answer.json()["message"]


def test_a_missing_module_is_named_by_the_version_table(odoo: FakeOdoo19) -> None:
    """On Odoo 19, pickings without carrier_tracking_ref name stock_delivery as missing."""
    odoo.script["stock.picking.fields_get"] = [{"name": {}, "state": {}}]
    facts = ServerFacts(odoo.gateway(), OdooFieldMap())
    with pytest.raises(OdooModuleMissingError) as caught:
        facts.schema()
    assert caught.value.module == "stock_delivery"


SAFE_SEQUENCES: list[tuple[str, list[Answer], int]] = [
    ("search_read", [503, [{"id": 1}]], 2),
    ("search_read", [502, 504, [{"id": 1}]], 3),
    ("search_read", [httpx.ReadTimeout("slow"), [{"id": 1}]], 2),
    ("search_read", [odoo_error(500, "psycopg2.errors.SerializationFailure", "x"), []], 2),
    ("write", [httpx.RemoteProtocolError("reset"), True], 2),
    ("create", [httpx.ConnectError("refused"), [10]], 2),
    ("create", [429, [10]], 2),
]


@pytest.mark.parametrize(("method", "answers", "sent"), SAFE_SEQUENCES)
def test_failures_that_may_be_retried_are_retried(
    odoo: FakeOdoo19, method: str, answers: list[Answer], sent: int
) -> None:
    """A request that never reached Odoo is sent again for any method; an unknown outcome only
    for safe methods; the answer is the one that finally came back."""
    gateway = odoo.gateway()
    expected = answers[-1]
    odoo.script[f"res.partner.{method}"] = list(answers)
    before = gateway.round_trips
    args: list[Any] = {"search_read": [[]], "write": [[1], {"x": 1}], "create": [[{"x": 1}]]}[
        method
    ]
    assert gateway.call("res.partner", method, args) == expected
    assert gateway.round_trips - before == sent


def test_a_transport_failure_of_another_kind_is_unavailable_not_a_crash(odoo: FakeOdoo19) -> None:
    """A proxy error or a body that does not decode is OdooUnavailableError, never httpx's own."""
    gateway = odoo.gateway()
    odoo.script["res.partner.create"] = [httpx.ProxyError("proxy refused")]
    odoo.script["res.partner.search"] = [httpx.DecodingError("bad gzip")] * 3
    with pytest.raises(OdooUnavailableError, match="ProxyError"):
        gateway.call("res.partner", "create", [[{"name": "x"}]])
    with pytest.raises(OdooUnavailableError, match="DecodingError"):
        gateway.call("res.partner", "search", [[]])


@pytest.mark.parametrize(
    "failure",
    [
        503,
        httpx.ReadTimeout("slow"),
        odoo_error(500, "psycopg2.errors.SerializationFailure", "conflict"),
    ],
    ids=["503", "timeout", "conflict"],
)
def test_a_create_whose_outcome_is_unknown_is_not_sent_again(
    odoo: FakeOdoo19, failure: Answer
) -> None:
    """``create`` after a timeout, a 503 or a conflict is not repeated: sent once, then raised."""
    gateway = odoo.gateway()
    odoo.script["res.partner.create"] = [failure, [10]]
    before = gateway.round_trips
    with pytest.raises(OdooUnavailableError):
        gateway.call("res.partner", "create", [[{"name": "x"}]])
    assert gateway.round_trips - before == 1


def test_retries_run_out_into_unavailable(odoo: FakeOdoo19) -> None:
    """A server that keeps refusing connections is OdooUnavailableError after the attempts."""
    gateway = odoo.gateway()
    odoo.script["res.partner.search"] = [httpx.ConnectError("refused")] * 5
    before = gateway.round_trips
    with pytest.raises(OdooUnavailableError, match=r"res\.partner\.search"):
        gateway.call("res.partner", "search", [[]])
    assert gateway.round_trips - before == NO_WAIT.attempts


def test_a_server_without_json2_says_to_use_the_rpc_gateway() -> None:
    """A server older than 19 (no /json/version) is refused with a message naming RpcGateway."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>Not Found</html>")

    with pytest.raises(OdooError, match="RpcGateway"):
        Json2Gateway(URL, "db", KEY, retry=NO_WAIT, transport=httpx.MockTransport(handler))


def test_bad_urls_and_keys_are_configuration_errors() -> None:
    """A URL that is not http(s) and an empty or spaced key fail before any request."""
    with pytest.raises(ConfigurationError):
        Json2Gateway("ftp://odoo", "db", KEY)
    with pytest.raises(ConfigurationError):
        Json2Gateway(URL, "db", "two words")


@pytest.mark.parametrize("jsonrpc", [True, False], ids=["jsonrpc-served", "jsonrpc-gone"])
def test_connect_picks_json2_for_odoo_19(jsonrpc: bool) -> None:
    """connect() asks the version (JSON-RPC, or /json/version where it is gone) and builds a
    Json2Gateway for 19."""
    odoo = FakeOdoo19(jsonrpc=jsonrpc)
    gateway = connect(URL, "shipsync19", "admin", KEY, retry=NO_WAIT, transport=odoo.transport)
    assert isinstance(gateway, Json2Gateway)
    assert gateway.server_version == (19, 0)


@pytest.mark.parametrize(
    ("version", "protocol"), [(16, "jsonrpc"), (17, "jsonrpc"), (18, "jsonrpc")]
)
def test_servers_16_to_18_are_spoken_to_over_jsonrpc(version: int, protocol: str) -> None:
    """The version asked from 16, 17 and 18 servers selects JSON-RPC."""
    odoo = FakeOdoo19(version=[version, 0, 0, "final", 0, ""])
    asked = server_version(URL, transport=odoo.transport)
    assert asked == (version, 0)
    assert gateway_protocol(asked) == protocol


@pytest.mark.parametrize("version", [[15, 0], [20, 0]], ids=str)
def test_a_version_shipsync_does_not_know_is_a_configuration_error(version: list[Any]) -> None:
    """connect() refuses a server version not in the table, naming it, before logging in."""
    odoo = FakeOdoo19(version=[*version, 0, "final", 0, ""])
    with pytest.raises(ConfigurationError, match=f"Odoo {version[0]}.{version[1]} is not"):
        connect(URL, "db", "admin", KEY, transport=odoo.transport)
    assert odoo.seen == []


def test_the_version_table_covers_every_supported_version_consistently() -> None:
    """Each known version's facts are self-consistent: its ready and final picking states exist."""
    assert sorted(ODOO_VERSIONS) == [16, 17, 18, 19]
    for major, facts in ODOO_VERSIONS.items():
        assert facts.major == major
        assert facts.picking_ready_state in facts.picking_states
        assert facts.picking_final_states <= facts.picking_states
    assert version_facts((16, 0)).delivery_module == "delivery"
    assert version_facts((19, 0)).delivery_module == "stock_delivery"
    assert version_facts((19, 0)).user_groups_field == "group_ids"
    with pytest.raises(ConfigurationError, match=r"21\.0"):
        version_facts((21, 0))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    status=st.sampled_from([200, 400, 401, 403, 404, 409, 415, 422, 500, 501]),
    body=st.binary(max_size=40).map(lambda b: httpx.Response(0, content=b))
    | JSONISH.map(lambda v: httpx.Response(0, json=v))
    | st.fixed_dictionaries(
        {"name": st.text(max_size=40) | st.sampled_from(["odoo.exceptions.UserError", ""])},
        optional={"message": JSONISH},
    ).map(lambda v: httpx.Response(0, json=v)),
)
def test_any_answer_is_a_value_or_a_typed_error(status: int, body: httpx.Response) -> None:
    """Whatever status and body Odoo (or a proxy) answers, a call returns or raises an OdooError."""
    odoo = FakeOdoo19()
    gateway = odoo.gateway()
    odoo.script["res.partner.search_read"] = [
        httpx.Response(status, content=body.content, headers=body.headers)
    ]
    with contextlib.suppress(OdooError):  # anything else (TypeError, KeyError, ...) fails
        gateway.call("res.partner", "search_read", [[]])


def test_https_to_a_plain_http_port_is_a_configuration_error() -> None:
    """An https:// URL at a port speaking plain HTTP fails at once, naming the URL, not retried."""

    class Plain(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(ConfigurationError, match="plain HTTP") as caught:
            Json2Gateway(url, "db", KEY, retry=RetryPolicy(attempts=5, initial=0, maximum=0))
        assert url in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()


def test_operations_refuse_a_server_version_shipsync_does_not_know() -> None:
    """OdooLogistics on a server of an unknown version fails when built, naming the version."""
    odoo = FakeOdoo19(version=[21, 0, 0, "final", 0, ""])
    gateway = odoo.gateway()
    before = gateway.round_trips
    with pytest.raises(ConfigurationError, match=r"Odoo 21\.0 is not a version"):
        OdooLogistics(gateway)
    assert gateway.round_trips == before
