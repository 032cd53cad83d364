"""``shipsync dlq``: list, show, replay and purge through click's CliRunner."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.flows import Dispatcher, RetryPolicy, SQLiteDeadLetters, no_backoff
from shipsync.idempotency import SQLiteStore
from shipsync.testing.flows import make_tracking_event

APP = """
import os
from pathlib import Path

from shipsync.flows import Dispatcher, RetryPolicy
from shipsync.idempotency import SQLiteStore

OUT = Path(os.environ["FLOWS_CLI_OUT"])


def build():
    d = Dispatcher(SQLiteStore(os.environ["FLOWS_CLI_IDEM"]), retry=RetryPolicy(attempts=1))

    def ledger(event, ctx):
        if os.environ.get("FLOWS_CLI_BROKEN"):
            raise RuntimeError("ledger still down")
        with OUT.open("a") as f:
            f.write(event.id + "\\n")

    d.subscribe(None, ledger, name="ledger")
    return d
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str], Path]:
    """Two dead letters of handler 'ledger' in a SQLite store, and an app module to replay them."""
    (tmp_path / "flows_cli_app.py").write_text(textwrap.dedent(APP))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "flows_cli_app", raising=False)  # this test's module
    out = tmp_path / "ledger.txt"
    monkeypatch.setenv("FLOWS_CLI_OUT", str(out))
    monkeypatch.setenv("FLOWS_CLI_IDEM", str(tmp_path / "idem.db"))
    store = str(tmp_path / "dlq.db")
    letters = SQLiteDeadLetters(store)
    d = Dispatcher(SQLiteStore(tmp_path / "idem.db"), letters, retry=RetryPolicy(attempts=2))

    def broken(event: object, ctx: object) -> None:
        raise RuntimeError("ledger down")

    d.subscribe(None, broken, name="ledger")
    events = [make_tracking_event("S1", 1), make_tracking_event("S2", 1)]
    with no_backoff():
        asyncio.run(d.dispatch(events))
    letters.close()
    return store, [e.id for e in events], out


def test_list_shows_open_letters(setup: tuple[str, list[str], Path]) -> None:
    """`dlq list` prints one line per open letter; --json prints their summaries."""
    store, ids, _ = setup
    result = CliRunner().invoke(main, ["dlq", "list", "--store", store])
    assert result.exit_code == 0, result.output
    assert result.output.count("\tledger\t") == 2
    result = CliRunner().invoke(
        main, ["dlq", "list", "--store", store, "--json", "--partition", "S2"]
    )
    (line,) = [x for x in result.output.splitlines() if x.startswith("{")]
    assert json.loads(line)["event_id"] == ids[1]


def test_show_prints_the_event(setup: tuple[str, list[str], Path]) -> None:
    """`dlq show ID` prints the letter and its event as JSON; an unknown id fails cleanly."""
    store, ids, _ = setup
    result = CliRunner().invoke(main, ["dlq", "show", "1", "--store", store])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["event"]["id"] == ids[0]
    assert shown["error"] == "ledger down"
    assert shown["attempts"] == 2
    result = CliRunner().invoke(main, ["dlq", "show", "99", "--store", store])
    assert result.exit_code == 1
    assert "DeadLetterNotFoundError" in result.output


def test_replay_by_id_then_all_applies_each_once(
    setup: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dlq replay` runs the app's handler once per letter; replaying again does nothing."""
    store, ids, out = setup
    app = "flows_cli_app:build"
    monkeypatch.setenv("FLOWS_CLI_BROKEN", "1")
    result = CliRunner().invoke(main, ["dlq", "replay", "1", "--store", store, "--app", app])
    assert result.exit_code == 1
    assert "failed 1" in result.output
    monkeypatch.delenv("FLOWS_CLI_BROKEN")
    result = CliRunner().invoke(main, ["dlq", "replay", "1", "--store", store, "--app", app])
    assert result.exit_code == 0, result.output
    assert "succeeded 1" in result.output
    result = CliRunner().invoke(main, ["dlq", "replay", "--all", "--store", store, "--app", app])
    assert "succeeded 1" in result.output
    assert out.read_text().split() == ids
    result = CliRunner().invoke(main, ["dlq", "replay", "--all", "--store", store, "--app", app])
    assert "succeeded 0" in result.output
    assert out.read_text().split() == ids
    result = CliRunner().invoke(main, ["dlq", "list", "--store", store, "--state", "resolved"])
    assert result.output.count("resolved") == 2


def test_replay_and_purge_need_a_selection(setup: tuple[str, list[str], Path]) -> None:
    """Without ids, a filter or --all, replay and purge refuse to act."""
    store, _, _ = setup
    for command in (["replay", "--app", "x:y"], ["purge", "--yes"]):
        result = CliRunner().invoke(main, ["dlq", *command, "--store", store])
        assert result.exit_code == 2


def test_replay_rejects_an_app_that_is_not_a_dispatcher(
    setup: tuple[str, list[str], Path],
) -> None:
    """--app must name a Dispatcher."""
    store, _, _ = setup
    result = CliRunner().invoke(
        main, ["dlq", "replay", "--all", "--store", store, "--app", "json:dumps"]
    )
    assert result.exit_code == 2


def test_purge_deletes_by_filter_after_confirmation(setup: tuple[str, list[str], Path]) -> None:
    """`dlq purge` asks first, then deletes the matching letters."""
    store, _, _ = setup
    result = CliRunner().invoke(
        main, ["dlq", "purge", "--partition", "S1", "--store", store], input="n\n"
    )
    assert result.exit_code == 1
    result = CliRunner().invoke(
        main, ["dlq", "purge", "--partition", "S1", "--store", store, "--yes"]
    )
    assert "purged 1" in result.output
    result = CliRunner().invoke(
        main, ["dlq", "purge", "--all", "--store", f"sqlite:///{store}", "--yes"]
    )
    assert "purged 1" in result.output


def test_replay_by_filter_takes_only_the_matching_letters(
    setup: tuple[str, list[str], Path],
) -> None:
    """`dlq replay --partition S2` replays that shipment's letter and leaves the other open."""
    store, ids, out = setup
    app = "flows_cli_app:build"
    args = ["replay", "--partition", "S2", "--store", store, "--app", app]
    result = CliRunner().invoke(main, ["dlq", *args])
    assert result.exit_code == 0, result.output
    assert "succeeded 1" in result.output
    assert out.read_text().split() == [ids[1]]
    result = CliRunner().invoke(main, ["dlq", "list", "--store", store, "--json"])
    (line,) = [x for x in result.output.splitlines() if x.startswith("{")]
    assert json.loads(line)["partition"] == "S1"
