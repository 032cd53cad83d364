"""shipsync: keep carrier execution, customer communication and freight settlement in sync.

The parts live in subpackages: :mod:`shipsync.canonical` (the model everything speaks),
:mod:`shipsync.webhooks`, :mod:`shipsync.idempotency`, :mod:`shipsync.carriers`,
:mod:`shipsync.odoo`, :mod:`shipsync.flows`, :mod:`shipsync.settlement`, and
:mod:`shipsync.testing` (fixtures and conformance suites for your own tests). Every error they
raise is in :mod:`shipsync.errors`.
"""

from shipsync import errors
from shipsync._version import __version__

__all__ = ["__version__", "errors"]
