"""Whatever a client sends, the fake carrier answers 2xx or 4xx, never crashes."""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from shipsync.carriers.fake import FakeCarrierService

PATHS = [
    ("POST", "/oauth/token"),
    ("POST", "/v1/addresses/validate"),
    ("POST", "/v1/rates"),
    ("POST", "/v1/shipments"),
    ("POST", "/v1/pickups"),
    ("POST", "/v1/returns"),
    ("GET", "/v1/invoices"),
    ("GET", "/v1/tracking/FK1"),
    ("POST", "/v1/shipments/shp_1/cancel"),
    ("POST", "/_control/clock"),
    ("POST", "/_control/faults"),
    ("POST", "/_control/webhooks"),
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
SERVICE = FakeCarrierService(seed=0)
TOKEN = json.loads(
    SERVICE.handle(
        "POST",
        "/oauth/token",
        {},
        {},
        b"grant_type=client_credentials&client_id=fake-client&client_secret=fake-secret",
    ).body
)["access_token"]


@example(("POST", "/_control/clock"), {"advance": 10**30}, {})
@example(("POST", "/_control/webhooks"), {"url": "x", "secret": "not-a-secret"}, {})
@example(("POST", "/_control/faults"), {"rate": "x"}, {})
@given(
    st.sampled_from(PATHS),
    JSON | st.binary(max_size=40),
    st.dictionaries(st.sampled_from(["cursor", "limit", "since"]), st.text(max_size=5)),
)
def test_fake_carrier_never_fails_with_5xx(
    route: tuple[str, str], body: object, query: dict[str, str]
) -> None:
    """Garbage bodies, wrong types and odd query strings are 4xx answers, not crashes."""
    method, path = route
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"authorization": f"Bearer {TOKEN}", "idempotency-key": "fuzz"}
    response = SERVICE.handle(method, path, query, headers, raw)
    assert response.status < 500
