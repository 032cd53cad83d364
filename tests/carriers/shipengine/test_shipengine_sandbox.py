"""The sandbox story: replayed from cassettes here, re-recorded against ShipEngine's sandbox when
``SHIPENGINE_API_KEY`` (a ``TEST_`` key) is set."""

from __future__ import annotations

from typing import Any

import pytest
from shipengine_sandbox import CASSETTES, STORIES, client, live, recorder

from shipsync.canonical import Rate
from shipsync.carriers import AddressValidation, SleepRecorder

EXPECTED: dict[str, Any] = {"address_validation.yaml": AddressValidation, "rates.yaml": Rate}


def test_every_story_has_its_cassette() -> None:
    """Replay mode needs a cassette per story: none is missing, none is left over."""
    assert sorted(p.name for p in CASSETTES.glob("*.yaml")) == sorted(STORIES)


@pytest.mark.parametrize("cassette", sorted(STORIES))
def test_the_story_runs_against_the_sandbox_or_its_cassette(cassette: str) -> None:
    """Each operation gives canonical values from the sandbox (live) or the cassette (replay,
    every recorded interaction played: the rates story lists the accounts first)."""
    shipengine = client(sleeper=SleepRecorder())
    with recorder().use_cassette(cassette) as recorded:
        result = STORIES[cassette](shipengine)
    shipengine.close()
    items = result if isinstance(result, list) else [result]
    assert items
    assert all(isinstance(item, EXPECTED[cassette]) for item in items)
    if not live():
        assert recorded.all_played
        assert all("api-key" not in {k.lower() for k in r.headers} for r in recorded.requests)
