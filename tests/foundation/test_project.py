"""The project's promises about itself: the README's commands are the ones CI runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import shipsync

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick_start)


def test_quick_start_has_exactly_two_commands() -> None:
    """The quick start is one command for the demo and one for the tests."""
    demo, tests = _readme_commands()
    assert demo.endswith("shipsync demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """.ci/run executes exactly the README's test command, so the two cannot drift apart."""
    _, tests = _readme_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci_lines


def test_ci_requires_the_services() -> None:
    """CI sets SHIPSYNC_REQUIRE_SERVICES=1 so a missing service fails instead of skipping."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "export SHIPSYNC_REQUIRE_SERVICES=1" in ci
    for command in ("pg_ctlcluster", "redis-server", "rabbitmq-server"):
        assert command in ci


def test_version_is_single_sourced() -> None:
    """The package version comes from one place and hatch reads it from there."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/shipsync/_version.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+", shipsync.__version__)


def test_package_is_typed() -> None:
    """py.typed ships so type checkers read our annotations."""
    assert (Path(shipsync.__file__).parent / "py.typed").exists()
