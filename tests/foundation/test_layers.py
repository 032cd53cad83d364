"""The import graph obeys the layers of docs/architecture.md, read statically from the source.

Every ``import`` and ``from ... import`` in ``src/shipsync`` (inside functions and
``TYPE_CHECKING`` blocks too) is an edge. The command table of ``shipsync.cli._main``
(``"name": "module:object"`` strings) counts as edges as well, so a string cannot hide one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "shipsync"

# Layer of each top-level part of the package; higher numbers sit higher. Imports point down (or
# sideways within a layer, except the pairs in SEPARATE).
LAYERS: dict[str, int] = {
    "__init__": 0,
    "_version": 0,
    "errors": 0,
    "canonical": 0,
    "tenants": 0,
    "telemetry": 0,
    "idempotency": 1,
    "odoo": 2,
    "carriers": 2,
    "webhooks": 2,
    "flows": 3,
    "settlement": 3,
    "monitor": 4,
    "notify": 4,
    "insight": 4,
    "migration": 4,
    "cli": 5,
    "testing": 6,  # the test kit may use anything; nothing but the cli imports it
}
SEPARATE = {frozenset({"carriers", "odoo"})}
# Third-party modules only some parts of the package may import.
ONLY: dict[str, tuple[str, ...]] = {
    "click": ("shipsync.cli",),
    "starlette": ("shipsync.cli", "shipsync.carriers.fake._app", "shipsync.testing"),
    "uvicorn": ("shipsync.cli", "shipsync.carriers.fake._app", "shipsync.testing"),
    "fastapi": ("shipsync.cli", "shipsync.testing"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from shipsync import cli`` names a module
                yield node.lineno, f"{target}.{alias.name}"
    if name == "shipsync.cli._main":
        for match in re.finditer(r'"(shipsync\.[\w.]+):\w+"', path.read_text(encoding="utf-8")):
            yield 0, match.group(1)


def _part(module: str) -> str | None:
    """The top-level part of ``shipsync.x.y`` (``x``), or None for another distribution."""
    parts = module.split(".")
    if parts[0] != "shipsync":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def violations() -> list[str]:
    """Every import that goes against the layers, as 'file:line: why'."""
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found.extend(dict.fromkeys(_problems(path)))  # one report per line and reason
    return found


def _problems(path: Path) -> Iterator[str]:
    """What is wrong with the imports of one module."""
    name = _module_name(path)
    here = _part(name)
    assert here is not None
    where = f"{path.relative_to(SRC)}"
    if here not in LAYERS:
        yield f"{where}: package {here!r} has no layer in tests/foundation/test_layers"
        return
    for line, target in _imports(path):
        top = target.split(".")[0]
        allowed = ONLY.get(top)
        if allowed is not None and not name.startswith(allowed):
            yield f"{where}:{line}: imports {top}, which only {allowed} may"
        there = _part(target)
        if there is None or there == here or there not in LAYERS:
            continue
        if there == "testing":
            if here != "cli":
                yield f"{where}:{line}: library module imports the test kit"
        elif there == "cli":
            yield f"{where}:{line}: imports the command line"
        elif LAYERS[there] > LAYERS[here] and here != "testing":
            yield f"{where}:{line}: {here} (layer {LAYERS[here]}) imports {there}"
        elif frozenset({here, there}) in SEPARATE:
            yield f"{where}:{line}: {here} and {there} must not import each other"


def test_no_import_goes_against_the_layers() -> None:
    """No module imports a higher layer, the cli or the test kit; only the cli imports click."""
    assert violations() == []


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        ("canonical/_probe.py", "from shipsync.flows import Dispatcher\n", "imports"),
        ("flows/_probe.py", "import click\n", "imports click"),
        ("webhooks/_probe.py", "from shipsync.testing import strategies\n", "test kit"),
        ("settlement/_probe.py", "def f():\n    from shipsync.cli import main\n", "command line"),
        ("carriers/_probe.py", "from ..odoo import OdooLogistics\n", "must not import"),
    ],
    ids=["lower-imports-higher", "click-outside-cli", "test-kit", "cli-in-function", "siblings"],
)
def test_the_scan_catches_each_kind_of_wrong_arrow(module: str, source: str, why: str) -> None:
    """A probe module with one wrong import is reported, so the scan cannot silently pass."""
    probe = PACKAGE / module
    probe.write_text(source, encoding="utf-8")
    try:
        found = violations()
    finally:
        probe.unlink()
    assert len(found) == 1
    assert module in found[0]
    assert why in found[0]
