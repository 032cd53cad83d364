"""Public testing helpers: use shipsync's fakes and conformance suites in your own tests.

Import the module you need; this package imports none of them eagerly, so the pytest plugin stays
cheap and works in projects that do not install hypothesis.

- :mod:`shipsync.testing.fake_carrier`: ``FakeCarrier`` (in-process) and ``FakeCarrierServer``
  (real HTTP on a free local port), plus sample addresses and shipments.
- :mod:`shipsync.testing.carriers`: the driver conformance kit a carrier vendor points at a driver.
- :mod:`shipsync.testing.openapi`: the kit's spec check: a carrier's OpenAPI document, corrected,
  checks every request a driver builds (needs the ``testing`` extra's jsonschema and pyyaml).
- :mod:`shipsync.testing.idempotency`: the idempotency store conformance suite.
- :mod:`shipsync.testing.flows`: the event log conformance suite.
- :mod:`shipsync.testing.settlement`: sample shipments and labelled invoice files, any size.
- :mod:`shipsync.testing.strategies`: hypothesis strategies for the canonical model.
- :mod:`shipsync.testing.pytest_plugin`: registered through the ``pytest11`` entry point, so the
  ``fake_carrier`` and ``fake_carrier_server`` fixtures are available with no setup.
"""

__all__: list[str] = []
