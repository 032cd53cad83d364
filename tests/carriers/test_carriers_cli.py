"""The carrier CLI commands, driven through click's CliRunner."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from shipsync.cli import main


def test_carriers_list_json_shows_the_fake_driver() -> None:
    """``carriers list --json`` names each driver with its package and capabilities."""
    result = CliRunner().invoke(main, ["carriers", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    fake = next(d for d in data["drivers"] if d["name"] == "fake")
    assert fake["package"] == "shipsync"
    assert "track" in fake["capabilities"]
    assert isinstance(data["errors"], list)


def test_carriers_list_table() -> None:
    """The table has one line per driver."""
    result = CliRunner().invoke(main, ["carriers", "list"])
    assert result.exit_code == 0
    assert any(line.startswith("fake ") for line in result.output.splitlines())


def test_fake_carrier_serve_help_lists_options() -> None:
    """``fake-carrier serve`` takes host, port and seed."""
    result = CliRunner().invoke(main, ["fake-carrier", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed"):
        assert option in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_fake_carrier_serve_answers_http() -> None:
    """The served fake answers its control API on the chosen port."""
    port = _free_port()
    shipsync = str(pathlib.Path(sys.executable).with_name("shipsync"))
    process = subprocess.Popen(
        [shipsync, "fake-carrier", "serve", "--port", str(port), "--seed", "3"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_control/state", timeout=1).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert state["shipments"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_carriers_list_reports_broken_installed_plugins(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed plugin that fails to import or raises is listed as an error; the rest load."""
    dist = tmp_path / "shipsync_carrier_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: shipsync-carrier-broken\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[shipsync.carriers]\n"
        "ghost = shipsync_carrier_broken_missing_module_zz:plugin\n"
        "bomb = shipsync_carrier_broken_bomb_zz\n"
    )
    (tmp_path / "shipsync_carrier_broken_bomb_zz.py").write_text(
        "raise RuntimeError('boom while importing')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["carriers", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "fake" in [d["name"] for d in data["drivers"]]
    broken = sorted(
        (e["carrier"], e["kind"])
        for e in data["errors"]
        if e["package"] == "shipsync-carrier-broken"
    )
    assert broken == [("bomb", "DriverLoadError"), ("ghost", "DriverLoadError")]
    ours = [e for e in data["errors"] if e["package"] == "shipsync-carrier-broken"]
    assert all("shipsync-carrier-broken" in e["message"] for e in ours)
    strict = CliRunner().invoke(main, ["carriers", "list", "--strict"])
    assert strict.exit_code == 1


def test_a_host_test_suite_gets_the_fixtures_through_pytest11(tmp_path: pathlib.Path) -> None:
    """A project with no conftest uses ``fake_carrier`` just by having shipsync installed."""
    (tmp_path / "test_host.py").write_text(
        "def test_book(fake_carrier):\n"
        "    booked = fake_carrier.client().create_shipment(fake_carrier.shipment())\n"
        "    assert booked.tracking_numbers\n"
        "    assert fake_carrier.service.shipment_count() == 1\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
