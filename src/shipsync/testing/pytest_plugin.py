"""The pytest plugin shipsync registers through the ``pytest11`` entry point.

Installing shipsync makes these fixtures available to every test suite with no setup:

- ``fake_carrier``: a fresh in-process fake carrier; no network, no backoff sleeps.
- ``fake_carrier_server``: the same fake served over real HTTP on a free 127.0.0.1 port.
"""

from shipsync.testing._carrier_fixtures import fake_carrier, fake_carrier_server

__all__ = ["fake_carrier", "fake_carrier_server"]
