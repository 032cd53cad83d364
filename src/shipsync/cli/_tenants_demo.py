"""``shipsync demo --tenants N``: several tenants served by one shipsync at once, kept apart.

One fake carrier address serves a fake per tenant (``/t/<tenant>``), each accepting only its
tenant's credentials; one webhook endpoint (``/hooks/<tenant>``) verifies each delivery with its
tenant's secret; one idempotency store, one SQLite file and one dispatcher setup serve everyone,
each tenant through its own namespace and tables. Every tenant books the *same* shipment ids
under the *same* idempotency keys, and the carriers' webhooks arrive duplicated and reordered.
The closing checks prove, per tenant, that nothing was lost, nothing applied twice, and nothing
crossed over: each tenant's handlers saw exactly its own carrier's events, each tenant's tiles
count its own shipments, and a delivery signed with one tenant's secret is refused on another's
endpoint (an unknown tenant is refused too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipsync.canonical import Event
    from shipsync.flows import Dispatcher, HandlerContext
    from shipsync.tenants import Tenant
    from shipsync.webhooks import TenantWebhookReceiver

__all__ = ["run_tenants_demo"]

NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")
SOURCE = "shipsync/fake"
STEP_HOURS = 8
HOURS = 208


def tenant_ids(count: int) -> list[str]:
    """``count`` readable tenant ids."""
    return [NAMES[i] if i < len(NAMES) else f"tenant-{i + 1}" for i in range(count)]


@contextlib.contextmanager
def _serve_hooks(receiver: TenantWebhookReceiver, outcomes: Counter[str]) -> Iterator[str]:
    """Serve the tenant receiver at ``/hooks/{tenant}``; yield the base URL."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from shipsync.cli._demo import _serve_app

    async def hooks(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        receipt = receiver.receive(await request.body(), dict(request.headers), tenant=tenant)
        outcomes[f"{tenant}:{receipt.outcome.value}"] += 1
        return Response(receipt.reason, status_code=receipt.status, headers=receipt.headers)

    app = Starlette(routes=[Route("/hooks/{tenant}", hooks, methods=["POST"])])
    with _serve_app(app, "demo-tenant-hooks") as base:
        yield f"{base}/hooks"


def run_tenants_demo(
    *,
    tenants: int = 2,
    shipments: int = 20,
    seed: int = 7,
    echo: Callable[[str], None],
    workdir: Path | None = None,
) -> int:
    """Run the multi-tenant demo; return 0 when every check passed, 1 otherwise."""
    from shipsync.errors import MissingDependencyError

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("shipsync demo --tenants", "server") from exc
    quiet = logging.NullHandler()
    logger = logging.getLogger("shipsync")
    logger.addHandler(quiet)
    propagate, logger.propagate = logger.propagate, False
    try:
        if workdir is None:
            with tempfile.TemporaryDirectory(prefix="shipsync-tenants-") as tmp:
                return _run(tenant_ids(tenants), shipments, seed, echo, Path(tmp))
        workdir.mkdir(parents=True, exist_ok=True)
        return _run(tenant_ids(tenants), shipments, seed, echo, workdir)
    finally:
        logger.removeHandler(quiet)
        logger.propagate = propagate


def _run(ids: list[str], shipments: int, seed: int, echo: Callable[[str], None], work: Path) -> int:
    import httpx

    from shipsync.canonical import Milestone, event_for_tracking
    from shipsync.carriers import SleepRecorder, TenantCarrierClients
    from shipsync.carriers.fake import (
        RETRY_DELAYS,
        FakeCarrierService,
        FakeDriver,
        Scenario,
        TenantFakeCarriers,
        run_server,
    )
    from shipsync.flows import SQLiteEventLog, TenantFlows
    from shipsync.idempotency import SQLiteStore
    from shipsync.monitor import TenantMonitors
    from shipsync.tenants import StaticTenantResolver, Tenant
    from shipsync.testing.fake_carrier import sample_shipment
    from shipsync.webhooks import (
        StandardWebhooksScheme,
        TenantWebhookReceiver,
        generate_secret,
        tracking_parser,
    )

    started = time.monotonic()
    hook_secrets = {tenant_id: generate_secret() for tenant_id in ids}
    api_secrets = {tenant_id: f"{tenant_id}-api-{generate_secret()[-12:]}" for tenant_id in ids}
    fakes = TenantFakeCarriers(
        {
            tenant_id: FakeCarrierService(seed=seed + i, client_secret=api_secrets[tenant_id])
            for i, tenant_id in enumerate(ids)
        }
    )
    applied: Counter[tuple[str, str, str]] = Counter()  # (tenant, event id, what it says)
    lock = threading.Lock()
    outcomes: Counter[str] = Counter()
    events_db = work / "flows.db"

    def subscribe(tenant: Tenant, dispatcher: Dispatcher) -> None:
        def execution(event: Event, ctx: HandlerContext) -> None:
            with lock:
                applied[(tenant.id, event.id, _content(event))] += 1

        dispatcher.subscribe(None, execution, name="execution")
        monitors.subscribe(tenant, dispatcher)

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(run_server(fakes))
        resolver = StaticTenantResolver(
            Tenant(
                id=tenant_id,
                name=tenant_id.title(),
                webhooks={"fake": {"secrets": [hook_secrets[tenant_id]]}},
                carriers={
                    "fake": {
                        "settings": {
                            "base_url": TenantFakeCarriers.base_url(server.url, tenant_id)
                        },
                        "credentials": {"client_secret": api_secrets[tenant_id]},
                    }
                },
            )
            for tenant_id in ids
        )
        flows = TenantFlows.sqlite(
            resolver, events_db, store=SQLiteStore(work / "idem.db"), subscribe=subscribe
        )
        monitors = TenantMonitors.sqlite(
            resolver, work, dead_letters=lambda t: flows.dead_letters(t.id)
        )
        sinks = {
            tenant_id: SQLiteEventLog(
                events_db, table=resolver.resolve(tenant_id).table("shipsync_events")
            )
            for tenant_id in ids
        }
        receiver = TenantWebhookReceiver(
            resolver,
            source="fake",
            store=SQLiteStore(work / "dedupe.db"),
            sink=lambda t: sinks[t.id],
            parser=tracking_parser(FakeDriver().parse_webhook, source=SOURCE),
        )
        receiver.check(resolver.ids())  # every tenant's secret, at start-up
        hooks = stack.enter_context(_serve_hooks(receiver, outcomes))
        clients = TenantCarrierClients(resolver, options={"sleeper": SleepRecorder()})
        stack.callback(clients.close)
        for tenant_id in ids:
            fakes.service(tenant_id).webhooks.configure(
                url=f"{hooks}/{tenant_id}",
                secret=hook_secrets[tenant_id],
                duplicates=0.25,
                reorder=True,
            )
        http = stack.enter_context(httpx.Client(timeout=10))

        def send(url: str, headers: Mapping[str, str], body: bytes) -> int:
            return http.post(url, headers=dict(headers), content=body).status_code

        scenarios = list(Scenario)
        booked: dict[str, dict[str, tuple[str, ...]]] = {tenant_id: {} for tenant_id in ids}
        for i in range(shipments):  # the same ids and keys for every tenant
            for offset, tenant_id in enumerate(ids):  # but each tenant's own stories
                scenario = scenarios[(i + offset) % len(scenarios)]
                packages = 2 if scenario is Scenario.MULTI_PACKAGE_ONE_LATE else 1
                shipment = sample_shipment(
                    shipment_id=f"DEMO-{i + 1:05d}", scenario=scenario.value, packages=packages
                )
                result = clients.client(tenant_id, "fake").create_shipment(
                    shipment, idempotency_key=f"book-{i}"
                )
                booked[tenant_id][shipment.shipment_id] = result.tracking_numbers

        async def drain_all() -> None:
            for tenant_id in ids:
                await flows.drain(tenant_id)

        for _ in range(HOURS // STEP_HOURS):
            for tenant_id in ids:
                service = fakes.service(tenant_id)
                service.advance(STEP_HOURS * 3600)
                service.webhooks.deliver(send)
            asyncio.run(drain_all())
        for delay in RETRY_DELAYS:
            if not any(fakes.service(t).webhooks.pending() for t in ids):
                break
            for tenant_id in ids:
                fakes.service(tenant_id).advance(delay)
                fakes.service(tenant_id).webhooks.deliver(send)
        asyncio.run(drain_all())
        forged, unknown = _forgeries(ids, hook_secrets, hooks, http, StandardWebhooksScheme())

        truth: dict[str, set[tuple[str, str]]] = {}
        for tenant_id in ids:
            client = clients.client(tenant_id, "fake")
            truth[tenant_id] = {
                (event_for_tracking(t, source=SOURCE).id, _content(t))
                for numbers in booked[tenant_id].values()
                for number in numbers
                for t in client.track(number)
                if t.milestone is not Milestone.UNKNOWN
            }
        tiles = {tenant_id: monitors.indicators(tenant_id) for tenant_id in ids}
        letters = {
            tenant_id: len(letters_store.list())
            for tenant_id in ids
            if (letters_store := flows.dead_letters(tenant_id)) is not None
        }
        for sink in sinks.values():
            sink.close()
        asyncio.run(flows.close())
        monitors.close()

    return _summarise(
        echo=echo,
        ids=ids,
        shipments=shipments,
        elapsed=time.monotonic() - started,
        fakes=fakes,
        truth=truth,
        applied=applied,
        outcomes=outcomes,
        tiles=tiles,
        letters=letters,
        forged=forged,
        unknown=unknown,
    )


def _content(item: Any) -> str:
    """What a tracking event (or its canonical envelope) says: shipment, milestone and time."""
    data = getattr(item, "data", item)
    return f"{data.shipment_id}|{data.milestone.value}|{data.occurred_at.isoformat()}"


def _forgeries(
    ids: list[str], secrets: Mapping[str, str], hooks: str, http: Any, scheme: Any
) -> tuple[int, int]:
    """Post a delivery signed with each tenant's secret to the next tenant's endpoint, and one to
    an unknown tenant; return the two statuses seen (400 and 404 expected)."""
    from shipsync.testing.flows import make_tracking_event

    body = make_tracking_event("FORGED-1", 1).model_dump_json().encode()
    statuses = []
    for i, tenant_id in enumerate(ids):
        victim = ids[(i + 1) % len(ids)]
        headers = dict(scheme.signer(secrets[tenant_id]).sign(body, msg_id=f"forged-{i}"))
        statuses.append(http.post(f"{hooks}/{victim}", headers=headers, content=body).status_code)
    forged = next((status for status in statuses if status != 400), 400)
    headers = dict(scheme.signer(secrets[ids[0]]).sign(body, msg_id="forged-x"))
    unknown = http.post(f"{hooks}/nobody", headers=headers, content=body).status_code
    return forged, unknown


def _summarise(
    *,
    echo: Callable[[str], None],
    ids: list[str],
    shipments: int,
    elapsed: float,
    fakes: Any,
    truth: Mapping[str, set[tuple[str, str]]],
    applied: Counter[tuple[str, str, str]],
    outcomes: Counter[str],
    tiles: Mapping[str, Any],
    letters: Mapping[str, int],
    forged: int,
    unknown: int,
) -> int:
    echo("")
    echo(f"shipsync demo: {len(ids)} tenants x {shipments} shipments in {elapsed:.1f} s")
    header = f"{'':<34}" + "".join(f"{tenant_id:>10}" for tenant_id in ids)
    echo(header)

    def row(label: str, values: list[object]) -> None:
        echo(f"{label:<34}" + "".join(f"{value!s:>10}" for value in values))

    seen = {t: {(e, c) for (owner, e, c) in applied if owner == t} for t in ids}
    row("shipments at the tenant's carrier", [fakes.service(t).shipment_count() for t in ids])
    row("shipments on the tenant's tiles", [tiles[t].shipments for t in ids])
    row("carrier events", [len(truth[t]) for t in ids])
    row("events applied", [sum(n for (o, _, _), n in applied.items() if o == t) for t in ids])
    row("webhooks accepted", [outcomes[f"{t}:accepted"] for t in ids])
    row("duplicates absorbed", [outcomes[f"{t}:duplicate"] for t in ids])
    row("dead letters open", [letters.get(t, 0) for t in ids])
    checks = [
        (
            "each tenant booked its own shipments under the same keys",
            all(fakes.service(t).shipment_count() == shipments for t in ids),
        ),
        (
            "no event lost: each tenant saw all its carrier's events",
            all(truth[t] <= seen[t] for t in ids),
        ),
        (
            "nothing crossed over: each tenant saw only its own carrier's events",
            all(seen[t] <= truth[t] for t in ids),
        ),
        ("no event applied twice within a tenant", all(n == 1 for n in applied.values())),
        (
            "each tenant's tiles count its own shipments",
            all(tiles[t].shipments == shipments for t in ids),
        ),
        ("no dead letter open", all(n == 0 for n in letters.values())),
        ("a delivery signed for one tenant is refused on another's (400)", forged == 400),
        ("an unknown tenant is refused (404)", unknown == 404),
    ]
    echo("checks:")
    for text, ok in checks:
        echo(f"  [{'ok' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for _, ok in checks) else 1
