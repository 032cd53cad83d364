"""Lazy loading and deferred model building: first use in a cold interpreter stays correct."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipsync.canonical import default_catalogue, event_schemas
from shipsync.testing import strategies as sst

COLD = """
import json, sys
import shipsync.canonical as canonical
assert "shipsync.canonical._events" not in sys.modules, "import loaded the event catalogue"
from shipsync.canonical import default_catalogue, event_schemas
payload = json.loads(open(sys.argv[1]).read())
for raw in payload["events"]:
    event = default_catalogue.parse(raw)
    assert json.loads(event.to_json()) == json.loads(raw), event.type
schemas = json.loads(json.dumps(event_schemas()))
assert schemas == payload["schemas"], "schemas differ after deferred building"
print(len(payload["events"]))
"""


@settings(max_examples=1, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_event_type_validates_and_exports_its_schema_on_first_use(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A fresh interpreter parses one event of each of the types and builds schemas equal to
    these, though `import shipsync.canonical` loaded none of the models."""
    events = [data.draw(sst.any_events(t)).to_json().decode() for t in default_catalogue.types]
    payload = {"events": events, "schemas": json.loads(json.dumps(event_schemas()))}
    path = tmp_path_factory.mktemp("lazy") / "payload.json"
    path.write_text(json.dumps(payload))
    done = subprocess.run(
        [sys.executable, "-c", COLD, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(len(default_catalogue.types))


def test_exports_resolve_and_name_the_public_package() -> None:
    """Every name in each package's __all__ resolves, and exported classes and functions that are
    not pydantic models report the public package as their module."""
    import importlib

    for package in ("canonical", "carriers", "webhooks", "flows", "idempotency"):
        module = importlib.import_module(f"shipsync.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            where = getattr(value, "__module__", None)
            if where is None or hasattr(value, "__pydantic_fields__"):
                continue
            if isinstance(value, type) or callable(value):
                assert not where.startswith(f"shipsync.{package}._"), (package, name, where)


@pytest.mark.parametrize("package", ["canonical", "carriers"])
def test_importing_a_package_loads_no_heavy_dependency(package: str) -> None:
    """``import shipsync.canonical`` and ``import shipsync.carriers`` load none of pydantic,
    httpx, attrs or the package's own submodules; the first name used loads them, and works."""
    name = {"canonical": "Shipment", "carriers": "RetryPolicy"}[package]
    code = (
        "import sys\n"
        f"import shipsync.{package} as package\n"
        "heavy = ('pydantic', 'httpx', 'attr', 'tenacity', 'purgatory')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        f"             or m.startswith('shipsync.{package}._')))\n"
        f"print(getattr(package, {name!r}).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", name]
