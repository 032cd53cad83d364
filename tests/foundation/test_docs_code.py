"""Every Python block in README.md and docs/ runs, and every ``shipsync.*`` name they use exists.

The blocks of one page run in order in one namespace (a later block may use what an earlier one
defined), in a fresh working directory, with the fake carrier and the embedded stores standing in
for remote systems. A block that truly cannot run (it needs a live Odoo, a host's own objects)
carries ``<!-- not-run: reason -->`` on the line before its fence; those stay few.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from _docs import PAGES, ROOT, Block, blocks, prose, python_blocks

_BY_PAGE: dict[Path, list[Block]] = defaultdict(list)
for _block in python_blocks():
    _BY_PAGE[_block.page].append(_block)

MAX_NOT_RUN = 15  # "a few": raising this needs a reason in the review


def _run(block: Block, namespace: dict[str, Any]) -> None:
    code = compile(
        block.text, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


@pytest.mark.parametrize(
    "page", sorted(_BY_PAGE), ids=[str(p.relative_to(ROOT)) for p in sorted(_BY_PAGE)]
)
def test_every_python_block_of_the_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's Python blocks, run in order in one namespace, raise nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in _BY_PAGE[page]:
        if block.not_run is not None:
            continue
        try:
            _run(block, namespace)
        except BaseException as exc:
            pytest.fail(f"{block.where}: {type(exc).__name__}: {exc}\n{block.text}")


def test_blocks_that_do_not_run_say_why_and_stay_few() -> None:
    """Every not-run marker gives a reason, and there are at most a handful of them."""
    skipped = [b for b in python_blocks() if b.not_run is not None]
    assert all(len(b.not_run or "") >= 10 for b in skipped), [b.where for b in skipped]
    assert len(skipped) <= MAX_NOT_RUN, [f"{b.where}: {b.not_run}" for b in skipped]


_DOTTED = re.compile(r"(?<![\w./-])shipsync(?:\.[A-Za-z_]\w*)+")


def _resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def _dotted_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _DOTTED.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            name = match.group(0).rstrip(".")
            names.setdefault(name, f"{page.relative_to(ROOT)}:{line}")
    return names


def test_every_dotted_shipsync_name_in_the_docs_exists() -> None:
    """Each ``shipsync.x.y`` the README and docs mention imports or resolves as an attribute."""
    missing = {name: where for name, where in _dotted_names().items() if not _resolve(name)}
    assert missing == {}


def test_every_name_imported_by_a_block_exists() -> None:
    """``from shipsync.x import a, b`` in any block (not-run ones included) names real objects."""
    missing = []
    for page in PAGES:
        for block in blocks(page):
            if block.lang not in ("python", "py"):
                continue
            try:
                tree = ast.parse(block.text)
            except SyntaxError:
                missing.append(f"{block.where}: not valid Python")
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shipsync"):
                    for alias in node.names:
                        if not _resolve(f"{node.module}.{alias.name}"):
                            missing.append(f"{block.where}: {node.module}.{alias.name}")
    assert missing == []


_PUBLIC = (
    "shipsync.canonical", "shipsync.errors", "shipsync.webhooks", "shipsync.idempotency",
    "shipsync.carriers", "shipsync.carriers.fake", "shipsync.odoo", "shipsync.flows",
    "shipsync.settlement", "shipsync.testing.carriers", "shipsync.testing.settlement",
    "shipsync.testing.fake_carrier",
)  # fmt: skip


def _exported() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for name in _PUBLIC:
        module = importlib.import_module(name)
        for attribute in module.__all__:
            found[attribute].append(getattr(module, attribute))
    return found


def _parameters(obj: Any) -> set[str] | None:
    """Parameter names of a callable, or None when any keyword goes (or it has no signature)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return set(signature.parameters)


def test_every_call_written_in_the_prose_names_real_parameters() -> None:
    """`Name(a, b=...)` in the prose uses parameter names that exported ``Name`` has
    (``RowProblem(line, reason)`` against ``(file_line, message)`` fails here)."""
    exported = _exported()
    wrong = []
    for page in PAGES:
        for match in re.finditer(r"`([A-Za-z_]\w*)\(([^`()]*)\)`", prose(page)):
            candidates = [_parameters(obj) for obj in exported.get(match.group(1), [])]
            if not candidates or any(c is None for c in candidates):
                continue
            names = [a.split("=")[0].strip() for a in match.group(2).split(",")]
            names = [n for n in names if re.fullmatch(r"[a-z_]\w*", n)]
            if not any(set(names) <= c for c in candidates if c is not None):
                wrong.append(f"{page.relative_to(ROOT)}: {match.group(0)}")
    assert wrong == []


def test_the_docs_checks_see_the_pages() -> None:
    """The scanner finds the README, every docs page and a good number of Python blocks."""
    assert ROOT / "README.md" in PAGES
    assert len(python_blocks()) >= 50
    assert sys.modules["_docs"].__file__
