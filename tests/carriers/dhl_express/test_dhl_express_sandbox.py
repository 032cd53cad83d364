"""The sandbox story: replayed from cassettes here, re-recorded against MyDHL's test site when
the ``DHL_EXPRESS_KEY``, ``DHL_EXPRESS_SECRET`` and ``DHL_EXPRESS_ACCOUNT`` variables are set."""

from __future__ import annotations

from typing import Any

import pytest
from dhl_express_sandbox import CASSETTES, STORIES, client, live, recorder

from shipsync.canonical import Rate
from shipsync.carriers import AddressValidation, SleepRecorder

EXPECTED: dict[str, Any] = {"address_validation.yaml": AddressValidation, "rates.yaml": Rate}


def test_every_story_has_its_cassette() -> None:
    """Replay mode needs a cassette per story: none is missing, none is left over."""
    assert sorted(p.name for p in CASSETTES.glob("*.yaml")) == sorted(STORIES)


@pytest.mark.parametrize("cassette", sorted(STORIES))
def test_the_story_runs_against_the_sandbox_or_its_cassette(cassette: str) -> None:
    """Each operation gives canonical values from the sandbox (live) or the cassette (replay,
    every recorded interaction played)."""
    dhl = client(sleeper=SleepRecorder())
    with recorder().use_cassette(cassette) as recorded:
        result = STORIES[cassette](dhl)
    dhl.close()
    items = result if isinstance(result, list) else [result]
    assert items
    assert all(isinstance(item, EXPECTED[cassette]) for item in items)
    if not live():
        assert recorded.all_played
        assert all("authorization" not in {k.lower() for k in r.headers} for r in recorded.requests)
