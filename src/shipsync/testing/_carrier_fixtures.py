"""The fake carrier's pytest fixtures; ``shipsync.testing.pytest_plugin`` re-exports them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipsync.testing.fake_carrier import FakeCarrier, FakeCarrierServer

__all__ = ["fake_carrier", "fake_carrier_server"]


@pytest.fixture
def fake_carrier() -> Iterator[FakeCarrier]:
    """A fresh in-process fake carrier (seed 0) with client factories; no network, no sleeps."""
    carrier = FakeCarrier(seed=0)
    yield carrier
    carrier.close()


@pytest.fixture
def fake_carrier_server() -> Iterator[FakeCarrierServer]:
    """A fake carrier served over HTTP on a free local port for one test."""
    yield from FakeCarrierServer.started(seed=0)
