"""The project's promises about itself: the README's commands are the ones CI runs."""

from __future__ import annotations

import configparser
import importlib
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

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


def test_the_wheel_carries_every_package_file_and_entry_point(tmp_path: Path) -> None:
    """Users install the wheel, not this checkout: it must carry every file git tracks in the
    package (templates, schemas and static files as well as modules) and every entry point
    pyproject declares, or an installed ``shipsync`` breaks where the editable one works."""
    from hatchling.builders.wheel import WheelBuilder

    try:
        listed = subprocess.run(
            ["git", "ls-files", "src/shipsync"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: which files the package has is git's to say")
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points_file,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = configparser.ConfigParser(interpolation=None)
        entry_points.optionxform = str  # type: ignore[assignment,method-assign]  # keep case
        entry_points.read_string(archive.read(entry_points_file).decode())
    assert any(not path.endswith(".py") for path in listed)  # templates, data, static files
    assert {path.removeprefix("src/") for path in listed} <= names
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {"console_scripts": project["scripts"], **project["entry-points"]}
    shipped = {group: dict(entry_points[group]) for group in entry_points.sections()}
    assert shipped == declared
    for group in shipped.values():
        for target in group.values():  # each names something that imports: "module[:attr]"
            module, _, attribute = target.partition(":")
            loaded = importlib.import_module(module)
            for part in filter(None, attribute.split(".")):
                loaded = getattr(loaded, part)
