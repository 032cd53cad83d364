"""What a new user hit (issue 11): each broken promise, pinned where a user meets it.

Commands run through the top-level group (``shipsync.cli.main``) or the installed ``shipsync``
executable, never through an inner command object.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import shlex
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from shipsync.cli import main
from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    InvalidInputError,
    MissingHeaderError,
)
from shipsync.webhooks import StandardWebhooksScheme, generate_secret

SHIPSYNC = str(Path(sys.executable).with_name("shipsync"))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_614_265_330
BODY = b'{"hello":"world"}'


def _shipsync(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [SHIPSYNC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _signature(msg_id: str = "m1", timestamp: int = NOW) -> str:
    return StandardWebhooksScheme().signer(SECRET).signature(msg_id, timestamp, BODY)


# -- the command table ---------------------------------------------------------------------------


def test_reconcile_is_listed_and_runs_from_the_installed_executable(tmp_path: Path) -> None:
    """``shipsync --help`` lists reconcile as available and ``shipsync reconcile`` runs."""
    from shipsync.testing.settlement import write_sample_files

    listing = _shipsync("--help")
    assert listing.returncode == 0
    assert "reconcile" in listing.stdout
    assert "unavailable" not in listing.stdout
    files = write_sample_files(tmp_path, shipments=50, lines=50, seed=3)
    result = _shipsync("reconcile", str(files.invoice), "--shipments", str(files.shipments))
    assert result.returncode == 0, result.stderr
    assert "check: matched + disputed + unknown = invoice total" in result.stdout


# -- webhook --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["1_614_265_330", "+1614265330", " 1614265330", "١٦١٤٢٦٥٣٣٠"])
def test_verify_hands_the_timestamp_text_to_the_library_unchanged(stamp: str) -> None:
    """A timestamp the library would refuse in a header is refused by the CLI too (exit 1)."""
    args = ["webhook", "verify", "--scheme", "standard", "--secret", SECRET, "--id", "m1"]
    args += ["--timestamp", stamp, "--signature", _signature(), "--now", str(NOW)]
    result = CliRunner().invoke(main, args, input=BODY)
    assert result.exit_code == 1
    assert result.stderr.startswith("MalformedHeaderError: ")


def test_sign_prints_every_signed_header_ready_for_curl() -> None:
    """``webhook sign`` prints id, timestamp and signature as -H arguments that verify."""
    args = ["webhook", "sign", "--scheme", "standard", "--secret", SECRET, "--id", "m1"]
    result = CliRunner().invoke(main, [*args, "--timestamp", str(NOW)], input=BODY)
    assert result.exit_code == 0
    words = shlex.split(result.stdout.replace("\\\n", " "))
    assert words[::2] == ["-H", "-H", "-H"]
    headers = dict(h.split(": ", 1) for h in words[1::2])
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    verifier = StandardWebhooksScheme().verifier(SECRET, clock=lambda: float(NOW))
    assert verifier.verify(BODY, headers).delivery_id == "m1"


class _Receiver(http.server.BaseHTTPRequestHandler):
    verifier: ClassVar[Any] = None
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = dict(self.headers.items())
        type(self).seen.append(headers)
        try:
            self.verifier.verify(body, headers)
        except Exception as exc:
            answer, status = f"{type(exc).__name__}".encode(), 400
        else:
            answer, status = b"thanks", 200
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[str]:
    """A local HTTP receiver that verifies Standard Webhooks with SECRET on real time."""
    _Receiver.verifier = StandardWebhooksScheme().verifier(SECRET)
    _Receiver.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def test_send_posts_a_signed_delivery_and_shows_the_answer(receiver: str, tmp_path: Path) -> None:
    """``webhook send URL`` signs the body file, posts it, prints status and body, exits 0."""
    body = tmp_path / "delivery.json"
    body.write_bytes(BODY)
    args = ["--scheme", "standard", "--secret", SECRET, "--body", str(body)]
    result = _shipsync("webhook", "send", receiver, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200 OK\nthanks\n"
    assert _Receiver.seen[0]["webhook-id"].startswith("msg_")


def test_send_exits_1_when_the_receiver_refuses(receiver: str) -> None:
    """A delivery the receiver answers with 400 is shown and exits 1 (stdin body)."""
    args = ["webhook", "send", receiver, "--scheme", "standard", "--secret", generate_secret()]
    result = CliRunner().invoke(main, args, input=BODY)
    assert result.exit_code == 1
    assert result.stdout.startswith("400 ")
    assert "NoMatchingSignatureError" in result.stdout


def test_send_to_a_closed_port_is_one_line_not_a_traceback() -> None:
    """An unreachable URL ends with one error line and exit 1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["webhook", "send", f"http://127.0.0.1:{port}/", "--scheme", "hmac", "--secret", "s"]
    result = CliRunner().invoke(main, args, input=BODY)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot send to ")
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- header names are ASCII ----------------------------------------------------------------------


def test_a_kelvin_sign_header_name_does_not_match_webhook_signature() -> None:
    """``webhoo\\u212a-signature`` is not ``webhook-signature``: the signature is missing."""
    headers = StandardWebhooksScheme().signer(SECRET).sign(BODY, msg_id="m1", timestamp=NOW)
    forged = {
        ("webhoo\u212a-signature" if k == "webhook-signature" else k): v for k, v in headers.items()
    }
    verifier = StandardWebhooksScheme().verifier(SECRET, clock=lambda: float(NOW))
    for shape in (forged, list(forged.items())):
        with pytest.raises(MissingHeaderError):
            verifier.verify(BODY, shape)
    assert verifier.verify(BODY, {k.upper(): v for k, v in headers.items()}).delivery_id == "m1"


@given(st.text(min_size=1, max_size=30).filter(lambda name: not name.isascii()))
def test_no_non_ascii_header_name_ever_matches(name: str) -> None:
    """A non-ASCII header name is never read as any scheme header, whatever it lowercases to."""
    from shipsync.carriers import CarrierRequest
    from shipsync.webhooks._headers import read_headers

    with pytest.raises(MissingHeaderError):
        read_headers([(name, "v")], (name.lower(),))
    assert CarrierRequest("GET", "/x", headers=((name, "v"),)).header(name.lower()) is None


# -- CompletionFailedError ----------------------------------------------------------------------


def test_completion_failed_says_retry_the_completion_from_a_store_and_reconcile_from_a_guard(
    tmp_path: Path,
) -> None:
    """A store outage during complete is retryable (same token); the guard's is not."""
    from shipsync.idempotency import Acquired, SQLiteStore, idempotent

    path = tmp_path / "idem.db"
    store = SQLiteStore(path, namespace="t", timeout=0.02)
    claimed = store.claim("k", "fp")
    assert isinstance(claimed, Acquired)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    with pytest.raises(CompletionFailedError) as raw:
        store.complete("k", claimed.token, b"r")
    assert raw.value.retryable
    blocker.execute("ROLLBACK")
    store.complete("k", claimed.token, b"r")  # retrying the completion is what it said to do

    @idempotent(store, key="job")
    def job() -> str:
        blocker.execute("BEGIN EXCLUSIVE")  # the store goes away while the work runs
        return "done"

    with pytest.raises(CompletionFailedError) as guarded:
        job()
    blocker.execute("ROLLBACK")
    blocker.close()
    store.close()
    assert not guarded.value.retryable


# -- the fake carrier's webhooks -----------------------------------------------------------------


def test_a_fake_carrier_service_signs_webhooks_a_real_time_verifier_accepts() -> None:
    """Deliveries of a running fake carrier verify on the host's real clock."""
    from shipsync.carriers import CarrierClient
    from shipsync.carriers.fake import FakeCarrierService, FakeDriver
    from shipsync.testing.fake_carrier import sample_shipment

    service = FakeCarrierService(seed=4)
    service.webhooks.configure(url="http://127.0.0.1:9/hooks", secret=SECRET)
    client = CarrierClient(
        FakeDriver(), transport=service.mock_transport(), clock=service.clock.time
    )
    client.create_shipment(sample_shipment(), idempotency_key="b1")
    service.advance(3600 * 48)
    verifier = StandardWebhooksScheme().verifier(SECRET)  # real time

    def send(url: str, headers: Any, body: bytes) -> int:
        verifier.verify(body, headers)
        return 204

    results = service.webhooks.deliver(send)
    client.close()
    assert results
    assert {status for _, status in results} == {204}


def test_refused_deliveries_come_again_on_a_bounded_backoff_schedule() -> None:
    """Looping deliver() sends nothing twice until the clock passes the next delay; after the
    last delay the delivery is kept in ``failed``."""
    from shipsync.carriers.fake import RETRY_DELAYS, FakeCarrierService
    from shipsync.testing.fake_carrier import FakeCarrier

    kit = FakeCarrier(FakeCarrierService(seed=2))
    outbox = kit.service.webhooks
    outbox.configure(url="http://127.0.0.1:9/hooks", secret=SECRET)
    kit.client().create_shipment(kit.shipment())
    posts: list[str] = []

    def refuse(url: str, headers: Any, body: bytes) -> int:
        posts.append(headers["webhook-id"])
        return 503

    queued = outbox.pending()
    for _ in range(50):
        outbox.deliver(refuse)
    assert len(posts) == queued
    for delay in RETRY_DELAYS:
        kit.advance(seconds=delay - 1)
        assert outbox.deliver(refuse) == []
        kit.advance(seconds=1)
        assert len(outbox.deliver(refuse)) == queued
    assert len(posts) == queued * (len(RETRY_DELAYS) + 1)
    assert outbox.pending() == 0
    assert len(outbox.failed) == queued
    kit.close()


# -- demo -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", ["0", "-5", "many"])
def test_demo_refuses_a_shipment_count_below_one_as_a_usage_error(count: str) -> None:
    """``demo -n 0`` / ``-n -5`` exit 2 with click's message, never a FileNotFoundError."""
    result = CliRunner().invoke(main, ["demo", "-n", count])
    assert result.exit_code == 2
    assert "Invalid value for '--shipments' / '-n'" in result.output
    assert not isinstance(result.exception, FileNotFoundError)


def test_demo_work_dir_is_kept_and_the_hint_it_prints_works(tmp_path: Path) -> None:
    """``demo --work-dir DIR`` keeps its files and ends with a dlq command that runs."""
    work = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "-n", "8", "--seed", "5", "--work-dir", str(work)])
    assert result.exit_code == 0, result.output
    assert (work / "events.db").is_file()
    assert (work / "ledger.db").is_file()
    (hint,) = [line for line in result.output.splitlines() if "shipsync dlq list" in line]
    command = shlex.split(hint.split(":", 1)[1])
    assert command[0] == "shipsync"
    listed = CliRunner().invoke(main, command[1:])
    assert listed.exit_code == 0, listed.output
    assert "dead letter(s)" in listed.output
    with sqlite3.connect(work / "ledger.db") as db:
        assert db.execute("SELECT count(*) FROM ledger").fetchone()[0] > 0


def test_demo_keep_keeps_a_temporary_work_dir_and_says_where() -> None:
    """``demo --keep`` names the kept directory; without it the closing line says how to keep."""
    result = CliRunner().invoke(main, ["demo", "-n", "4", "--seed", "1", "--keep", "--timeline"])
    assert result.exit_code == 0  # --timeline has no work dir: nothing to keep
    kept = CliRunner().invoke(main, ["demo", "-n", "4", "--seed", "1", "--keep"])
    assert kept.exit_code == 0, kept.output
    (line,) = [x for x in kept.output.splitlines() if x.startswith("work directory kept: ")]
    folder = Path(line.removeprefix("work directory kept: "))
    assert (folder / "events.db").is_file()
    import shutil

    shutil.rmtree(folder)


# -- fake-carrier serve ---------------------------------------------------------------------------


def test_serve_on_a_busy_port_fails_with_one_line_and_no_announcement() -> None:
    """A port in use ends in exit 1 and one line naming the cause; the address is not announced."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _shipsync("fake-carrier", "serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert result.stdout == ""


def test_serve_on_a_host_that_cannot_resolve_fails_with_one_line() -> None:
    """A host name that cannot be resolved (here: a label over 63 characters) is one line."""
    host = "x" * 64 + ".example"
    result = _shipsync("fake-carrier", "serve", "--host", host, "--port", "0")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot resolve host '{host}'")
    assert result.stderr.count("\n") == 1


def test_serve_announces_the_bound_address_and_answers_there() -> None:
    """With --port 0 the announced URL carries the real port, which already accepts requests."""
    import httpx

    process = subprocess.Popen(
        [SHIPSYNC, "fake-carrier", "serve", "--port", "0", "--seed", "2"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("fake carrier on http://127.0.0.1:")
        url = line.split()[3]
        assert not url.endswith(":0")
        for _ in range(100):
            try:
                answer = httpx.get(f"{url}/_control/state", timeout=2)
                break
            except httpx.TransportError:
                import time

                time.sleep(0.05)
        assert answer.json()["webhooks_failed"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


# -- dlq ------------------------------------------------------------------------------------------


def test_dlq_refuses_a_database_that_is_not_a_dead_letter_store(tmp_path: Path) -> None:
    """``--store other.sqlite`` exits 1 and leaves the file untouched; ``--create`` makes one."""
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    before = other.read_bytes()
    result = CliRunner().invoke(main, ["dlq", "list", "--store", str(other)])
    assert result.exit_code == 1
    assert "not a dead letter store" in result.output
    assert other.read_bytes() == before
    created = CliRunner().invoke(main, ["dlq", "list", "--store", str(other), "--create"])
    assert created.exit_code == 0, created.output
    assert "0 dead letter(s)" in created.output
    again = CliRunner().invoke(main, ["dlq", "list", "--store", str(other)])
    assert again.exit_code == 0


def _dead_letters(tmp_path: Path, attempts: int = 3) -> Path:
    from shipsync.flows import Dispatcher, RetryPolicy, SQLiteDeadLetters, no_backoff
    from shipsync.idempotency import SQLiteStore
    from shipsync.testing.flows import make_tracking_event

    ticks = iter(range(1_800_000_000, 1_900_000_000))
    store = tmp_path / "dlq.db"
    letters = SQLiteDeadLetters(store)
    dispatcher = Dispatcher(
        SQLiteStore(tmp_path / "idem.db"),
        letters,
        retry=RetryPolicy(attempts=attempts),
        clock=lambda: float(next(ticks)),
    )

    def broken(event: object, ctx: object) -> None:
        raise RuntimeError("down")

    dispatcher.subscribe(None, broken, name="ledger")
    with no_backoff():
        asyncio.run(dispatcher.dispatch([make_tracking_event("S1", 1)]))
    letters.close()
    return store


def test_a_dead_letter_after_three_attempts_has_distinct_first_and_last_failure(
    tmp_path: Path,
) -> None:
    """first_failed_at is when the first attempt failed, before last_failed_at (via the CLI)."""
    store = _dead_letters(tmp_path)
    result = CliRunner().invoke(main, ["dlq", "list", "--store", str(store), "--json"])
    (line,) = [x for x in result.output.splitlines() if x.startswith("{")]
    letter = json.loads(line)
    assert letter["attempts"] == 3
    assert letter["first_failed_at"] < letter["last_failed_at"]


def test_dlq_app_is_imported_from_the_current_directory(tmp_path: Path) -> None:
    """``--app hostapp:build`` loads hostapp.py from the working directory, no PYTHONPATH."""
    store = _dead_letters(tmp_path, attempts=1)
    (tmp_path / "hostapp.py").write_text(
        textwrap.dedent(
            f"""
            from shipsync.flows import Dispatcher
            from shipsync.idempotency import SQLiteStore

            def build():
                d = Dispatcher(SQLiteStore({str(tmp_path / "idem.db")!r}))
                d.subscribe(None, lambda event, ctx: None, name="ledger")
                return d
            """
        )
    )
    result = _shipsync(
        "dlq", "replay", "--all", "--store", str(store), "--app", "hostapp:build", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("succeeded 1,")


# -- reconcile ------------------------------------------------------------------------------------

_HEADER = (
    "invoice_number,invoice_date,currency,line_number,tracking_number,carrier_shipment_id,"
    "reference,base_freight,fuel,residential,address_correction,dim_weight_adjustment,other,"
    "supersedes"
)
_SHIPMENTS = (
    "shipment_id,tracking_number,carrier_shipment_id,reference,currency,status,base_freight,fuel\n"
    "S1,T1,C1,R1,USD,active,10.00,1.20\n"
)


def test_an_invoice_whose_every_row_is_bad_says_so_and_exits_1(tmp_path: Path) -> None:
    """No row reconciled: a summary line says so, the problems are listed, exit status 1."""
    (tmp_path / "s.csv").write_text(_SHIPMENTS)
    rows = ["INV-1,2026-11-20,USD,1,T1,,,abc,,,,,,", "INV-1,2026-11-20,USD,2,T1,,,1.0.0,,,,,,"]
    (tmp_path / "i.csv").write_text("\n".join([_HEADER, *rows]) + "\n")
    result = CliRunner().invoke(
        main, ["reconcile", str(tmp_path / "i.csv"), "--shipments", str(tmp_path / "s.csv")]
    )
    assert result.exit_code == 1
    assert "nothing reconciled: all 2 row(s) of the file have a problem" in result.stdout
    assert "line 2: " in result.stdout
    assert "line 3: " in result.stdout


def test_a_file_with_another_delimiter_names_the_delimiter_it_read(tmp_path: Path) -> None:
    """A colon-separated file reports the missing columns and the delimiter that split them."""
    (tmp_path / "s.csv").write_text(_SHIPMENTS)
    text = _HEADER.replace(",", ":") + "\nINV-1:2026-11-20:USD:1:T1:::10.00::::::\n"
    (tmp_path / "i.csv").write_text(text)
    result = CliRunner().invoke(
        main, ["reconcile", str(tmp_path / "i.csv"), "--shipments", str(tmp_path / "s.csv")]
    )
    assert result.exit_code == 1
    assert "lacks the required column" in result.output
    assert "read with the comma delimiter, which splits it into 1 cell(s)" in result.output


# -- recordings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], "recording"),
        ({"operation": "track"}, "responses"),
        ({"operation": "track", "responses": ["x"]}, "responses.0"),
        ({"operation": "track", "responses": [{"status": "200"}]}, "responses.0.status"),
        ({"operation": "track", "responses": [{"headers": []}]}, "responses.0.headers"),
        ({"operation": "fly", "responses": []}, "operation"),
        ({"operation": "track", "responses": [], "args": []}, "args"),
        ({"operation": "track", "responses": [], "expect": "maybe"}, "expect"),
    ],
    ids=["list", "no-responses", "response-not-object", "status-text", "headers-list",
         "unknown-operation", "args-list", "expect"],
)  # fmt: skip
def test_a_recording_of_the_wrong_shape_is_an_input_error_naming_the_field(
    data: Any, path: str
) -> None:
    """Recording.from_json raises InvalidInputError whose path names the bad field."""
    from shipsync.testing.carriers import Recording

    with pytest.raises(InvalidInputError) as info:
        Recording.from_json(data)
    assert info.value.path == path


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["operation", "responses", "args", "expect", "raw_code", "name"]), _JSON
    )
)
def test_any_json_is_a_recording_or_an_input_error(data: dict[str, Any]) -> None:
    """Whatever JSON a recording file holds, from_json returns a Recording or InvalidInputError."""
    from shipsync.testing.carriers import Recording

    with contextlib.suppress(InvalidInputError):
        Recording.from_json(data)


# -- names the docs promised ----------------------------------------------------------------------


def test_the_attributes_docs_driver_classes_declare_are_the_contract_s() -> None:
    """Class attributes of driver examples in docs/webhooks.md exist on shipsync.carriers.Driver
    (``webhook_scheme`` silently left ``signature_scheme`` None)."""
    import ast

    from _docs import ROOT, blocks

    from shipsync.carriers import Driver

    declared = []
    for block in blocks(ROOT / "docs" / "webhooks.md"):
        if block.lang != "python":
            continue
        for node in ast.walk(ast.parse(block.text)):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Driver"):
                declared += [
                    t.id
                    for a in node.body
                    if isinstance(a, ast.Assign)
                    for t in a.targets
                    if isinstance(t, ast.Name)
                ]
    assert declared
    assert [name for name in declared if not hasattr(Driver, name)] == []


def test_a_field_map_naming_a_field_odoo_lacks_is_a_configuration_error() -> None:
    """OdooFieldMap(package_tracking=<misspelled>) raises ConfigurationError on first use."""
    from shipsync.odoo import OdooFieldMap, OdooLogistics

    class Gateway:
        uid = 2
        server_version = (18, 0)
        round_trips = 0

        def call(self, model: str, method: str, args: Any = (), kwargs: Any = None) -> Any:
            assert method == "fields_get"
            known = {
                "stock.picking": {"name", "state", "company_id", "carrier_tracking_ref",
                                  "carrier_price", "sale_id"},
                "stock.quant.package": {"name", "x_tracking_ref"},
            }[model]  # fmt: skip
            return {name: {"type": "char"} for name in args[0] if name in known}

    good = OdooLogistics(Gateway(), OdooFieldMap(package_tracking="x_tracking_ref"))  # type: ignore[arg-type]
    assert good.apply_events([]).applied == ()
    bad = OdooLogistics(Gateway(), OdooFieldMap(package_tracking="x_trackin_ref"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"OdooFieldMap.package_tracking"):
        bad.apply_events([_tracking()])


def _tracking() -> Any:
    from shipsync.testing.flows import make_tracking_event

    return make_tracking_event("S1", 1).data


def test_https_against_a_plain_http_port_is_a_configuration_error_sent_once() -> None:
    """An https:// URL on Odoo's plain port is ConfigurationError at once, not a retried outage."""
    from shipsync.odoo import RpcGateway

    hits: list[str] = []

    class Plain(http.server.BaseHTTPRequestHandler):
        def handle_one_request(self) -> None:
            hits.append("x")
            super().handle_one_request()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ConfigurationError) as info:
            RpcGateway(f"https://127.0.0.1:{server.server_address[1]}", "db", "u", "p")
    finally:
        server.shutdown()
        server.server_close()
    assert "plain HTTP" in str(info.value)
    assert not info.value.retryable
    assert len(hits) == 1
