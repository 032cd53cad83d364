"""``shipsync dlq`` and dead letter filters given bad input: clear messages, right exit codes.

Exit codes follow click: 2 for a usage error (missing or malformed option or argument), 1 for a
failure while acting (no such store or letter, a replay that failed or skipped letters).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipsync.cli import main
from shipsync.errors import InvalidInputError
from shipsync.flows import DeadLetterFilter, NewDeadLetter, SQLiteDeadLetters

# Texts people may type, surrogates (undecodable argv bytes) and NUL included.
ANY_TEXT = st.text(
    st.characters(exclude_categories=()) | st.sampled_from(["\x00", "\udcff"]), max_size=12
)
TRICKY = ["ledger", "led%", "_edger", "a'b", 'a"b', "x; DROP TABLE t; --", "é", "S1"]


def letter(n: int, handler: str, partition: str) -> NewDeadLetter:
    return NewDeadLetter(
        event_id=f"e{n}",
        event_type="shipment.in_transit",
        partition=partition,
        handler=handler,
        body=b"{}",
        error_type="RuntimeError",
        error="down",
        attempts=1,
        failed_at=time.time(),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with letters whose handler and partition are the tricky texts."""
    path = tmp_path_factory.mktemp("dlq") / "dlq.db"
    letters = SQLiteDeadLetters(path)
    for n, text in enumerate(TRICKY):
        letters.record(letter(n, text, TRICKY[-1 - n]))
    letters.close()
    return str(path)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["dlq", *args], input=input)


def assert_clean(result: Result, code: int, *words: str) -> None:
    """The command exited with ``code`` through click, without a traceback, saying ``words``."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for word in words:
        assert word in result.output


@given(handler=st.none() | st.sampled_from(TRICKY) | ANY_TEXT, partition=st.none() | ANY_TEXT)
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_filter_text_matches_exactly_or_is_refused(
    store: str, handler: str | None, partition: str | None
) -> None:
    """A filter matches letters by equality only (no wildcards, no injection); text that no
    database can hold (lone surrogates, NUL) is an InvalidInputError naming the field."""
    refused = [
        name
        for name, text in (("handler", handler), ("partition", partition))
        if text is not None and ("\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text))
    ]
    if refused:
        with pytest.raises(InvalidInputError) as caught:
            DeadLetterFilter(handler=handler, partition=partition)
        assert caught.value.path == refused[0]
        return
    where = DeadLetterFilter(handler=handler, partition=partition)
    letters = SQLiteDeadLetters(store)
    try:
        everything = letters.list(DeadLetterFilter())
        expected = [
            x.id
            for x in everything
            if handler in (None, x.handler) and partition in (None, x.partition)
        ]
        assert [x.id for x in letters.list(where)] == expected
    finally:
        letters.close()


@given(ids=st.lists(st.integers(), max_size=4))
def test_filter_ids_are_64_bit_integers(ids: list[int]) -> None:
    """Ids beyond 64 bits are refused at the filter, not deep in a database driver."""
    if all(-(2**63) <= i < 2**63 for i in ids):
        assert DeadLetterFilter(ids=ids).ids == ids
    else:
        with pytest.raises(InvalidInputError):
            DeadLetterFilter(ids=ids)


@given(partition=ANY_TEXT)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_cli_answers_any_filter_text_cleanly(store: str, partition: str) -> None:
    """`dlq list --partition TEXT` lists (exit 0) or refuses with a message (exit 1)."""
    result = run("list", "--store", store, "--partition", partition)
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 1:
        assert "InvalidInputError" in result.output


def test_missing_options_are_usage_errors(store: str) -> None:
    """No --store or no --app: exit 2 naming the option."""
    assert_clean(run("list"), 2, "--store")
    assert_clean(run("replay", "--all", "--store", store), 2, "--app")


@pytest.mark.parametrize(
    ("argument", "code"),
    [("0", 2), ("-1", 2), (str(2**70), 2), ("abc", 2), ("4242", 1)],
    ids=["zero", "negative", "beyond-64-bits", "not-a-number", "unknown"],
)
def test_show_checks_the_letter_id(store: str, argument: str, code: int) -> None:
    """An id that cannot be a letter is a usage error; an unknown one is not found."""
    result = run("show", argument, "--store", store)
    assert_clean(result, code)
    if code == 1:
        assert "DeadLetterNotFoundError" in result.output


def test_a_missing_store_file_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    """A mistyped SQLite path fails with exit 1 and creates nothing."""
    path = tmp_path / "typo.db"
    for args in (["list"], ["show", "1"], ["purge", "--all", "--yes"]):
        assert_clean(run(*args, "--store", str(path)), 1, "no dead letter store")
    assert_clean(run("list", "--store", f"sqlite:///{path}"), 1, "no dead letter store")
    assert not path.exists()


def test_list_limit_must_be_positive(store: str) -> None:
    """--limit 0 or below is a usage error (PostgreSQL would fail on a negative LIMIT)."""
    assert_clean(run("list", "--store", store, "--limit", "0"), 2, "--limit")


def test_an_unreachable_postgres_store_fails_cleanly_without_its_password() -> None:
    """A DSN that cannot connect is exit 1 with a typed error that does not echo the password."""
    result = run("list", "--store", "postgresql://u:s3cr3t-pw@127.0.0.1:1/none")
    assert_clean(result, 1, "EventLogUnavailableError")
    assert "s3cr3t-pw" not in result.output


APP = """
from shipsync.flows import Dispatcher
from shipsync.idempotency import MemoryStore

def broken_factory():
    raise ValueError("no config")

def empty():
    return Dispatcher(MemoryStore())
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module `flows_cli_errors_app` with a failing factory, a bare dispatcher and a bad one."""
    (tmp_path / "flows_cli_errors_app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "flows_cli_errors_bad.py").write_text("raise RuntimeError('import failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "flows_cli_errors_app"


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no_colon", "module:attribute"),
        ("flows_cli_errors_missing:x", "cannot load"),
        ("flows_cli_errors_bad:x", "RuntimeError"),
        ("flows_cli_errors_app:nothing", "cannot load"),
        ("flows_cli_errors_app:broken_factory", "ValueError"),
    ],
    ids=["no-colon", "no-module", "import-fails", "no-attribute", "factory-fails"],
)
def test_a_bad_app_is_a_usage_error(store: str, app: str, target: str, words: str) -> None:
    """Whatever goes wrong loading --app is exit 2 with what went wrong, never a traceback."""
    assert_clean(run("replay", "--all", "--store", store, "--app", target), 2, "--app", words)


def test_replay_of_ids_that_are_not_open_fails(tmp_path: Path, app: str) -> None:
    """Replaying an id with no open letter says so and exits 1."""
    path = tmp_path / "dlq.db"
    SQLiteDeadLetters(path).close()
    result = run("replay", "7", "--store", str(path), "--app", f"{app}:empty")
    assert_clean(result, 1, "no open dead letter has id 7")


def test_replay_of_letters_without_a_handler_exits_non_zero(tmp_path: Path, app: str) -> None:
    """Letters whose handler the app does not subscribe are skipped, kept, and exit 1."""
    path = tmp_path / "dlq.db"
    letters = SQLiteDeadLetters(path)
    letters.record(letter(1, "gone", "S1"))
    letters.close()
    result = run("replay", "--all", "--store", str(path), "--app", f"{app}:empty")
    assert_clean(result, 1, "skipped 1")
    assert_clean(run("list", "--store", str(path)), 0, "\tgone\t")
