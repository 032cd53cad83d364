"""``shipsync demo --tenants N`` runs several tenants at once and proves they stay apart."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from shipsync.cli import main

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")


def test_two_tenants_run_at_once_and_every_check_passes() -> None:
    """Through the top-level group: two tenants book the same ids under the same keys, their
    webhooks arrive duplicated and reordered, and every per-tenant check passes (exit 0)."""
    result = CliRunner().invoke(main, ["demo", "--tenants", "2", "--shipments", "6"])
    assert result.exit_code == 0, result.output
    assert "2 tenants x 6 shipments" in result.output
    assert "[FAIL]" not in result.output
    for check in (
        "nothing crossed over",
        "a delivery signed for one tenant is refused on another's (400)",
        "an unknown tenant is refused (404)",
    ):
        assert f"[ok] {check}" in result.output


def test_a_tenant_count_out_of_range_is_a_usage_error() -> None:
    """--tenants 0 is refused by the option itself."""
    result = CliRunner().invoke(main, ["demo", "--tenants", "0"])
    assert result.exit_code == 2
    assert "--tenants" in result.output
