"""The built-in drivers page in docs is exactly what the drivers' metadata generates."""

from __future__ import annotations

from pathlib import Path

from shipsync.carriers import Capability, DriverEntry, drivers_markdown
from shipsync.carriers.fake import FakeDriver
from shipsync.carriers.ups import UpsDriver

PAGE = Path(__file__).parents[2] / "docs" / "carriers" / "drivers.md"


def test_the_docs_page_equals_the_generated_page() -> None:
    """docs/carriers/drivers.md cannot drift: regenerate it with drivers_markdown()."""
    assert PAGE.read_text(encoding="utf-8") == drivers_markdown()


def test_the_page_lists_each_driver_and_its_capabilities() -> None:
    """Each built-in driver gets a matrix row with yes for exactly its declared capabilities."""
    page = drivers_markdown(
        [
            DriverEntry("fake", FakeDriver, "shipsync", None),
            DriverEntry("ups", UpsDriver, "x", None),
        ]
    )
    row = next(line for line in page.splitlines() if line.startswith("| `ups`"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    expected = ["yes" if c in UpsDriver.info.capabilities else "-" for c in Capability]
    assert cells == expected
    assert "## `fake`: Fake Carrier" in page
    assert "`ups-track-alert`" in page


def test_the_command_prints_the_page_the_docs_hold() -> None:
    """`shipsync carriers list --markdown` prints docs/carriers/drivers.md byte for byte."""
    from click.testing import CliRunner

    from shipsync.cli import main

    result = CliRunner().invoke(main, ["carriers", "list", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == PAGE.read_text(encoding="utf-8")


def test_the_page_lists_every_built_in_driver_folder() -> None:
    """Each driver folder under shipsync/carriers/ has a row and a section on the docs page, so
    a driver whose entry point is forgotten cannot silently drop off the generated page."""
    import shipsync.carriers

    root = Path(shipsync.carriers.__file__).parent
    folders = sorted(p.parent.name for p in root.glob("*/_driver.py"))
    assert folders == ["dhl_express", "fake", "shipengine", "ups"]
    page = PAGE.read_text(encoding="utf-8")
    rows = sorted(line.split("`")[1] for line in page.splitlines() if line.startswith("| `"))
    assert rows == folders
    for name in folders:
        assert f"\n## `{name}`: " in page
