"""The example plugin, installed as its own distribution, is discovered and conforms.

CI installs it (``pip install -e examples/shipsync-carrier-example``) and sets
``SHIPSYNC_REQUIRE_EXAMPLE=1``, so a missing install fails there instead of skipping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from shipsync.carriers import Capability, DriverRegistry
from shipsync.cli import main
from shipsync.testing.carriers import check_driver, recordings_from_cassette


@pytest.fixture(scope="module")
def example() -> ModuleType:
    try:
        import shipsync_carrier_example
    except ImportError:
        if os.environ.get("SHIPSYNC_REQUIRE_EXAMPLE") == "1":
            pytest.fail("shipsync-carrier-example is not installed and SHIPSYNC_REQUIRE_EXAMPLE=1")
        pytest.skip("pip install -e examples/shipsync-carrier-example to run this")
    return shipsync_carrier_example


def test_registry_finds_the_example_through_its_entry_point(example: ModuleType) -> None:
    """Discovery reads the installed entry point and names the distribution."""
    registry = DriverRegistry.discover()
    entry = next(e for e in registry.entries() if e.name == "example")
    assert entry.package == "shipsync-carrier-example"
    assert entry.driver is example.ExampleDriver
    assert Capability.TRACK in entry.info.capabilities


def test_carriers_list_shows_the_example(example: ModuleType) -> None:
    """``shipsync carriers list --json`` lists the example with its package and version."""
    result = CliRunner().invoke(main, ["carriers", "list", "--json"])
    assert result.exit_code == 0
    drivers = {d["name"]: d for d in json.loads(result.output)["drivers"]}
    assert drivers["example"]["package"] == "shipsync-carrier-example"
    assert drivers["example"]["version"] == "0.1.0"


def test_conformance_kit_passes_on_the_example(example: ModuleType) -> None:
    """The kit finds no problem with the example driver on its recorded cassettes."""
    cassettes = Path(example.__file__).parents[2] / "tests" / "cassettes"
    if not cassettes.is_dir():
        pytest.skip("the example is installed without its source tree")
    routes = [
        ("POST", r"/v1/rates", "quote_rates"),
        ("POST", r"/v1/shipments", "create_shipment"),
        ("POST", r"/v1/shipments/(?P<carrier_shipment_id>[^/]+)/cancel", "cancel_shipment"),
        ("GET", r"/v1/tracking/(?P<tracking_number>[^/]+)", "track"),
    ]
    recordings = [
        r
        for cassette in sorted(cassettes.glob("*.yaml"))
        for r in recordings_from_cassette(cassette, routes)
    ]
    assert {r.operation for r in recordings} == set(example.ExampleDriver.info.capabilities)
    driver = example.ExampleDriver({"base_url": "http://example-express.invalid"})
    assert check_driver(driver, recordings) == []
