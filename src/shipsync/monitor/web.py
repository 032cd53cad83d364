"""The control tower: a read-only web page over the monitor store (``server`` extra).

:func:`create_app` returns a Starlette ASGI app to serve alone (``shipsync control-tower serve``)
or to mount in a host's own app. Pages are rendered on the server from Jinja2 templates; a small
script of our own polls ``/api/indicators`` to refresh the numbers.

Security: without :class:`TowerAuth` the app answers only clients on the loopback interface, and
:func:`serve` refuses to listen on another address without one. With it, every request needs the
bearer token or the basic credentials (compared in constant time). Personal data (names,
addresses, signatures) is redacted unless ``redact=False``. The only write is replaying a dead
letter, which takes an explicit confirmation step and needs the host's dispatcher.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import html
import ipaddress
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import attrs

from shipsync.canonical import SlaKind
from shipsync.errors import ConfigurationError, MissingDependencyError, ShipsyncError

from ._health import CarrierHealth
from ._policy import SlaPolicy
from ._store import MonitorStore, dead_letter_summary

try:
    import jinja2
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    from starlette.types import ASGIApp, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - the server extra
    raise MissingDependencyError("the control tower", "server") from exc

__all__ = [
    "RunningTower",
    "TowerAuth",
    "control_tower_for",
    "create_app",
    "serve",
    "serve_in_background",
]

_HERE = Path(__file__).parent
_PAGE = 50
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@attrs.frozen(repr=False)
class TowerAuth:
    """Credentials the control tower requires: a bearer token, basic credentials, or both."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.token is None and self.username is None:
            raise ConfigurationError("give a bearer token or basic credentials", path="auth")
        if self.token is not None and len(self.token) < 16:
            raise ConfigurationError("a bearer token has at least 16 characters", path="token")
        if (self.username is None) != (self.password is None):
            raise ConfigurationError("basic auth needs a user name and a password", path="password")
        if self.password is not None and len(self.password) < 12:
            raise ConfigurationError("a password has at least 12 characters", path="password")

    def __repr__(self) -> str:
        return f"TowerAuth(token={'***' if self.token else None}, username={self.username!r})"

    def allows(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries these credentials."""
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token is not None:
            return hmac.compare_digest(value.encode(), self.token.encode())
        if scheme.lower() == "basic" and self.username is not None and self.password is not None:
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            good_user = hmac.compare_digest(user.encode(), self.username.encode())
            good_password = hmac.compare_digest(password.encode(), self.password.encode())
            return good_user and good_password
        return False


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Guard:
    """Refuses requests without credentials (or, with none configured, from off the machine)."""

    def __init__(self, app: ASGIApp, auth: TowerAuth | None) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.auth is None:
            client = scope.get("client")
            if not _loopback(client[0] if client else None):
                await Response("the control tower answers only on 127.0.0.1", 403)(
                    scope, receive, send
                )
                return
        else:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization")
            if not self.auth.allows(raw.decode("latin-1") if raw else None):
                challenge = 'Basic realm="shipsync"' if self.auth.username else "Bearer"
                await Response(
                    "authentication required", 401, headers={"WWW-Authenticate": challenge}
                )(scope, receive, send)
                return

        async def secure(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, secure)


def _text(markup: str) -> str:
    """The text of an Odoo chatter note (our own renderer's small HTML), tags removed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds == float("inf"):
        return "> 7d"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


def create_app(
    store: MonitorStore,
    *,
    dead_letters: Any = None,
    dispatcher: Any = None,
    policy: SlaPolicy | None = None,
    auth: TowerAuth | None = None,
    health: CarrierHealth | None = None,
    clock: Callable[[], float] = time.time,
    redact: bool = True,
    refresh_seconds: float = 5.0,
) -> Starlette:
    """The control tower as an ASGI app.

    Args:
        store: the monitor store to read.
        dead_letters: the dead letter store to list and show.
        dispatcher: the host's dispatcher; with it, a dead letter can be replayed from the page.
        policy: the service levels (default thresholds otherwise).
        auth: required credentials; None answers loopback clients only.
        health: carrier API health to show.
        clock: seconds since the epoch (service levels are judged at this time).
        redact: hide personal data (the default).
        refresh_seconds: how often the page refreshes its numbers.
    """
    rules = policy or SlaPolicy()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["age"] = _age

    def page(name: str, code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("refresh_ms", int(refresh_seconds * 1000))
        context.setdefault("can_replay", dispatcher is not None)
        return HTMLResponse(env.get_template(name).render(**context), status_code=code)

    def indicators_now() -> Any:
        return store.indicators(rules, now=clock(), dead_letters=dead_letters)

    def flat(indicators: Any) -> dict[str, Any]:
        """The numbers the page shows, keyed as the page's ``data-indicator`` attributes."""
        values: dict[str, Any] = {"shipments": indicators.shipments}
        for name, count in indicators.by_status.items():
            values[f"status.{name}"] = count
        for sla in indicators.sla:
            values[f"sla.{sla.kind.value}.breached"] = sla.breached
            values[f"sla.{sla.kind.value}.at_risk"] = sla.at_risk
        for label, count in indicators.exceptions_by_age:
            values[f"exceptions.{label}"] = count
        values["invoices_pending"] = indicators.invoices_pending
        values["disputes_open"] = indicators.disputes_open
        for currency, amount in indicators.disputed_amounts.items():
            values[f"disputed.{currency}"] = str(amount)
        if indicators.dead_letters is not None:
            values["dlq.open"] = indicators.dead_letters.open
            values["dlq.oldest"] = _age(indicators.dead_letters.oldest_age)
        for lag in indicators.lag:
            values[f"lag.{lag.source}.p50"] = _age(lag.p50)
            values[f"lag.{lag.source}.p95"] = _age(lag.p95)
            values[f"lag.{lag.source}.count"] = lag.count
        return values

    async def home(request: Request) -> Response:
        indicators = indicators_now()
        return page(
            "index.html",
            indicators=indicators,
            values=flat(indicators),
            health=health.rows() if health is not None else [],
            policy=rules,
        )

    async def api_indicators(request: Request) -> Response:
        indicators = indicators_now()
        return JSONResponse({"values": flat(indicators), "at": indicators.at.isoformat()})

    async def shipments(request: Request) -> Response:
        query = request.query_params
        status = query.get("status") or None
        sla_name = query.get("sla") or None
        try:
            sla = SlaKind(sla_name) if sla_name else None
            offset = max(0, int(query.get("offset", "0")))
        except ValueError:
            return page("error.html", 400, message="unknown filter")
        risk = query.get("risk") == "1"
        rows = store.shipments(
            status=status,
            sla=sla,
            at_risk=risk,
            policy=rules,
            now=clock(),
            limit=_PAGE,
            offset=offset,
        )
        filters = {k: v for k, v in (("status", status), ("sla", sla_name)) if v}
        if risk:
            filters["risk"] = "1"
        more = urlencode({**filters, "offset": offset + _PAGE}) if len(rows) == _PAGE else None
        return page("shipments.html", rows=rows, status=status, sla=sla_name, risk=risk, more=more)

    async def timeline(request: Request) -> Response:
        from shipsync.odoo._render import event_body

        shipment_id = request.path_params["shipment_id"]
        found = store.timeline(shipment_id)
        if found is None:
            return page("error.html", 404, message="no such shipment")
        entries = []
        for entry in found.entries:
            tracking = entry.tracking
            details = (tracking.redacted() if (tracking is not None and redact) else None) or (
                tracking.model_dump(mode="json") if tracking is not None else None
            )
            entries.append(
                {
                    "entry": entry,
                    "description": (details or {}).get("carrier_description", ""),
                    "location": (details or {}).get("location"),
                    "reason": (details or {}).get("reason"),
                    "note": _text(event_body(tracking)) if tracking is not None else None,
                }
            )
        return page(
            "timeline.html",
            shipment=found.shipment,
            entries=entries,
            state=found.state,
        )

    async def dlq_list(request: Request) -> Response:
        letters = dead_letters.list(limit=500) if dead_letters is not None else []
        summary = dead_letter_summary(dead_letters, clock()) if dead_letters is not None else None
        return page(
            "dlq.html", letters=letters, summary=summary, configured=dead_letters is not None
        )

    def letter_or_none(request: Request) -> Any:
        if dead_letters is None:
            return None
        try:
            return dead_letters.get(int(request.path_params["letter_id"]))
        except (ValueError, ShipsyncError):
            return None

    def body_of(letter: Any) -> str:
        try:
            event = letter.event()
        except ShipsyncError:
            return "(the stored body does not parse)"
        shown = event.redacted() if redact else event.model_dump(mode="json")
        return json.dumps(shown, indent=2, default=str)

    async def dlq_show(request: Request) -> Response:
        letter = letter_or_none(request)
        if letter is None:
            return page("error.html", 404, message="no such dead letter")
        return page(
            "letter.html",
            letter=letter,
            body=body_of(letter),
            message=request.query_params.get("message"),
        )

    async def dlq_confirm(request: Request) -> Response:
        letter = letter_or_none(request)
        if letter is None:
            return page("error.html", 404, message="no such dead letter")
        if dispatcher is None:
            return page("error.html", 409, message="replay needs the host's dispatcher")
        nonce = secrets.token_urlsafe(16)
        pending[nonce] = (letter.id, time.monotonic() + 300)
        return page("confirm.html", letter=letter, nonce=nonce)

    async def dlq_replay(request: Request) -> Response:
        from shipsync.flows import DeadLetterFilter

        letter = letter_or_none(request)
        if letter is None:
            return page("error.html", 404, message="no such dead letter")
        if dispatcher is None:
            return page("error.html", 409, message="replay needs the host's dispatcher")
        raw = await request.body()
        if len(raw) > 4096:
            return page("error.html", 413, message="the form is too large")
        form = parse_qs(raw.decode("latin-1"), max_num_fields=8)
        nonce = (form.get("nonce") or [""])[0]
        held = pending.pop(nonce, None)
        if held is None or held[0] != letter.id or held[1] < time.monotonic():
            return page("error.html", 400, message="the confirmation expired: confirm again")
        report = await dispatcher.replay(DeadLetterFilter(ids=[letter.id]))
        if letter.id in report.succeeded or letter.id in report.already_done:
            message = "replayed: resolved"
        elif letter.id in report.failed:
            message = "replayed: failed again"
        else:
            message = "not replayed (skipped)"
        return RedirectResponse(
            f"/dlq/{letter.id}?{urlencode({'message': message})}", status_code=303
        )

    async def disputes(request: Request) -> Response:
        count, amounts = store.disputes()
        return page("disputes.html", rows=store.open_disputes(200), count=count, amounts=amounts)

    pending: dict[str, tuple[int, float]] = {}
    routes = [
        Route("/", home),
        Route("/api/indicators", api_indicators),
        Route("/shipments", shipments),
        Route("/shipments/{shipment_id:path}", timeline),
        Route("/dlq", dlq_list),
        Route("/dlq/{letter_id}", dlq_show),
        Route("/dlq/{letter_id}/replay", dlq_confirm, methods=["GET"]),
        Route("/dlq/{letter_id}/replay", dlq_replay, methods=["POST"]),
        Route("/disputes", disputes),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]

    async def unavailable(request: Request, exc: Exception) -> Response:
        # A store that went away (or refused a query): say so, never a stack trace.
        return page("error.html", 503, message=f"unavailable: {type(exc).__name__}")

    return Starlette(
        routes=routes,
        middleware=[Middleware(_Guard, auth=auth)],
        exception_handlers={ShipsyncError: unavailable},
    )


def _check_bind(host: str, auth: TowerAuth | None) -> None:
    if auth is None and not _loopback(host):
        raise ConfigurationError(
            "the control tower needs a bearer token or basic credentials to listen on "
            f"{host!r}; without them it serves 127.0.0.1 only",
            path="auth",
        )


def serve(
    app: Starlette, *, host: str = "127.0.0.1", port: int = 8780, auth: TowerAuth | None
) -> None:
    """Serve ``app`` until interrupted; refuses a non-loopback ``host`` without ``auth``.

    ``auth`` must be the one ``app`` was built with (None for neither).
    """
    import uvicorn

    _check_bind(host, auth)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")


@attrs.frozen
class RunningTower:
    """A control tower serving in a background thread."""

    url: str
    thread: threading.Thread
    server: Any

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_in_background(
    app: Starlette, *, host: str = "127.0.0.1", port: int = 0, auth: TowerAuth | None = None
) -> Iterator[RunningTower]:
    """Serve ``app`` in a thread while the block runs (``port`` 0: a free one); yield it.

    This is what ``shipsync demo --control-tower`` uses to keep the page up during the demo.
    """
    import uvicorn

    _check_bind(host, auth)
    chosen = port or _free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=chosen, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="control-tower", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigurationError(
                f"the control tower did not start on {host}:{chosen}", path="port"
            )
        time.sleep(0.01)
    running = RunningTower(f"http://{host}:{chosen}", thread, server)
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def control_tower_for(
    dispatcher: Any,
    *,
    store: MonitorStore,
    dead_letters: Any = None,
    sink: Any = None,
    policy: SlaPolicy | None = None,
    clock: Callable[[], float] = time.time,
    health: CarrierHealth | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[tuple[Any, RunningTower]]:
    """Subscribe a monitor to ``dispatcher`` and serve the control tower while the block runs.

    Yields the :class:`~shipsync.monitor.Monitor` (call its ``check`` now and then to raise
    breaches into ``sink``) and the running tower (its ``url``). Replay from the page goes through
    ``dispatcher``. This is the one call ``shipsync demo --control-tower`` needs.
    """
    from ._monitor import Monitor

    monitor = Monitor(store, policy, sink=sink, dead_letters=dead_letters, clock=clock)
    dispatcher.subscribe(None, monitor, name="monitor")
    app = create_app(
        store,
        dead_letters=dead_letters,
        dispatcher=dispatcher,
        policy=policy,
        clock=clock,
        health=health,
    )
    with serve_in_background(app, host=host, port=port) as running:
        yield monitor, running
