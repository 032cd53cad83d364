"""The lazy export table read from each package's ``TYPE_CHECKING`` block equals what Python sees.

``shipsync._lazy`` reads the block as text (CPython 3.11's AST converter can fail at run time
with "AST constructor recursion depth mismatch"), so this test holds the text reader to
:mod:`ast`'s reading of every lazy package, and to odd but valid layouts.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from shipsync._lazy import _type_checking_imports

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "shipsync"
LAZY_INITS = sorted(p for p in PACKAGE.rglob("__init__.py") if "lazy(__name__" in p.read_text())


def _ast_table(path: Path, package: str) -> dict[str, tuple[str, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module is not None:
                    module = importlib.util.resolve_name("." * stmt.level + stmt.module, package)
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = (module, alias.name)
    return found


def test_every_lazy_package_is_found() -> None:
    assert len(LAZY_INITS) >= 6


@pytest.mark.parametrize("init", LAZY_INITS, ids=lambda p: str(p.parent.relative_to(PACKAGE)))
def test_the_text_reading_equals_the_ast_reading(init: Path) -> None:
    package = "shipsync" + "".join(f".{part}" for part in init.parent.relative_to(PACKAGE).parts)
    table = _type_checking_imports(str(init), package)
    assert table == _ast_table(init, package)
    assert table, f"{init}: no exports read"


def test_layouts_ruff_may_write(tmp_path: Path) -> None:
    source = tmp_path / "__init__.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pkg._a import A, B as Bee  # a comment\n"
        "    import pkg._unused\n"
        "\n"
        "    from ._c import (\n"
        "        C,\n"
        "        D as Dee,  # why\n"
        "    )\n"
        "    from .sub._e import E\n"
        "__all__ = ['A']\n"
        "if TYPE_CHECKING:\n"
        "    from pkg._late import Late\n"
    )
    table = _type_checking_imports(str(source), "pkg")
    assert table == _ast_table(source, "pkg")
    assert table["Dee"] == ("pkg._c", "D")
    assert table["E"] == ("pkg.sub._e", "E")
    assert table["Late"] == ("pkg._late", "Late")


def test_an_unreadable_import_is_an_import_error(tmp_path: Path) -> None:
    source = tmp_path / "__init__.py"
    source.write_text("if TYPE_CHECKING:\n    from pkg._a import A as\n")
    with pytest.raises(ImportError, match="cannot read"):
        _type_checking_imports(str(source), "pkg")
