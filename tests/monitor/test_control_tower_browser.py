"""The control tower in a real browser: Debian's chromium driven by Playwright for Python.

The page is served over a store a sample flow filled (dead letters left open); the tests read
the tiles, click through to a shipment's timeline, replay a dead letter through the confirmation
step, and compare what the page shows with the store. Screenshots go to ``docs/images/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, sync_playwright

from shipsync.carriers.fake import Fault, FaultPlan
from shipsync.monitor import CarrierHealth, Monitor, MonitorStore
from shipsync.monitor.web import RunningTower, create_app, serve_in_background
from shipsync.testing.sample_flow import SampleFlow

CHROMIUM = os.environ.get("SHIPSYNC_CHROMIUM", "/usr/bin/chromium")
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@attrs.frozen
class Tower:
    """A running control tower over a populated store, and the flow behind it."""

    running: RunningTower
    flow: SampleFlow
    monitor: Monitor
    health: CarrierHealth

    def running_health_rows(self) -> list[Any]:
        return self.health.rows()


@pytest.fixture(scope="module")
def tower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tower]:
    work = tmp_path_factory.mktemp("tower")
    breaker_health = CarrierHealth()
    flow = SampleFlow(work, shipments=40, event_hooks=breaker_health.event_hooks("fake"))
    breaker_health.breaker = flow.client.breaker
    kinds = (Fault.RATE_LIMITED, Fault.UNAVAILABLE)
    flow.service.set_faults("create_shipment", FaultPlan(rate=0.15, kinds=kinds))
    store = MonitorStore(work / "monitor.db")
    monitor = Monitor(store, clock=flow.now, sink=flow.log, dead_letters=flow.dead_letters)
    flow.dispatcher.subscribe(None, monitor, name="monitor")
    flow.run(hours=120)
    monitor.check()
    flow.drain()
    app = create_app(
        store,
        dead_letters=flow.dead_letters,
        dispatcher=flow.dispatcher,
        clock=flow.now,
        refresh_seconds=0.5,
        health=breaker_health,
    )
    with serve_in_background(app) as running:
        yield Tower(running, flow, monitor, breaker_health)
    flow.close()
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():  # .ci/run installs it; elsewhere the tests skip
        pytest.skip(f"no chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _number(page: Page, key: str) -> int:
    return int(page.locator(f'[data-indicator="{key}"]').first.inner_text())


def test_the_tiles_show_the_store_numbers(tower: Tower, page: Page) -> None:
    """Every status count, service level and the DLQ tile on the page equal the store's."""
    page.goto(tower.running.url + "/")
    page.wait_for_selector("#updated:has-text('updated')")  # the live refresh ran
    indicators = tower.monitor.indicators()
    assert _number(page, "shipments") == indicators.shipments == tower.flow.shipments
    for name, count in indicators.by_status.items():
        assert _number(page, f"status.{name}") == count
    for sla in indicators.sla:
        assert _number(page, f"sla.{sla.kind.value}.breached") == sla.breached
        assert _number(page, f"sla.{sla.kind.value}.at_risk") == sla.at_risk
    assert indicators.dead_letters is not None
    assert _number(page, "dlq.open") == indicators.dead_letters.open > 0
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "control-tower-overview.png"), full_page=True)


def test_clicking_through_to_a_shipment_timeline(tower: Tower, page: Page) -> None:
    """A status tile links to the filtered list, and a shipment to its timeline of raw codes."""
    page.goto(tower.running.url + "/")
    page.click("a.status-link:text-is('delivered')")
    page.wait_for_url("**/shipments?status=delivered")
    listed = page.locator("a.shipment-link").all_inner_texts()
    expected = [row.shipment_id for row in tower.monitor.store.shipments(status="delivered")]
    assert listed == expected
    assert "SHP-00002" in listed  # the exception-then-delivered story
    page.click("a.shipment-link:text-is('SHP-00002')")
    page.wait_for_selector("#timeline")
    timeline = tower.monitor.store.timeline("SHP-00002")
    assert timeline is not None
    assert page.inner_text("#status") == timeline.shipment.status == "delivered"
    codes = page.locator("#timeline tr.event td.code").all_inner_texts()
    assert codes == [entry.carrier_code or "" for entry in timeline.entries]
    assert "EX/WX" in codes  # the weather exception's raw carrier code
    page.screenshot(path=str(IMAGES / "control-tower-timeline.png"), full_page=True)


def test_carrier_health_shows_the_calls_and_errors_counted(tower: Tower, page: Page) -> None:
    """The carrier health tile shows the calls and the error rate the hooks counted."""
    page.goto(tower.running.url + "/")
    (row,) = tower.running_health_rows()
    cells = page.locator("#health tr.carrier td").all_inner_texts()
    assert cells == [
        "fake",
        str(row.calls),
        f"{row.error_rate * 100:.1f}%",
        str(row.no_answer),
        row.breaker,
    ]
    assert row.errors > 0


def test_replaying_a_dead_letter_after_confirmation(tower: Tower, page: Page) -> None:
    """Replay asks for confirmation; then the store resolves the letter and the tile drops."""
    before = len(tower.flow.dead_letters.list())
    page.goto(tower.running.url + "/dlq")
    first = page.locator("a.letter-link").first
    letter_id = int(first.inner_text())
    first.click()
    page.wait_for_selector("#letter-state:text-is('open')")
    page.click("#replay")
    page.wait_for_selector("#confirm-replay")
    page.screenshot(path=str(IMAGES / "control-tower-replay.png"), full_page=True)
    page.click("#confirm-replay")
    page.wait_for_selector("#flash")
    assert page.inner_text("#flash") == "replayed: resolved"
    assert page.inner_text("#letter-state").startswith("resolved")
    assert tower.flow.dead_letters.get(letter_id).resolved_at is not None
    assert len(tower.flow.dead_letters.list()) == before - 1
    page.goto(tower.running.url + "/")
    assert _number(page, "dlq.open") == before - 1
