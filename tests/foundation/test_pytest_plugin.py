"""The pytest11 plugin gives any host test suite the fake carrier fixtures with no setup."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_host_suite_gets_fake_carrier_fixture(pytester: pytest.Pytester) -> None:
    """A test file with no conftest and no imports of ours can ask for `fake_carrier`."""
    pytester.makepyfile(
        """
        def test_books_a_shipment(fake_carrier):
            client = fake_carrier.client()
            booked = client.create_shipment(fake_carrier.shipment(packages=2))
            assert len(booked.tracking_numbers) == 2
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
