"""Where odoorpc may be imported: only in the RPC gateway module, and only when it is used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import shipsync

SRC = Path(shipsync.__file__).parent


def _imports_odoorpc(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "odoorpc" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "odoorpc":
            return True
    return False


def test_only_the_rpc_gateway_module_imports_odoorpc() -> None:
    """No module of the package but ``shipsync/odoo/_rpc.py`` imports odoorpc."""
    importers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if _imports_odoorpc(p))
    assert importers == ["odoo/_rpc.py"]


def test_importing_the_odoo_client_does_not_import_odoorpc() -> None:
    """An addon using only the in-process gateway never loads odoorpc."""
    code = (
        "import sys, shipsync.odoo\n"
        "from shipsync.odoo import EnvGateway, OdooLogistics\n"
        "assert 'odoorpc' not in sys.modules, 'odoorpc was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
