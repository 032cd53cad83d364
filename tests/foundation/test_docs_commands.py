"""Every ``shipsync`` command README.md and docs/ show runs through the installed executable.

Commands are collected from the shell blocks (``$`` prompts, ``\\`` continuations and pipelines
understood) and from inline code in the prose. Each one is checked in two ways:

- its command path exists and every ``--option`` it shows is accepted by that command (the
  option appears in ``shipsync <path> --help``), synopses like ``[--json]`` included;
- a command with nothing left to fill in (no ``DIR``, ``[...]`` or ``…``) is run in a scratch
  directory holding sample invoice and shipments files, and must exit 0. In a ``console`` block
  the lines after a ``$`` command are its expected output, compared exactly.

``NOT_RUN`` lists the few concrete commands that are only checked, each with the reason and the
test that runs the behaviour instead.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from _docs import PAGES, ROOT, prose, shell_blocks

SHIPSYNC = str(Path(sys.executable).with_name("shipsync"))

NOT_RUN = {
    "shipsync demo --keep": "the run of `shipsync demo` again; test_promises.py runs --keep "
    "and --work-dir on a small demo",
    "shipsync fake-carrier serve": "serves until interrupted; test_carriers_cli.py and "
    "test_promises.py run it on a free port",
    "shipsync dlq show 42": "letter 42 is the reader's; test_flows_cli.py shows letters",
    "shipsync dlq replay 42 43": "needs the reader's dispatcher module; test_flows_cli.py replays",
    "shipsync dlq purge --state resolved --all --yes": "purges the reader's store; "
    "test_flows_cli.py purges",
    "shipsync webhook send http://127.0.0.1:8000/hooks": "posts to the reader's receiver; "
    "test_promises.py sends to a local one",
}


class Command(NamedTuple):
    """One shown command: its text, where it is, and its expected output (console blocks)."""

    text: str
    where: str
    expected: str | None
    console: bool


def _segments(line: str) -> list[str]:
    """The parts of a shell line that run shipsync (a pipeline's or an && chain's members)."""
    out = []
    for part in re.split(r"\s+(?:\|\||&&|\||;)\s+|;\s+", line):
        words = part.strip().split(maxsplit=1)
        if words and (words[0] == "shipsync" or words[0].endswith("/shipsync")):
            out.append(" ".join(["shipsync", *words[1:]]))
    return out


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line)


def commands() -> list[Command]:
    """Every shipsync invocation the pages show."""
    found: list[Command] = []
    for block in shell_blocks():
        lines = block.text.splitlines()
        console = block.lang == "console"
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            if console and not line.startswith("$ "):
                continue
            text = line.removeprefix("$ ")
            while text.endswith("\\") and index < len(lines):
                text = text[:-1] + " " + lines[index].strip()
                index += 1
            output: list[str] = []
            if console:
                while index < len(lines) and not lines[index].startswith("$ "):
                    output.append(lines[index])
                    index += 1
            where = f"{block.where}"
            for segment in _segments(_strip_comment(text)):
                pipeline = text if console else segment
                found.append(
                    Command(
                        segment,
                        where,
                        "\n".join(output) + "\n" if console else None,
                        console and pipeline != segment,
                    )
                )
    for page in PAGES:
        for match in re.finditer(r"`(shipsync [^`]+)`", prose(page)):
            found.append(Command(match.group(1), f"{page.relative_to(ROOT)}", None, False))
    return found


def _words(text: str) -> list[str]:
    return shlex.split(text.replace("[", " ").replace("]", " ").replace("|", " "))


@cache
def _help(path: tuple[str, ...]) -> tuple[int, str]:
    result = subprocess.run(
        [SHIPSYNC, *path, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return result.returncode, result.stdout


def _command_path(words: list[str]) -> tuple[str, ...]:
    """The longest prefix of subcommand names whose --help lists the next one."""
    path: list[str] = []
    for word in words[1:]:
        if word.startswith("-"):
            break
        _, text = _help(tuple(path))
        listed = re.search(rf"^\s+{re.escape(word)}\s", text.split("Commands:")[-1], re.M)
        if "Commands:" not in text or listed is None:
            break
        path.append(word)
    return tuple(path)


_COMMANDS = commands()


def test_the_pages_show_the_commands_we_expect() -> None:
    """The collector finds commands in shell blocks and prose (a broken collector fails here)."""
    texts = {c.text.split()[1] for c in _COMMANDS if len(c.text.split()) > 1}
    assert {"demo", "schema", "webhook", "dlq", "reconcile", "fake-carrier", "carriers"} <= texts


@pytest.mark.parametrize("command", _COMMANDS, ids=[f"{c.where}:{c.text[:60]}" for c in _COMMANDS])
def test_every_shown_command_and_option_exists(command: Command) -> None:
    """The command path resolves and ``--help`` of that command lists every option shown."""
    words = _words(command.text)
    path = _command_path(words)
    code, text = _help(path)
    assert code == 0
    assert "(unavailable" not in text
    rest = [w for w in words[1 + len(path) :] if w.startswith("-")]
    options = {w.split("=")[0] for w in rest}
    missing = [
        o for o in sorted(options) if not re.search(rf"(^|[\s,/]){re.escape(o)}\b", text, re.M)
    ]
    assert missing == [], f"{command.where}: {command.text}"
    assert path or words[1:2] in (["--version"], ["--help"]), f"no such command: {command.text}"


def _placeholder(text: str) -> bool:
    return bool(re.search(r"\[|\.\.\.|…|\b[A-Z]{1,5}\b(?![\w-])|<\w+>", text))


def _runnable() -> list[Command]:
    seen: dict[str, Command] = {}
    for command in _COMMANDS:
        if _placeholder(command.text) or any(command.text.startswith(k) for k in NOT_RUN):
            continue
        seen.setdefault(command.text, command)
    return list(seen.values())


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with the sample files the settlement page's command reads."""
    from shipsync.testing.settlement import write_sample_files

    folder = tmp_path_factory.mktemp("docs-commands")
    write_sample_files(folder, shipments=300, lines=300, seed=1)
    return folder


@pytest.mark.parametrize("command", _runnable(), ids=[c.text[:70] for c in _runnable()])
def test_every_concrete_command_runs_through_the_executable(
    command: Command, scratch: Path
) -> None:
    """The command exits 0 when run by the installed ``shipsync``; console output matches."""
    env = {**os.environ, "SHIPSYNC_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    for name in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"):
        env.pop(name, None)
    env["PATH"] = f"{Path(SHIPSYNC).parent}{os.pathsep}{env['PATH']}"
    line = command.text
    if command.console:  # a pipeline such as echo ... | shipsync webhook sign ...
        line = _pipeline_of(command)
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {line}"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{command.where}: {line}\n{result.stdout}\n{result.stderr}"
    if command.expected is not None:
        assert result.stdout == command.expected, command.where


def _pipeline_of(command: Command) -> str:
    for block in shell_blocks():
        if block.where == command.where:
            for line in block.text.splitlines():
                if line.startswith("$ ") and command.text in line:
                    return line.removeprefix("$ ")
    raise AssertionError(f"{command.where}: cannot find the pipeline of {command.text}")


def test_not_run_commands_are_still_shown() -> None:
    """Every NOT_RUN entry matches a command the docs show, so the list cannot rot."""
    shown = [c.text for c in _COMMANDS]
    assert all(any(text.startswith(key) for text in shown) for key in NOT_RUN)
