"""``shipsync notify`` and ``shipsync endpoints`` through the top-level group, and the demo."""

from __future__ import annotations

import json
from pathlib import Path

from _notify_helpers import LocalEndpoint, created, milestone
from click.testing import CliRunner

import shipsync.cli
from shipsync.canonical import Milestone
from shipsync.cli._notify_demo import run_notify_demo
from shipsync.notify import EndpointStore


def _events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    events = [created("S1"), milestone("S1", Milestone.OUT_FOR_DELIVERY, 5)]
    path.write_bytes(b"".join(e.to_json() + b"\n" for e in events))
    return path


def test_preview_renders_each_channel_without_sending(tmp_path: Path) -> None:
    """preview prints the webhook payload and the e-mail in the asked locale."""
    result = CliRunner().invoke(
        shipsync.cli.main,
        ["notify", "preview", "S1", "--events", str(_events_file(tmp_path)), "--locale", "de"],
    )
    assert result.exit_code == 0, result.output
    assert '"status": "out_for_delivery"' in result.output
    assert "Subject: Bestellung SO042: In Zustellung" in result.output


def test_preview_as_json_and_of_an_unknown_shipment(tmp_path: Path) -> None:
    """--format json prints one object per channel; an unknown shipment is an error."""
    events = str(_events_file(tmp_path))
    result = CliRunner().invoke(
        shipsync.cli.main, ["notify", "preview", "S1", "--events", events, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {row["channel"] for row in rows} == {"webhook", "email"}
    missing = CliRunner().invoke(
        shipsync.cli.main, ["notify", "preview", "NOPE", "--events", events]
    )
    assert missing.exit_code == 1
    assert "nothing to tell" in missing.output


def test_preview_names_the_bad_line_of_an_events_file(tmp_path: Path) -> None:
    """A line that is not an event is reported with its line number, not a traceback."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "nope"}\n')
    result = CliRunner().invoke(
        shipsync.cli.main, ["notify", "preview", "S1", "--events", str(path)]
    )
    assert result.exit_code == 1
    assert "bad.jsonl:1" in result.output


def test_endpoints_add_list_disable_enable(tmp_path: Path) -> None:
    """An endpoint added by the CLI is listed, disabled and enabled again."""
    db = str(tmp_path / "ep.db")
    runner = CliRunner()
    added = runner.invoke(
        shipsync.cli.main,
        [
            "endpoints",
            "--db",
            db,
            "add",
            "https://hooks.example.com/x",
            "--id",
            "shop",
            "--event-type",
            "shipment.customer_status",
            "--rate",
            "5",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "whsec_" in added.output
    listed = runner.invoke(shipsync.cli.main, ["endpoints", "--db", db, "list", "--json"])
    (row,) = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert row["id"] == "shop"
    assert row["rate_limit"] == 5.0
    assert "secret" not in json.dumps(row).replace('"secrets"', "")
    runner.invoke(shipsync.cli.main, ["endpoints", "--db", db, "disable", "shop"])
    assert EndpointStore(db).get("shop").disabled
    runner.invoke(shipsync.cli.main, ["endpoints", "--db", db, "enable", "shop"])
    assert not EndpointStore(db).get("shop").disabled
    bad = runner.invoke(shipsync.cli.main, ["endpoints", "--db", db, "disable", "nope"])
    assert bad.exit_code == 1
    assert "no endpoint" in bad.output


def test_endpoints_attempts_and_replay_send_failed_deliveries(tmp_path: Path) -> None:
    """A failed delivery shows in attempts; replay --send delivers it to the real endpoint."""
    db = tmp_path / "ep.db"
    store = EndpointStore(db)
    with LocalEndpoint() as endpoint:
        store.add(endpoint.url, id="local", allow_private=True)
        store.accept("m1", "t", b"{}")
        store.db.tx(lambda c: c.execute("UPDATE wh_deliveries SET state = 'failed', attempts = 8"))
        store.db.tx(
            lambda c: c.execute(
                "INSERT INTO wh_attempts (message_id, endpoint_id, at, status, latency_ms, ok, "
                "error, response, trigger) VALUES ('m1', 'local', 0, 503, 1.0, 0, 'HTTP 503', "
                "'', 'scheduled')"
            )
        )
        runner = CliRunner()
        shown = runner.invoke(
            shipsync.cli.main, ["endpoints", "--db", str(db), "attempts", "local"]
        )
        assert "HTTP 503" in shown.output
        replayed = runner.invoke(
            shipsync.cli.main,
            [
                "endpoints",
                "--db",
                str(db),
                "replay",
                "--endpoint",
                "local",
                "--send",
                "--since",
                "1970-01-01T00:00:00Z",
            ],
        )
        assert replayed.exit_code == 0, replayed.output
        assert "1 deliveries queued" in replayed.output
        assert endpoint.delivered == ["m1"]
        bad = runner.invoke(
            shipsync.cli.main, ["endpoints", "--db", str(db), "replay", "--since", "yesterday"]
        )
        assert bad.exit_code == 2


def test_endpoints_without_a_store_says_so(tmp_path: Path) -> None:
    """Listing a store that does not exist is an error naming the path, not a new file."""
    db = tmp_path / "missing.db"
    result = CliRunner().invoke(shipsync.cli.main, ["endpoints", "--db", str(db), "list"])
    assert result.exit_code == 1
    assert "no endpoint store" in result.output
    assert not db.exists()


def test_the_notification_demo_delivers_everything_once_after_the_outage(tmp_path: Path) -> None:
    """The demo's checks hold: every notification arrived exactly once, none missing."""
    lines: list[str] = []
    status = run_notify_demo(shipments=6, seed=3, echo=lines.append, workdir=tmp_path)
    assert status == 0, lines
    assert any("during the outage" in line and "dead-lettered" in line for line in lines)
    assert lines[-1] == "every notification arrived exactly once after the outage"


def test_the_demo_takes_the_callers_events(tmp_path: Path) -> None:
    """Given events of its own (a return and a delivery), the demo's checks still hold."""
    events = [created("D1"), created("D2", email="d2@example.com")]
    events += [milestone("D1", Milestone.IN_TRANSIT, 1), milestone("D2", Milestone.PICKED_UP, 1)]
    events += [milestone("D1", Milestone.DELIVERED, 9), milestone("D2", Milestone.RETURNED, 9)]
    lines: list[str] = []
    assert run_notify_demo(events=events, echo=lines.append, workdir=tmp_path) == 0, lines
    assert lines[-1] == "every notification arrived exactly once after the outage"


def test_preview_reads_the_notifiers_state_file(tmp_path: Path) -> None:
    """--state previews from what a running notifier recorded, and changes nothing in it."""
    from shipsync.notify import NotifyState

    state = NotifyState(tmp_path / "notify.db")
    for event in (created("S7"), milestone("S7", Milestone.DELIVERED, 3)):
        state.record(event)
    state.close()
    result = CliRunner().invoke(
        shipsync.cli.main,
        ["notify", "preview", "S7", "--state", str(tmp_path / "notify.db"), "--format", "html"],
    )
    assert result.exit_code == 0, result.output
    assert "<strong>Delivered</strong>" in result.output
    assert NotifyState(tmp_path / "notify.db").due(1e12) == []
