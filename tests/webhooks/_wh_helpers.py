"""Shared values for the webhook tests (imported by the test modules, not collected)."""

from __future__ import annotations

import base64
from collections.abc import Callable

NOW = 1_700_000_000
HMAC_KEY = b"k" * 24
HMAC_SECRET = "whsec_" + base64.b64encode(HMAC_KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 24).decode()
ED_SEED = bytes(range(32))
ED_SECRET = "whsk_" + base64.b64encode(ED_SEED).decode()


def clock_at(now: float) -> Callable[[], float]:
    """Return a clock frozen at ``now``."""
    return lambda: now


def event_body(shipment: str = "SHP-1", n: int = 1) -> bytes:
    """A canonical milestone event envelope as JSON bytes."""
    from shipsync.testing.flows import make_tracking_event

    return make_tracking_event(shipment, n).model_dump_json().encode()


def load_example(name: str) -> object:
    """Import ``examples/<name>/app.py`` as a module, the way a host would run it."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"shipsync_example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
