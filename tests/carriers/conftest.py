"""Fixtures for the carrier tests: the public fake carrier fixtures, also without the plugin."""

from shipsync.testing._carrier_fixtures import fake_carrier, fake_carrier_server

__all__ = ["fake_carrier", "fake_carrier_server"]
