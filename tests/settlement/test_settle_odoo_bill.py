"""A settled invoice becomes a draft Odoo vendor bill, once: recorded against a real Odoo 18.

Replay (default): the cassette in ``tests/settlement/cassettes/`` answers, no server needed.
Re-record: set ``ODOO_URL``, ``ODOO_DB``, ``ODOO_USER`` and ``ODOO_PASSWORD``. Credentials in
request bodies are replaced by placeholders and cookies are dropped before anything is written.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import vcr
from _settle_helpers import clock, index_of, invoice_csv, line, write

from shipsync.canonical import ChargeType, Money
from shipsync.odoo import OdooLogistics, RetryPolicy, RpcGateway
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    DisputePolicy,
    OdooVendorBillSink,
    Reconciler,
    SettlementLedger,
    build_vendor_bill,
    read_invoice_rows,
)

CASSETTES = Path(__file__).parent / "cassettes"
TAG_FILE = CASSETTES / "settlement_run_tag.txt"
LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))
REPLAY_URL = "http://127.0.0.1:8069"
B = ChargeType.BASE_FREIGHT


def _normalised(body: bytes | str | None) -> Any:
    if not body:
        return None
    data = json.loads(body.decode() if isinstance(body, bytes) else body)
    data.pop("id", None)
    params = data.get("params") or {}
    args = params.get("args")
    if params.get("service") in {"common", "object"} and isinstance(args, list) and args:
        args[0] = "<db>"
        if len(args) > 2:
            args[2] = "<secret>"
        if params.get("method") in {"login", "authenticate"} and len(args) > 1:
            args[1] = "<login>"
    for key in ("password", "login", "db"):
        if key in params:
            params[key] = f"<{key}>"
    return data


def _scrub_request(request: Any) -> Any:
    if request.body:
        request.body = json.dumps(_normalised(request.body), sort_keys=True).encode()
    for header in ("Cookie", "Authorization"):
        request.headers.pop(header, None)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for header in list(headers):
        if header.lower() in {"set-cookie", "date", "server"}:
            headers.pop(header)
    return response


def _same_body(r1: Any, r2: Any) -> None:
    assert _normalised(r1.body) == _normalised(r2.body), "JSON-RPC bodies differ"


def _recorder() -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if LIVE else "none",
        match_on=["method", "path", "json_body"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_body", _same_body)
    return recorder


def _tag() -> str:
    if LIVE:
        tag = time.strftime("%m%d%H%M%S")
        CASSETTES.mkdir(exist_ok=True)
        TAG_FILE.write_text(tag + "\n", encoding="utf-8")
        return tag
    if not TAG_FILE.exists():
        pytest.skip("no recorded cassette")
    return TAG_FILE.read_text(encoding="utf-8").strip()


def _gateway() -> RpcGateway:
    retry = RetryPolicy(attempts=3, initial=0, jitter=0)
    if LIVE:
        return RpcGateway(
            os.environ["ODOO_URL"],
            os.environ["ODOO_DB"],
            os.environ["ODOO_USER"],
            os.environ["ODOO_PASSWORD"],
            retry=retry,
        )
    return RpcGateway(REPLAY_URL, "odoo-db", "odoo-user", "odoo-password", retry=retry)


def test_a_settled_invoice_becomes_one_draft_odoo_bill(tmp_path: Path) -> None:
    """Matched lines are billed, disputed ones flagged; posting again finds the same bill."""
    tag = _tag()
    with _recorder().use_cassette("test_a_settled_invoice_becomes_one_draft_odoo_bill.yaml"):
        gateway = _gateway()
        logistics = OdooLogistics(gateway)
        [company] = gateway.call(
            "res.company", "search_read", [[]], {"fields": ["currency_id"], "limit": 1}
        )
        currency = str(company["currency_id"][1])
        vendor = int(gateway.call("res.partner", "create", [{"name": f"Fake Carrier {tag}"}]))
        number = f"FK-{tag}"
        text = invoice_csv(
            line(1, "T1", "10.00", invoice=number, currency=currency),
            line(2, "T2", "23.00", invoice=number, currency=currency),
            line(3, "T9", "4.00", invoice=number, currency=currency),
        )
        rows = read_invoice_rows(write(tmp_path, text), FAKE_CARRIER_COLUMNS)
        index = index_of(("S1", "T1", {B: "10.00"}), ("S2", "T2", {B: "20.00"}))
        if currency != "USD":  # the index helper quotes in USD
            pytest.skip("the recording database's company currency is not USD")
        sink = OdooVendorBillSink(logistics, vendor_id=vendor)
        with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
            reconciler = Reconciler(
                index,
                carrier="fake",
                ledger=ledger,
                bills=sink,
                dispute_policy=DisputePolicy.FLAG,
                now=clock,
            )
            (summary,) = reconciler.run(rows).invoices
        assert summary.bill_reference is not None
        assert summary.bill_reference.startswith("odoo:account.move:")
        bill = logistics.read_vendor_bill(number, vendor_id=vendor)
        assert bill is not None
        assert bill.state == "draft"
        assert bill.total == Money.of("37.00", currency)
        assert sorted(line.amount for line in bill.lines) == [
            Money.of("4.00", currency),
            Money.of("10.00", currency),
            Money.of("23.00", currency),
        ]
        assert any("(disputed)" in line.label for line in bill.lines)
        rebuilt = build_vendor_bill(summary, DisputePolicy.FLAG, invoice_date=date(2026, 11, 20))
        again = sink.post(rebuilt, idempotency_key=f"fake:{number}")
        assert again == summary.bill_reference
