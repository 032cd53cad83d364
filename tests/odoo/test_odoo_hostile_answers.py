"""Odoo (or whatever sits in front of it) answering badly: every failure is a typed error.

Two fakes, no real Odoo: a tiny HTTP server that answers the RPC gateway's requests with broken
bodies, and a scripted in-memory gateway that answers the logistics operations' calls with
values of the wrong shape, deleted ids, very long id lists and very large labels.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import (
    Address,
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Label,
    LabelFormat,
    Milestone,
    Money,
    Package,
    Parcel,
    Shipment,
    TrackingEvent,
    Weight,
    WeightUnit,
)
from shipsync.errors import (
    ConfigurationError,
    OdooAuthError,
    OdooError,
    OdooMissingError,
    OdooResponseError,
    OdooUnavailableError,
    OdooValidationError,
    ShipsyncError,
)
from shipsync.odoo import IN_CHUNK, OdooGateway, OdooLogistics, RetryPolicy, RpcGateway
from shipsync.odoo._answers import rows
from shipsync.odoo._rpc import _SessionExpired, _unwrap

NO_WAIT = RetryPolicy(attempts=3, initial=0, jitter=0)  # retries without sleeping

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# --- the RPC gateway against broken HTTP answers ---------------------------------------------


class BrokenOdoo(BaseHTTPRequestHandler):
    """Connects like Odoo 18, then answers every model call with ``answer`` (raw bytes)."""

    answer: ClassVar[tuple[int, bytes]] = (200, b"")
    delay: ClassVar[float] = 0.0
    uid: ClassVar[Any] = 7

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
            pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        params = request["params"]
        result: Any
        if self.path == "/web/webclient/version_info":
            result = {"server_version": "18.0-20250722"}
        elif params.get("method") == "login":
            result = self.uid
        elif params.get("method") == "execute":  # res.users.context_get while logging in
            result = {"lang": "en_US"}
        else:
            time.sleep(self.delay)
            self._send(*self.answer)
            return
        self._send(200, json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode())


@pytest.fixture
def broken_odoo() -> Iterator[tuple[str, type[BrokenOdoo]]]:
    """A broken Odoo on a free local port; tests set ``answer``."""
    handler = type("Handler", (BrokenOdoo,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _rpc(body: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, **body}).encode()


@pytest.mark.parametrize(
    ("answer", "error", "odoo_message"),
    [
        pytest.param(
            (200, b"<html><body>Bad gateway</body></html>"),
            OdooResponseError,
            None,
            id="html-page-with-200",
        ),
        pytest.param(
            (502, b"<html><body>502 Bad Gateway</body></html>"),
            OdooUnavailableError,
            None,
            id="html-page-with-502",
        ),
        pytest.param(
            (200, b'{"jsonrpc": "2.0", "result": [{"id": 1'),
            OdooResponseError,
            None,
            id="truncated-json",
        ),
        pytest.param((200, b"\xff\xfe\x00garbage"), OdooResponseError, None, id="not-utf8"),
        pytest.param(
            (200, _rpc({"error": {"code": 200, "message": "Odoo Server Error"}})),
            OdooError,
            "Odoo Server Error",
            id="error-without-data",
        ),
        pytest.param(
            (
                200,
                _rpc(
                    {
                        "error": {
                            "code": 200,
                            "message": "Odoo Server Error",
                            "data": {"name": "odoo.addons.x.models.FooError", "message": "foo"},
                        }
                    }
                ),
            ),
            OdooError,
            "foo",
            id="unknown-exception-name",
        ),
        pytest.param(
            (200, _rpc({"error": "something broke"})),
            OdooResponseError,
            "something broke",
            id="error-not-an-object",
        ),
        pytest.param((200, _rpc({})), OdooResponseError, None, id="neither-result-nor-error"),
        pytest.param((200, b"[1, 2]"), OdooResponseError, None, id="a-list-not-an-object"),
        pytest.param((200, b"null"), OdooResponseError, None, id="null"),
    ],
)
def test_a_broken_answer_is_a_typed_error_never_a_crash_or_a_silent_none(
    broken_odoo: tuple[str, type[BrokenOdoo]],
    answer: tuple[int, bytes],
    error: type[OdooError],
    odoo_message: str | None,
) -> None:
    """Each broken body raises the named OdooError (with Odoo's text when it sent one)."""
    url, handler = broken_odoo
    gateway = RpcGateway(url, "db", "bot", "pw", retry=RetryPolicy(attempts=2, initial=0, jitter=0))
    handler.answer = answer
    with pytest.raises(error) as caught:
        gateway.call("res.partner", "search_read", [[]])
    assert caught.value.odoo_message == odoo_message
    assert "res.partner.search_read" in str(caught.value) or error is OdooUnavailableError


@pytest.mark.parametrize("uid", ["7", True, 0, None, [7]], ids=repr)
def test_a_login_answered_with_something_else_than_a_user_id_is_refused(
    broken_odoo: tuple[str, type[BrokenOdoo]], uid: Any
) -> None:
    """A uid that is not a positive int is refused while connecting, with a typed error."""
    url, handler = broken_odoo
    handler.uid = uid
    with pytest.raises((OdooResponseError, OdooAuthError)):
        RpcGateway(url, "db", "bot", "pw", retry=RetryPolicy(attempts=1))


# --- the logistics operations against a scripted gateway -------------------------------------

Handler = Callable[[Sequence[Any], Mapping[str, Any]], Any]


class ScriptedOdoo:
    """An :class:`OdooGateway` whose answers are functions keyed by ``model.method``.

    Defaults describe a standard Odoo 18 with stock and delivery and no OCA module; tests
    replace single answers. ``calls`` records every call.
    """

    def __init__(self, **answers: Handler) -> None:
        self.calls: list[tuple[str, Sequence[Any], Mapping[str, Any]]] = []
        self.answers: dict[str, Handler] = {
            "stock.picking.fields_get": lambda a, k: (
                {n: {"type": "char"} for n in a[0]}
                if "delivery_state" not in a[0]
                else {n: {"type": "char"} for n in a[0] if n != "delivery_state"}
            ),
            "stock.quant.package.fields_get": lambda a, k: {"name": {"type": "char"}},
            "ir.model.data.search_read": lambda a, k: [
                {"id": 9, "res_id": 2, "model": "mail.message.subtype"}
            ],
            "res.users.read": lambda a, k: [{"id": 2, "partner_id": [3, "Admin"]}],
            "res.company.search_read": lambda a, k: [{"id": 1, "currency_id": [1, "USD"]}],
            "stock.picking.search_read": lambda a, k: [],
            "mail.message.search_read": lambda a, k: [],
            "stock.move.line.search_read": lambda a, k: [],
            "mail.message.create": lambda a, k: list(range(100, 100 + len(a[0]))),
            "ir.attachment.create": lambda a, k: list(range(200, 200 + len(a[0]))),
            "stock.picking.write": lambda a, k: True,
            "res.currency.search_read": lambda a, k: [{"id": 1, "active": True}],
            "account.move.search": lambda a, k: [],
        }
        self.answers.update({k.replace("__", "."): v for k, v in answers.items()})

    server_version = (18, 0)
    uid = 2

    @property
    def round_trips(self) -> int:
        return len(self.calls)

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        self.calls.append((f"{model}.{method}", args, kwargs or {}))
        answer = self.answers.get(f"{model}.{method}")
        if answer is None:
            raise AssertionError(f"unexpected call {model}.{method}")
        return answer(args, kwargs or {})

    def count(self, key: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == key)


def _picking(picking_id: int, ref: str = "", name: str = "") -> dict[str, Any]:
    return {
        "id": picking_id,
        "name": name or f"WH/OUT/{picking_id:05d}",
        "state": "assigned",
        "company_id": [1, "Company"],
        "carrier_tracking_ref": ref or False,
        "carrier_price": 0.0,
        "sale_id": False,
    }


def _event(ref: str, n: int = 0, **extra: Any) -> TrackingEvent:
    values: dict[str, Any] = {
        "event_id": f"ev-{ref}-{n}",
        "shipment_id": f"shp-{ref}",
        "tracking_number": ref,
        "carrier": "fakecarrier",
        "milestone": Milestone.IN_TRANSIT,
        "occurred_at": T0 + timedelta(hours=n),
        "recorded_at": T0 + timedelta(hours=n, minutes=1),
        "carrier_code": "IT",
    }
    values.update(extra)
    return TrackingEvent(**values)


def _domain_values(args: Sequence[Any], field: str) -> list[Any]:
    """The values of the ``field in [...]`` leaf of a ``search_read`` domain."""
    for leaf in args[0]:
        if isinstance(leaf, list) and leaf[:2] == [field, "in"]:
            return list(leaf[2])
    return []


def _shipment(labels: Sequence[bytes]) -> Shipment:
    return Shipment(
        shipment_id="shp-big",
        carrier="fakecarrier",
        service="express",
        shipper=Address(country="US", city="Austin"),
        recipient=Address(country="US", city="Denver"),
        packages=tuple(
            Package(
                parcel=Parcel(weight=Weight(value="1", unit=WeightUnit.KG)),
                tracking_number=f"BIG-{i}",
                label=Label(tracking_number=f"BIG-{i}", format=LabelFormat.PDF, data=data),
            )
            for i, data in enumerate(labels)
        ),
    )


def _invoice(currency: str) -> FreightInvoice:
    return FreightInvoice(
        invoice_number="INV-1",
        carrier="fakecarrier",
        issued_at=T0,
        currency=currency,
        total=Money.of("10.00", currency),
        lines=(
            FreightInvoiceLine(
                line_number=1,
                tracking_number="TRK1",
                charges=(
                    FreightCharge(type=ChargeType.BASE_FREIGHT, amount=Money.of("10.00", currency)),
                ),
            ),
        ),
    )


BAD_ROWS = [
    pytest.param(None, id="None"),
    pytest.param("WH/OUT/00001", id="a-string"),
    pytest.param({"id": 1}, id="an-object"),
    pytest.param([None], id="a-list-of-None"),
    pytest.param([{"name": "no id"}], id="a-row-without-id"),
    pytest.param([{"id": "1"}], id="a-row-with-a-text-id"),
    pytest.param([{"id": True}], id="a-row-with-a-bool-id"),
]


@pytest.mark.parametrize("bad", BAD_ROWS)
@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda odoo: odoo.find_picking("WH/OUT/00001"), id="find_picking"),
        pytest.param(lambda odoo: odoo.read_pickings([1]), id="read_pickings"),
        pytest.param(lambda odoo: odoo.apply_events([_event("TRK1")]), id="apply_events"),
        pytest.param(
            lambda odoo: odoo.find_pickings_by_tracking(["TRK1"]), id="find_pickings_by_tracking"
        ),
    ],
)
def test_pickings_answered_with_the_wrong_shape_are_a_response_error(
    operation: Callable[[OdooLogistics], Any], bad: Any
) -> None:
    """search_read answering None, text or rows without an id raises OdooResponseError."""
    odoo = OdooLogistics(ScriptedOdoo(stock__picking__search_read=lambda a, k: bad))
    with pytest.raises(OdooResponseError, match=r"stock\.picking\.search_read"):
        operation(odoo)


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        pytest.param("mail.message.search_read", None, id="message-ids-None"),
        pytest.param("mail.message.create", None, id="create-None"),
        pytest.param("mail.message.create", [100], id="create-one-id-for-two"),
        pytest.param("mail.message.create", "100", id="create-text"),
        pytest.param(
            "ir.model.data.search_read",
            [{"id": 9, "model": "mail.message.subtype"}],
            id="subtype-without-res-id",
        ),
        pytest.param("res.users.read", None, id="author-None"),
        pytest.param("stock.picking.fields_get", None, id="fields-None"),
    ],
)
def test_applying_events_with_a_broken_answer_is_a_response_error(key: str, bad: Any) -> None:
    """Any of apply_events' requests answered with the wrong shape raises OdooResponseError."""
    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: [_picking(1, "TRK1"), _picking(2, "TRK2")]
    )
    gateway.answers[key] = lambda a, k: bad
    odoo = OdooLogistics(gateway)
    with pytest.raises(OdooResponseError):
        odoo.apply_events([_event("TRK1"), _event("TRK2")])


def test_recording_a_priced_shipment_with_unreadable_companies_is_a_response_error() -> None:
    """The company currency lookup answered with text raises OdooResponseError, writes nothing."""
    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: [_picking(1)],
        res__company__search_read=lambda a, k: "x",
    )
    with pytest.raises(OdooResponseError, match=r"res\.company"):
        OdooLogistics(gateway).record_shipment(
            1, _shipment([b"%PDF"]), price=Money.of("1.00", "USD")
        )
    assert gateway.count("ir.attachment.create") == 0


def test_a_load_that_reports_failures_in_its_messages_raises_with_odoos_text() -> None:
    """``load`` does not raise: its error messages become an OdooValidationError."""
    gateway = ScriptedOdoo(
        stock__picking__fields_get=lambda a, k: {n: {} for n in a[0]},
        stock__picking__search_read=lambda a, k: [
            {**_picking(1, "TRK1"), "delivery_state": False},
            {**_picking(2, "TRK2"), "delivery_state": False},
        ],
        stock__picking__load=lambda a, k: {
            "ids": False,
            "messages": [{"type": "error", "message": "Wrong value for delivery_state"}],
        },
    )
    odoo = OdooLogistics(gateway)
    events = [_event("TRK1"), _event("TRK2", milestone=Milestone.DELIVERED)]
    with pytest.raises(OdooValidationError) as caught:
        odoo.apply_events(events)
    assert caught.value.odoo_message == "Wrong value for delivery_state"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(None, id="None"),
        pytest.param({"ids": False, "messages": []}, id="nothing-written-no-reason"),
        pytest.param({"ids": [1, 2], "messages": ["oops"]}, id="a-message-not-an-object"),
    ],
)
def test_a_load_answered_strangely_is_an_odoo_error(bad: Any) -> None:
    """A load answer that does not say the rows were written is never taken as success."""
    gateway = ScriptedOdoo(
        stock__picking__fields_get=lambda a, k: {n: {} for n in a[0]},
        stock__picking__search_read=lambda a, k: [
            {**_picking(1, "TRK1"), "delivery_state": False},
            {**_picking(2, "TRK2"), "delivery_state": False},
        ],
        stock__picking__load=lambda a, k: bad,
    )
    events = [_event("TRK1"), _event("TRK2", milestone=Milestone.DELIVERED)]
    with pytest.raises(OdooError):
        OdooLogistics(gateway).apply_events(events)


def test_events_for_pickings_that_do_not_exist_are_reported_unmatched_and_nothing_is_written() -> (
    None
):
    """No picking carries the number: the events come back as unmatched, no note is created."""
    gateway = ScriptedOdoo()
    report = OdooLogistics(gateway).apply_events([_event("GONE1"), _event("GONE2", 1)])
    assert report.unmatched == ("ev-GONE1-0", "ev-GONE2-1")
    assert report.applied == ()
    assert gateway.count("mail.message.create") == 0


def test_deleted_pickings_are_a_missing_error_naming_them() -> None:
    """Reading or writing on ids Odoo no longer has raises OdooMissingError with the ids."""
    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: (
            [_picking(i) for i in _domain_values(a, "id") if i != 4]
            or [
                _picking(i) for leaf in a[0] if leaf[:2] == ["id", "="] for i in [leaf[2]] if i != 4
            ]
        ),
        # asked once more by id, to tell a picking gone from one of a company out of reach
        stock__picking__read=lambda a, k: [],
    )
    odoo = OdooLogistics(gateway)
    with pytest.raises(OdooMissingError, match="4"):
        odoo.read_pickings([3, 4, 5])
    with pytest.raises(OdooMissingError, match="4"):
        odoo.record_shipment(4, _shipment([b"%PDF"]))
    assert gateway.count("ir.attachment.create") == 0


def test_very_long_id_lists_are_read_in_chunks() -> None:
    """Reading 2.5 chunks of pickings sends three searches, none longer than IN_CHUNK."""
    count = IN_CHUNK * 2 + IN_CHUNK // 2
    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: [_picking(i) for i in _domain_values(a, "id")]
    )
    records = OdooLogistics(gateway).read_pickings(range(1, count + 1))
    assert [r.id for r in records] == list(range(1, count + 1))
    searches = [args for name, args, _ in gateway.calls if name == "stock.picking.search_read"]
    assert len(searches) == 3
    assert max(len(_domain_values(args, "id")) for args in searches) == IN_CHUNK
    messages = [args for name, args, _ in gateway.calls if name == "mail.message.search_read"]
    assert len(messages) == 3


def test_very_long_tracking_lists_are_searched_in_chunks() -> None:
    """Applying events for 2.5 chunks of tracking numbers sends one search per chunk."""
    count = IN_CHUNK * 2 + IN_CHUNK // 2
    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: [
            _picking(int(ref[3:]), ref) for ref in _domain_values(a, "carrier_tracking_ref")
        ]
    )
    events = [_event(f"TRK{i}") for i in range(1, count + 1)]
    report = OdooLogistics(gateway).apply_events(events)
    assert len(report.applied) == count
    assert gateway.count("stock.picking.search_read") == 3
    assert gateway.count("mail.message.search_read") == 3
    assert gateway.count("mail.message.create") == -(-count // 1000)


def test_labels_of_several_megabytes_are_sent_intact_in_bounded_requests() -> None:
    """Four 9 MB labels go out whole, base64-encoded, at most two per request (32 MiB)."""
    labels = [bytes([i]) * (9 * 1024 * 1024) for i in range(4)]
    gateway = ScriptedOdoo(stock__picking__search_read=lambda a, k: [_picking(1)])
    result = OdooLogistics(gateway).record_shipment(1, _shipment(labels))
    creates = [args[0] for name, args, _ in gateway.calls if name == "ir.attachment.create"]
    assert [len(batch) for batch in creates] == [2, 2]
    sent = [base64.b64decode(values["datas"]) for batch in creates for values in batch]
    assert sent == labels
    assert result.attachment_ids == (200, 201, 200, 201)


def test_non_ascii_names_and_text_reach_odoo_escaped_and_unchanged() -> None:
    """Accents, CJK and emoji in numbers and descriptions are kept; markup is escaped."""
    ref = "TRK-Zürich-東京-📦"
    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: [_picking(1, ref, name="WH/SORTIE/0001é")]
    )
    event = _event(ref, carrier_description="Remis à <b>Müller</b> & fils 🚚")
    report = OdooLogistics(gateway).apply_events([event])
    assert report.applied == (event.event_id,)
    [(_, args, _)] = [c for c in gateway.calls if c[0] == "mail.message.create"]
    body = args[0][0]["body"]
    assert ref in body
    assert "Remis à &lt;b&gt;Müller&lt;/b&gt; &amp; fils 🚚" in body


def test_non_ascii_arguments_travel_over_json_rpc_unchanged(
    broken_odoo: tuple[str, type[BrokenOdoo]],
) -> None:
    """The RPC gateway sends and reads back non-ASCII text as Odoo would store it."""
    url, handler = broken_odoo
    gateway = RpcGateway(url, "db", "bot", "pw")
    name = "Lieferung München - 東京 📦"
    handler.answer = (200, _rpc({"result": [{"id": 1, "name": name}]}))
    assert gateway.call("stock.picking", "search_read", [[["name", "=", name]]]) == [
        {"id": 1, "name": name}
    ]


@pytest.mark.parametrize(
    ("currencies", "message"),
    [
        pytest.param([{"id": 5, "active": False}], "not active", id="inactive"),
        pytest.param([], "no currency", id="unknown"),
    ],
)
def test_a_bill_in_a_currency_odoo_does_not_have_active_is_refused_before_writing(
    currencies: list[dict[str, Any]], message: str
) -> None:
    """The currency is checked first: OdooValidationError, and no bill is created."""
    gateway = ScriptedOdoo(res__currency__search_read=lambda a, k: currencies)
    with pytest.raises(OdooValidationError, match=message):
        OdooLogistics(gateway).create_vendor_bill(_invoice("CHF"), vendor_id=7)
    assert gateway.count("account.move.create") == 0


def test_a_bill_read_back_in_a_currency_shipsync_does_not_know_is_a_response_error() -> None:
    """Odoo may hold currencies outside ISO 4217; reading such a bill is a typed error."""
    gateway = ScriptedOdoo(
        account__move__search=lambda a, k: [12],
        account__move__read=lambda a, k: [
            {
                "id": 12,
                "ref": "INV-1",
                "state": "draft",
                "currency_id": [9, "XBT"],
                "partner_id": [7, "Carrier"],
                "amount_total": 10.0,
                "invoice_origin": False,
            }
        ],
        account__move__line__search_read=lambda a, k: [],
    )
    with pytest.raises(OdooResponseError, match="XBT"):
        OdooLogistics(gateway).read_vendor_bill("INV-1", vendor_id=7)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(None, id="None"),
        pytest.param([], id="no-bill"),
        pytest.param([{"x": 1}], id="no-id"),
    ],
)
def test_a_bill_that_cannot_be_read_back_is_a_response_error(bad: Any) -> None:
    """account.move.read answering nothing usable raises OdooResponseError, not ValueError."""
    gateway = ScriptedOdoo(
        account__move__search=lambda a, k: [12], account__move__read=lambda a, k: bad
    )
    with pytest.raises(OdooResponseError):
        OdooLogistics(gateway).read_vendor_bill("INV-1", vendor_id=7)


def test_every_failure_above_is_a_shipsync_error() -> None:
    """The errors these tests expect all belong to the shipsync tree."""
    for error in (OdooError, OdooMissingError, OdooResponseError, OdooValidationError):
        assert issubclass(error, ShipsyncError)
    assert isinstance(ScriptedOdoo(), OdooGateway)


def test_unknown_tracking_numbers_cost_one_fallback_search_per_two_hundred() -> None:
    """References found nowhere are looked for inside joined values, 200 per ``ilike`` search,
    then reported unmatched; a joined value (``"A,B"``) is found by that search."""
    joined = _picking(7, "KNOWN-A,KNOWN-B")

    def search(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        patterns = [leaf[2] for leaf in args[0] if isinstance(leaf, list) and leaf[1] == "ilike"]
        return [joined] if "KNOWN-B" in patterns else []

    gateway = ScriptedOdoo(stock__picking__search_read=search)
    events = [_event(f"NOPE{i}") for i in range(450)] + [_event("KNOWN-B")]
    report = OdooLogistics(gateway).apply_events(events)
    assert report.applied == ("ev-KNOWN-B-0",)
    assert len(report.unmatched) == 450
    assert gateway.count("stock.picking.search_read") == 1 + 3  # exact, then 451 / 200 ilike


def test_a_status_write_that_fails_is_written_when_the_call_is_repeated() -> None:
    """A failed ``load`` leaves the events unposted, so repeating apply_events writes the
    statuses and posts each note once (posted first, the repeat saw only duplicates and the
    statuses were never written)."""
    posted: dict[str, int] = {}
    loads: list[Any] = []

    def create(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        for values in args[0]:
            posted[values["message_id"]] = values["res_id"]
        return list(range(100, 100 + len(args[0])))

    def seen(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        wanted = _domain_values(args, "message_id")
        return [{"id": n + 1, "message_id": m} for n, m in enumerate(posted) if m in wanted]

    def load(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        loads.append(args)
        if len(loads) == 1:
            raise OdooUnavailableError("Odoo could not be reached for stock.picking.load")
        return {"ids": [1, 2], "messages": []}

    gateway = ScriptedOdoo(
        stock__picking__fields_get=lambda a, k: {n: {} for n in a[0]},
        stock__picking__search_read=lambda a, k: [
            {**_picking(1, "TRK1"), "delivery_state": False},
            {**_picking(2, "TRK2"), "delivery_state": False},
        ],
        mail__message__create=create,
        mail__message__search_read=seen,
        stock__picking__load=load,
    )
    odoo = OdooLogistics(gateway)
    events = [_event("TRK1"), _event("TRK2", milestone=Milestone.DELIVERED)]
    with pytest.raises(OdooUnavailableError):
        odoo.apply_events(events)
    assert posted == {}
    report = odoo.apply_events(events)
    assert report.status_written == {1: "in_transit", 2: "customer_delivered"}
    assert len(posted) == 2
    assert len(loads) == 2
    again = odoo.apply_events(events)
    assert len(again.duplicates) == 2
    assert len(loads) == 2


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["result", "error", "data", "name", "message", "id", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(JSON)
def test_any_json_answer_is_the_result_or_an_odoo_error(answer: Any) -> None:
    """Whatever JSON comes back, reading the envelope gives the result or raises an OdooError
    (never a TypeError or KeyError, never a silent None for a missing result)."""
    try:
        result = _unwrap(answer, "res.partner", "read")
    except (OdooError, _SessionExpired):
        return
    assert isinstance(answer, dict)
    assert not answer.get("error")
    assert "result" in answer
    assert result is answer["result"]


@given(JSON)
def test_any_json_answer_to_a_search_is_records_or_a_response_error(answer: Any) -> None:
    """The shape checks accept exactly lists of objects with a positive integer id."""
    try:
        found = rows(answer, "x.search_read")
    except OdooResponseError:
        return
    assert all(isinstance(r, dict) and type(r["id"]) is int and r["id"] > 0 for r in found)


def test_a_shipment_whose_write_fails_attaches_no_label_and_a_repeat_records_it_once() -> None:
    """The picking is written before the labels are attached: a refused write leaves no
    orphan label, and the repeated call attaches each label once."""
    writes: list[Any] = []

    def write(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        writes.append(args)
        if len(writes) == 1:
            raise OdooUnavailableError("Odoo could not be reached for stock.picking.write")
        return True

    gateway = ScriptedOdoo(
        stock__picking__search_read=lambda a, k: [_picking(1)], stock__picking__write=write
    )
    odoo = OdooLogistics(gateway)
    shipment = _shipment([b"%PDF-1", b"%PDF-2"])
    with pytest.raises(OdooUnavailableError):
        odoo.record_shipment(1, shipment)
    assert gateway.count("ir.attachment.create") == 0
    recorded = odoo.record_shipment(1, shipment)
    assert len(recorded.attachment_ids) == 2
    assert gateway.count("ir.attachment.create") == 1
    [(_, note_args, _)] = [c for c in gateway.calls if c[0] == "mail.message.create"]
    assert note_args[0][0]["attachment_ids"] == [[6, 0, [200, 201]]]


def test_a_server_that_does_not_answer_in_time_is_unavailable_and_a_create_is_not_repeated(
    broken_odoo: tuple[str, type[BrokenOdoo]],
) -> None:
    """A timeout leaves the outcome unknown: a read is tried again, a create is not."""
    url, handler = broken_odoo
    gateway = RpcGateway(url, "db", "bot", "pw", timeout=0.2, retry=NO_WAIT)
    handler.delay = 0.5
    handler.answer = (200, _rpc({"result": 5}))
    started = gateway.round_trips
    with pytest.raises(OdooUnavailableError):
        gateway.call("res.partner", "create", [{"name": "x"}])
    assert gateway.round_trips - started == 1
    with pytest.raises(OdooUnavailableError):
        gateway.call("res.partner", "search", [[]])
    assert gateway.round_trips - started == 1 + 3


@pytest.mark.parametrize(
    ("status", "error", "sent"),
    [
        pytest.param(413, OdooError, 1, id="body-too-large-not-retried"),
        pytest.param(404, OdooError, 1, id="wrong-path-not-retried"),
        pytest.param(401, OdooAuthError, 1, id="proxy-authentication"),
        pytest.param(429, OdooUnavailableError, 3, id="too-many-requests-retried-even-a-create"),
        pytest.param(500, OdooUnavailableError, 1, id="server-error-create-not-retried"),
    ],
)
def test_http_errors_are_typed_and_retried_only_when_sending_again_can_help(
    broken_odoo: tuple[str, type[BrokenOdoo]], status: int, error: type[OdooError], sent: int
) -> None:
    """4xx will not change by retrying; 429 was refused before any work; a 500 may have run."""
    url, handler = broken_odoo
    gateway = RpcGateway(url, "db", "bot", "pw", retry=NO_WAIT)
    handler.answer = (status, b"<html>nope</html>")
    started = gateway.round_trips
    with pytest.raises(error) as caught:
        gateway.call("ir.attachment", "create", [[{"name": "label.pdf"}]])
    assert type(caught.value) is error
    assert gateway.round_trips - started == sent


@pytest.mark.parametrize(
    "url",
    ["ftp://erp.example.com", "erp.example.com", "https://erp.example.com/odoo", "http://h/?db=x"],
)
def test_an_url_that_is_not_a_server_root_is_a_configuration_error(url: str) -> None:
    """A path would be dropped silently by odoorpc: refused before any request."""
    with pytest.raises(ConfigurationError):
        RpcGateway(url, "db", "bot", "pw")
