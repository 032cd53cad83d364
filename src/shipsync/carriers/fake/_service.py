"""The stateful fake carrier: an HTTP API in plain Python, shared by the in-process transport
and the ASGI server.

Theory of operation
-------------------
:meth:`FakeCarrierService.handle` takes method, path, query, headers and body and returns a
:class:`FakeResponse`. Before routing it may draw a fault for the endpoint (seeded, so a run
repeats exactly); a fault drawn "after" lets the request take effect and then loses or garbles
the answer, which is what makes idempotency keys necessary. Shipments follow their
:mod:`scenario <shipsync.carriers.fake._scenarios>` as the :class:`FakeClock` advances; every
event that becomes visible is queued as a signed webhook delivery when webhooks are configured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import attrs
import httpx

from shipsync.carriers.fake._clock import FakeClock
from shipsync.carriers.fake._faults import ENDPOINTS, Fault, FaultPlan
from shipsync.carriers.fake._invoices import DISCREPANCY_KINDS, InvoiceBook
from shipsync.carriers.fake._scenarios import SCENARIOS, Scenario, scenario_from
from shipsync.carriers.fake._webhooks import WebhookOutbox
from shipsync.errors import ShipsyncError

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "FakeCarrierService", "FakeResponse"]

DEFAULT_CLIENT_ID = "fake-client"
DEFAULT_CLIENT_SECRET = "fake-secret"
_KG = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}
_SERVICES = {
    "economy": (Decimal("0.8"), 5),
    "standard": (Decimal(1), 3),
    "express": (Decimal("1.8"), 1),
}
_CURRENCY = {"US": "USD", "GB": "GBP", "CH": "CHF"}
_LABEL = b"%PDF-1.4\n% fake carrier label\n"


@attrs.frozen
class FakeResponse:
    """What the fake answers; ``timeout`` means "never answer" (the transport raises)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timeout: bool = False


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Package:
    tracking_number: str
    weight_kg: Decimal
    reference: str | None


@dataclass
class _Shipment:
    id: str
    reference: str
    service: str
    currency: str
    created_at: datetime
    scenario: Scenario
    packages: list[_Package]
    recipient_residential: bool
    quoted: Decimal
    discrepancies: tuple[str, ...]
    cancelled_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return FakeResponse(status, body, {"content-type": "application/json", **(headers or {})})


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


class FakeCarrierService:
    """A stateful fake carrier. Deterministic for a ``seed`` and the requests it receives.

    Use :meth:`mock_transport` for an in-process ``httpx`` transport, or
    :func:`~shipsync.carriers.fake.create_app` for a real HTTP server. Tests steer it directly
    (``service.clock.advance(...)``, ``service.set_faults(...)``) or over its ``/_control`` API.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: FakeClock | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        token_lifetime: int = 3600,
        discrepancy_rate: float = 0.0,
    ) -> None:
        self.seed = seed
        self.clock = clock or FakeClock()
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_lifetime = token_lifetime
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._fault_rng = random.Random(seed + 1)
        self.discrepancy_rate = discrepancy_rate
        self.reset()

    def reset(self) -> None:
        """Forget every shipment, token, fault, webhook and counter (the seed restarts)."""
        with self._lock:
            self._rng = random.Random(self.seed)
            self._fault_rng = random.Random(self.seed + 1)
            self.shipments: dict[str, _Shipment] = {}
            self._tracking: dict[str, tuple[str, int]] = {}
            self._keys: dict[str, tuple[str, FakeResponse]] = {}
            self.pickups: dict[str, dict[str, Any]] = {}
            self.returns: dict[str, dict[str, Any]] = {}
            self._tokens: dict[str, datetime] = {}
            self.faults: dict[str, FaultPlan] = {}
            self._outages: dict[str, datetime] = {}
            self.requests: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
            self.faults_injected: dict[str, int] = {}
            self.webhooks = WebhookOutbox(self.clock, seed=self.seed)
            self.invoices = InvoiceBook(seed=self.seed, discrepancy_rate=self.discrepancy_rate)
            self._emitted: set[str] = set()
            self._counter = 0

    # -- steering -------------------------------------------------------------------------------

    def set_faults(self, endpoint: str, plan: FaultPlan | None) -> None:
        """Inject faults into ``endpoint`` (a name from ``ENDPOINTS``, or ``"*"`` for all)."""
        names = ENDPOINTS if endpoint == "*" else (endpoint,)
        for name in names:
            if name not in ENDPOINTS:
                raise ValueError(f"unknown endpoint {name!r}")
            if plan is None:
                self.faults.pop(name, None)
            else:
                self.faults[name] = plan

    def outage(self, endpoint: str, seconds: float) -> None:
        """Make ``endpoint`` (or ``"*"``) answer 503 for the next ``seconds`` of fake time."""
        until = self.clock.now() + timedelta(seconds=seconds)
        for name in ENDPOINTS if endpoint == "*" else (endpoint,):
            self._outages[name] = until

    def advance(self, seconds: float) -> None:
        """Advance the clock and queue the webhooks of every event that became visible."""
        self.clock.advance(seconds)
        self._queue_webhooks()

    def shipment_count(self, *, reference: str | None = None) -> int:
        """How many shipments exist here (with ``reference``, when given)."""
        return sum(1 for s in self.shipments.values() if reference in (None, s.reference))

    def issue_invoices(self) -> list[dict[str, Any]]:
        """Bill every shipment not billed yet; return the new invoices (wire form)."""
        with self._lock:
            return self.invoices.issue(list(self.shipments.values()), self.clock.now())

    # -- transports -----------------------------------------------------------------------------

    def mock_transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` that serves this fake in-process (sync and async)."""
        return httpx.MockTransport(self.handle_httpx)

    def handle_httpx(self, request: httpx.Request) -> httpx.Response:
        """Serve one httpx request; a timeout fault raises ``httpx.ReadTimeout``."""
        result = self.handle(
            request.method,
            request.url.path,
            dict(request.url.params),
            {k.lower(): v for k, v in request.headers.items()},
            request.content,
        )
        if result.timeout:
            raise httpx.ReadTimeout("fake carrier did not answer in time", request=request)
        return httpx.Response(result.status, headers=dict(result.headers), content=result.body)

    # -- dispatch -------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> FakeResponse:
        """Answer one request. ``headers`` keys are lower case."""
        with self._lock:
            if path.startswith("/_control/"):
                try:
                    return self._control(method, path, body)
                except (
                    ValueError,
                    LookupError,
                    TypeError,
                    AttributeError,
                    ArithmeticError,
                    ShipsyncError,
                ) as exc:
                    error = {"code": "invalid_request", "message": type(exc).__name__}
                    return _json(422, {"error": error})
            route = self._route(method, path)
            if route is None:
                return _json(404, {"error": {"code": "no_route", "message": "no such endpoint"}})
            endpoint, handler, arg = route
            self.requests[endpoint] += 1
            until = self._outages.get(endpoint)
            if until is not None and self.clock.now() < until:
                return self._fault_response(Fault.UNAVAILABLE, None)
            plan = self.faults.get(endpoint)
            drawn = plan.draw(self._fault_rng) if plan is not None else None
            limit = plan.limit if plan is not None else None
            if limit is not None and self.faults_injected.get(endpoint, 0) >= limit:
                drawn = None
            if drawn is not None and not drawn[1]:
                self.faults_injected[endpoint] = self.faults_injected.get(endpoint, 0) + 1
                return self._fault_response(drawn[0], plan)
            try:
                if endpoint != "token":
                    self._authenticate(headers)
                payload = json.loads(body) if body and endpoint != "token" else {}
                response = handler(arg, query, headers, payload if endpoint != "token" else body)
            except _Error as exc:
                response = _json(exc.status, {"error": {"code": exc.code, "message": exc.message}})
            except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError) as exc:
                response = _json(
                    422, {"error": {"code": "invalid_request", "message": type(exc).__name__}}
                )
            if drawn is not None:
                self.faults_injected[endpoint] = self.faults_injected.get(endpoint, 0) + 1
                return self._fault_response(drawn[0], plan)
            return response

    def _fault_response(self, kind: Fault, plan: FaultPlan | None) -> FakeResponse:
        if kind is Fault.RATE_LIMITED:
            assert plan is not None
            value = str(plan.retry_after)
            if plan.retry_after_date:
                when = self.clock.now() + timedelta(seconds=plan.retry_after)
                value = format_datetime(when, usegmt=True)
            return _json(
                429,
                {"error": {"code": "rate_limited", "message": "slow down"}},
                {"retry-after": value},
            )
        if kind is Fault.TIMEOUT:
            return FakeResponse(504, timeout=True)
        if kind is Fault.MALFORMED:
            return FakeResponse(200, b'{"id": "shp_', {"content-type": "application/json"})
        status = {Fault.SERVER_ERROR: 500, Fault.BAD_GATEWAY: 502, Fault.UNAVAILABLE: 503}[kind]
        return _json(status, {"error": {"code": kind.value, "message": "try again later"}})

    def _route(
        self, method: str, path: str
    ) -> tuple[str, Callable[..., FakeResponse], str | None] | None:
        parts = [p for p in path.split("/") if p]
        m = method.upper()
        if parts == ["oauth", "token"] and m == "POST":
            return "token", self._token, None
        if len(parts) < 2 or parts[0] != "v1":
            return None
        rest = parts[1:]
        table: dict[tuple[str, ...], tuple[str, Callable[..., FakeResponse]]] = {
            ("POST", "addresses", "validate"): ("validate_address", self._validate),
            ("POST", "rates"): ("quote_rates", self._rates),
            ("POST", "shipments"): ("create_shipment", self._create),
            ("POST", "pickups"): ("schedule_pickup", self._pickup),
            ("POST", "returns"): ("create_return", self._return),
            ("GET", "invoices"): ("fetch_invoices", self._invoices),
        }
        hit = table.get((m, *rest))
        if hit is not None:
            return hit[0], hit[1], None
        if len(rest) == 2 and rest[0] == "shipments" and m == "GET":
            return "get_shipment", self._get_shipment, rest[1]
        if len(rest) == 3 and rest[0] == "shipments" and rest[2] == "cancel" and m == "POST":
            return "cancel_shipment", self._cancel, rest[1]
        if len(rest) == 2 and rest[0] == "pickups" and m == "DELETE":
            return "cancel_pickup", self._cancel_pickup, rest[1]
        if len(rest) == 2 and rest[0] == "tracking" and m == "GET":
            return "track", self._track, rest[1]
        return None

    # -- auth -----------------------------------------------------------------------------------

    def _token(
        self, _arg: None, _q: Mapping[str, str], _h: Mapping[str, str], body: bytes
    ) -> FakeResponse:
        form = dict(httpx.QueryParams(body.decode()))
        if form.get("grant_type") != "client_credentials":
            raise _Error(400, "unsupported_grant_type", "only client_credentials is supported")
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self._client_secret
        ):
            raise _Error(401, "invalid_client", "client authentication failed")
        self._counter += 1
        token = f"fk_at_{self.seed}_{self._counter:06d}"
        self._tokens[token] = self.clock.now() + timedelta(seconds=self.token_lifetime)
        return _json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime},
        )

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        value = headers.get("authorization", "")
        token = value.removeprefix("Bearer ").strip()
        expires = self._tokens.get(token)
        if expires is None or self.clock.now() >= expires:
            raise _Error(401, "invalid_token", "missing, unknown or expired access token")

    def expire_tokens(self) -> None:
        """Make every issued token invalid (the next call gets a 401)."""
        self._tokens.clear()

    # -- operations -----------------------------------------------------------------------------

    def _validate(self, _a: None, _q: Any, _h: Any, payload: dict[str, Any]) -> FakeResponse:
        address = payload["address"]
        messages = []
        street = address.get("street") or []
        if not street:
            messages.append("street is missing")
        if not address.get("postal_code"):
            messages.append("postal code is missing")
        if not address.get("city"):
            messages.append("city is missing")
        suggestion = None
        city = address.get("city")
        if isinstance(city, str) and city != city.strip().title():
            suggestion = {**address, "city": city.strip().title()}
        residential = bool(address.get("residential")) or not address.get("company")
        return _json(
            200,
            {
                "valid": not messages,
                "messages": messages,
                "residential": residential,
                "suggestion": suggestion,
            },
        )

    def _quote(self, payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        country = str(payload["shipper"]["country"])
        currency = _CURRENCY.get(country, "EUR")
        kg = sum(
            (
                Decimal(str(p["weight"]["value"])) * _KG[p["weight"]["unit"]]
                for p in payload["packages"]
            ),
            Decimal(0),
        )
        base = Decimal(5) * len(payload["packages"]) + Decimal(2) * kg
        rates = []
        for service, (factor, days) in _SERVICES.items():
            amount = (base * factor).quantize(Decimal("0.01"))
            rates.append(
                {
                    "service": service,
                    "total": {"amount": _money(amount), "currency": currency},
                    "charges": [{"code": "BASE", "amount": _money(amount)}],
                    "transit_days": days,
                    "quote_id": f"q_{service}_{_money(amount)}",
                }
            )
        return currency, rates

    def _rates(self, _a: None, _q: Any, _h: Any, payload: dict[str, Any]) -> FakeResponse:
        _currency, rates = self._quote(payload)
        return _json(200, {"rates": rates})

    def _idempotent(
        self, headers: Mapping[str, str], payload: dict[str, Any], make: Callable[[], FakeResponse]
    ) -> FakeResponse:
        key = headers.get("idempotency-key")
        if not key:
            raise _Error(400, "idempotency_key_required", "send an Idempotency-Key header")
        fingerprint = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()
        seen = self._keys.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                raise _Error(422, "idempotency_key_reuse", "key was used with another payload")
            replay = seen[1]
            return attrs.evolve(replay, headers={**replay.headers, "idempotent-replayed": "true"})
        response = make()
        if response.status < 500:
            self._keys[key] = (fingerprint, response)
        return response

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:08d}"

    def _create(
        self, _a: None, _q: Any, headers: Mapping[str, str], payload: dict[str, Any]
    ) -> FakeResponse:
        return self._idempotent(headers, payload, lambda: self._book(payload))

    def _book(self, payload: dict[str, Any]) -> FakeResponse:
        try:
            scenario = scenario_from(
                payload.get("scenario"), payload.get("reference"), payload.get("order_reference")
            )
        except ValueError as exc:
            raise _Error(422, "unknown_scenario", "no such scenario") from exc
        service = str(payload.get("service") or "standard")
        if service not in _SERVICES:
            raise _Error(422, "unknown_service", "no such service")
        discrepancies = tuple(str(d) for d in payload.get("invoice_discrepancies") or ())
        unknown = [d for d in discrepancies if d not in DISCREPANCY_KINDS]
        if unknown:
            raise _Error(422, "unknown_discrepancy", "no such invoice discrepancy kind")
        currency, rates = self._quote(payload)
        quoted = Decimal(next(r for r in rates if r["service"] == service)["total"]["amount"])
        shipment_id = self._next_id("shp_")
        packages = []
        for package in payload["packages"]:
            tracking_number = self._next_id("FK")
            kg = Decimal(str(package["weight"]["value"])) * _KG[package["weight"]["unit"]]
            packages.append(_Package(tracking_number, kg, package.get("reference")))
            self._tracking[tracking_number] = (shipment_id, len(packages) - 1)
        record = _Shipment(
            id=shipment_id,
            reference=str(payload.get("reference") or shipment_id),
            service=service,
            currency=currency,
            created_at=self.clock.now(),
            scenario=scenario,
            packages=packages,
            recipient_residential=bool(payload["recipient"].get("residential")),
            quoted=quoted,
            discrepancies=discrepancies,
            raw={"label_format": payload.get("label_format", "pdf")},
        )
        self.shipments[shipment_id] = record
        self._queue_webhooks()
        return _json(201, self._shipment_json(record))

    def _shipment_json(self, record: _Shipment) -> dict[str, Any]:
        fmt = record.raw.get("label_format", "pdf")
        return {
            "id": record.id,
            "reference": record.reference,
            "service": record.service,
            "status": "cancelled" if record.cancelled_at else "booked",
            "scenario": record.scenario.value,
            "created_at": record.created_at.isoformat(),
            "total": {"amount": _money(record.quoted), "currency": record.currency},
            "packages": [
                {
                    "tracking_number": p.tracking_number,
                    "reference": p.reference,
                    "label": {
                        "format": fmt,
                        "data": base64.b64encode(_LABEL + p.tracking_number.encode()).decode(),
                    },
                }
                for p in record.packages
            ],
        }

    def _find(self, shipment_id: str) -> _Shipment:
        record = self.shipments.get(shipment_id)
        if record is None:
            raise _Error(404, "not_found", "no such shipment")
        return record

    def _get_shipment(self, shipment_id: str, _q: Any, _h: Any, _p: Any) -> FakeResponse:
        return _json(200, self._shipment_json(self._find(shipment_id)))

    def _cancel(self, shipment_id: str, _q: Any, _h: Any, _p: Any) -> FakeResponse:
        record = self._find(shipment_id)
        events = self._visible(record)
        if any(e["code"] in ("PU", "IT", "DL") for e in events) and record.cancelled_at is None:
            raise _Error(409, "not_cancellable", "the shipment is already on its way")
        if record.cancelled_at is None:
            record.cancelled_at = self.clock.now()
        return _json(200, {"id": record.id, "status": "cancelled"})

    def _pickup(
        self, _a: None, _q: Any, headers: Mapping[str, str], payload: dict[str, Any]
    ) -> FakeResponse:
        if datetime.fromisoformat(payload["ready_until"]) <= datetime.fromisoformat(
            payload["ready_from"]
        ):
            raise _Error(422, "invalid_window", "ready_until must be after ready_from")

        def make() -> FakeResponse:
            number = self._next_id("PU")
            record = {"confirmation_number": number, **payload, "status": "scheduled"}
            self.pickups[number] = record
            return _json(201, record)

        return self._idempotent(headers, payload, make)

    def _cancel_pickup(self, number: str, _q: Any, _h: Any, _p: Any) -> FakeResponse:
        record = self.pickups.get(number)
        if record is None:
            raise _Error(404, "not_found", "no such pickup")
        record["status"] = "cancelled"
        return FakeResponse(204)

    def _return(
        self, _a: None, _q: Any, headers: Mapping[str, str], payload: dict[str, Any]
    ) -> FakeResponse:
        def make() -> FakeResponse:
            original = self._find(str(payload["shipment_id"]))
            return_id = self._next_id("ret_")
            tracking_number = self._next_id("FR")
            label = base64.b64encode(_LABEL + tracking_number.encode()).decode()
            record = {
                "id": return_id,
                "shipment_id": original.id,
                "reference": original.reference,
                "tracking_number": tracking_number,
                "reason": payload.get("reason"),
                "label": {"format": payload.get("label_format", "pdf"), "data": label},
            }
            self.returns[return_id] = record
            return _json(201, record)

        return self._idempotent(headers, payload, make)

    # -- tracking -------------------------------------------------------------------------------

    def _events(self, record: _Shipment) -> list[dict[str, Any]]:
        """Every scripted event of ``record`` (visible or not), in time order."""
        events = []
        for index, package in enumerate(record.packages):
            seq = 0
            for hours, code, reason, text, city, only in SCENARIOS[record.scenario]:
                if only is not None and only != index:
                    continue
                seq += 1
                when = record.created_at + timedelta(hours=hours)
                if record.cancelled_at is not None and when > record.cancelled_at:
                    continue
                events.append(
                    {
                        "id": f"{package.tracking_number}-{seq:02d}",
                        "tracking_number": package.tracking_number,
                        "package_reference": package.reference,
                        "code": code,
                        "reason": reason,
                        "description": text,
                        "occurred_at": when.isoformat(),
                        "location": {"city": city, "country": "FR" if city != "Berlin" else "DE"},
                    }
                )
            if record.cancelled_at is not None:
                events.append(
                    {
                        "id": f"{package.tracking_number}-CA",
                        "tracking_number": package.tracking_number,
                        "package_reference": package.reference,
                        "code": "CA",
                        "reason": None,
                        "description": "Cancelled by the shipper",
                        "occurred_at": record.cancelled_at.isoformat(),
                        "location": None,
                    }
                )
        events.sort(key=lambda e: (e["occurred_at"], e["id"]))
        return events

    def _visible(self, record: _Shipment) -> list[dict[str, Any]]:
        now = self.clock.now().isoformat()
        return [e for e in self._events(record) if e["occurred_at"] <= now]

    def _track(self, tracking_number: str, _q: Any, _h: Any, _p: Any) -> FakeResponse:
        hit = self._tracking.get(tracking_number)
        if hit is None:
            raise _Error(404, "not_found", "no such tracking number")
        record = self.shipments[hit[0]]
        events = [e for e in self._visible(record) if e["tracking_number"] == tracking_number]
        return _json(
            200,
            {
                "tracking_number": tracking_number,
                "shipment_id": record.id,
                "reference": record.reference,
                "events": events,
            },
        )

    def _queue_webhooks(self) -> None:
        if not self.webhooks.configured:
            return
        for record in self.shipments.values():
            for event in self._visible(record):
                if event["id"] in self._emitted:
                    continue
                self._emitted.add(event["id"])
                self.webhooks.enqueue(
                    {
                        "type": "tracking.updated",
                        "data": {
                            "shipment_id": record.id,
                            "reference": record.reference,
                            "event": event,
                        },
                    }
                )

    # -- invoices -------------------------------------------------------------------------------

    def _invoices(self, _a: None, query: Mapping[str, str], _h: Any, _p: Any) -> FakeResponse:
        cursor = int(query.get("cursor", "0") or 0)
        limit = max(1, min(int(query.get("limit", "20") or 20), 100))
        since = query.get("since")
        items = [i for i in self.invoices.issued if since is None or i["issued_at"][:10] >= since]
        page = items[cursor : cursor + limit]
        more = cursor + limit < len(items)
        return _json(200, {"invoices": page, "next_cursor": str(cursor + limit) if more else None})

    # -- control API ----------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> FakeResponse:
        payload = json.loads(body) if body else {}
        action = path.removeprefix("/_control/")
        if action == "state" and method == "GET":
            return _json(
                200,
                {
                    "now": self.clock.now().isoformat(),
                    "shipments": len(self.shipments),
                    "requests": self.requests,
                    "faults_injected": self.faults_injected,
                    "webhooks_pending": self.webhooks.pending(),
                    "webhooks_failed": len(self.webhooks.failed),
                },
            )
        if action == "clock" and method == "POST":
            if "set" in payload:
                self.clock.set(datetime.fromisoformat(payload["set"]))
                self._queue_webhooks()
            else:
                self.advance(float(payload.get("advance", 0)))
            return _json(200, {"now": self.clock.now().isoformat()})
        if action == "faults" and method == "POST":
            plan = FaultPlan(
                rate=float(payload["rate"]),
                kinds=payload.get("kinds") or [f.value for f in Fault if f is not Fault.MALFORMED],
                retry_after=int(payload.get("retry_after", 1)),
                retry_after_date=bool(payload.get("retry_after_date", False)),
                after_share=float(payload.get("after_share", 0.5)),
                limit=payload.get("limit"),
            )
            self.set_faults(str(payload.get("endpoint", "*")), plan)
            return _json(200, {"ok": True})
        if action == "faults" and method == "DELETE":
            self.faults.clear()
            self._outages.clear()
            return _json(200, {"ok": True})
        if action == "outage" and method == "POST":
            self.outage(str(payload.get("endpoint", "*")), float(payload["seconds"]))
            return _json(200, {"ok": True})
        if action == "webhooks" and method == "POST":
            self.webhooks.configure(
                url=str(payload["url"]),
                secret=str(payload["secret"]),
                duplicates=float(payload.get("duplicates", 0.0)),
                reorder=bool(payload.get("reorder", False)),
                delay=float(payload.get("delay_seconds", 0.0)),
            )
            if payload.get("signing_clock") == "fake":
                self.webhooks.signing_clock = self.clock.time
            self._queue_webhooks()
            return _json(200, {"ok": True})
        if action == "webhooks/deliver" and method == "POST":
            results = self.webhooks.deliver()
            return _json(200, {"delivered": [{"id": i, "status": s} for i, s in results]})
        if action == "invoices" and method == "POST":
            return _json(201, {"invoices": self.issue_invoices()})
        if action == "reset" and method == "POST":
            self.reset()
            return _json(200, {"ok": True})
        return _json(404, {"error": {"code": "no_route", "message": "no such control endpoint"}})
