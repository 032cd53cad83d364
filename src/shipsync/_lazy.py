"""Lazy package exports, and public ``__module__`` names for exported objects.

A package's ``__init__`` lists its public names as ordinary imports under
``if TYPE_CHECKING:`` (so type checkers and readers see them) and ends with::

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any name
        __getattr__, __dir__ = lazy(__name__, __file__)

The first access to a name (``shipsync.carriers.CarrierClient``, or ``from shipsync.carriers
import CarrierClient``) reads those imports from the package's source once, imports the one
submodule that defines the name, and caches the value in the package (PEP 562). So
``import shipsync.carriers`` costs almost nothing, and a user pays only for what they touch.

:func:`publish` rewrites ``__module__`` of exported classes and functions from the private
module that defines them to the public package, so reprs and docs show
``shipsync.carriers.CarrierClient``, not ``shipsync.carriers._client.CarrierClient``. pydantic
models keep theirs: pydantic resolves their annotations in the defining module.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["lazy", "publish"]


_FROM_IMPORT = re.compile(r"from\s+(\.*[\w.]*)\s+import\s+\(?(.*?)\)?")


def _type_checking_imports(path: str, package: str) -> dict[str, tuple[str, str]]:
    """``{exported name: (module, attribute)}`` from the ``if TYPE_CHECKING:`` blocks.

    The block is read as text, not with :mod:`ast`: CPython 3.11's AST converter keeps its
    recursion count per interpreter, and a parse at an unlucky moment (after an interrupted
    event loop, say) fails with "AST constructor recursion depth mismatch". The block holds
    ``from module import name[ as alias], ...`` statements, on one line or parenthesised.
    """
    with open(path, encoding="utf-8") as source:
        lines = source.read().splitlines()
    statements: list[str] = []
    pending = ""
    inside = False
    for line in lines:
        if line.strip() and not line.startswith(" "):  # a top-level statement
            inside = line.rstrip() == "if TYPE_CHECKING:"
            continue
        if not inside:
            continue
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        pending = f"{pending} {text}" if pending else text
        if pending.count("(") == pending.count(")"):
            statements.append(pending)
            pending = ""
    found: dict[str, tuple[str, str]] = {}
    for statement in statements:
        match = _FROM_IMPORT.fullmatch(statement)
        if match is None:
            continue  # a plain ``import x`` exports nothing
        resolved = importlib.util.resolve_name(match.group(1), package)
        for item in match.group(2).split(","):
            words = item.split()
            if len(words) == 1:
                found[words[0]] = (resolved, words[0])
            elif len(words) == 3 and words[1] == "as":
                found[words[2]] = (resolved, words[0])
            elif words:
                raise ImportError(f"{path}: cannot read the TYPE_CHECKING import {statement!r}")
    return found


def publish(package: str, names: Iterable[str], namespace: dict[str, Any]) -> None:
    """Point ``__module__`` of exported classes and functions at the public ``package``."""
    prefix = package + "._"
    for name in names:
        value = namespace.get(name)
        if not getattr(value, "__module__", "").startswith(prefix):
            continue
        if hasattr(value, "__pydantic_fields__"):
            continue  # pydantic resolves annotations in the defining module
        if isinstance(value, type) or callable(value):
            try:
                value.__module__ = package
            except (AttributeError, TypeError):  # pragma: no cover - a builtin or slot type
                continue


def lazy(package: str, path: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` that import exports on first access."""
    table: dict[str, tuple[str, str]] | None = None

    def exports() -> dict[str, tuple[str, str]]:
        nonlocal table
        if table is None:
            table = _type_checking_imports(path, package)
        return table

    def __getattr__(name: str) -> Any:
        where = exports().get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, attribute = where
        value = getattr(importlib.import_module(module_name), attribute)
        namespace = sys.modules[package].__dict__
        namespace[name] = value
        publish(package, [name], namespace)
        return value

    def __dir__() -> list[str]:
        return sorted({*sys.modules[package].__dict__, *exports()})

    return __getattr__, __dir__
