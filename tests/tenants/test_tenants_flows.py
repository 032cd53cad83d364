"""Event logs, dead letters, replays and indicators are scoped per tenant."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shipsync.canonical import Event, Milestone
from shipsync.flows import Dispatcher, HandlerContext, RetryPolicy, TenantFlows
from shipsync.idempotency import MemoryStore
from shipsync.monitor import TenantMonitors
from shipsync.tenants import StaticTenantResolver, Tenant
from shipsync.testing.flows import make_tracking_event

RESOLVER = StaticTenantResolver([Tenant(id="acme"), Tenant(id="beta")])


class World:
    """Two tenants' flows in one SQLite file, one shared idempotency store, a monitor each."""

    def __init__(self, tmp: Path) -> None:
        self.applied: Counter[tuple[str, str]] = Counter()
        self.broken: set[str] = set()  # tenants whose handler fails
        self.monitors = TenantMonitors.sqlite(
            RESOLVER, tmp, dead_letters=lambda t: self.flows.dead_letters(t.id)
        )
        self.flows = TenantFlows.sqlite(
            RESOLVER,
            tmp / "flows.db",
            store=MemoryStore(),
            subscribe=self.subscribe,
            retry=RetryPolicy(attempts=1),
        )

    def subscribe(self, tenant: Tenant, dispatcher: Dispatcher) -> None:
        def apply(event: Event, ctx: HandlerContext) -> None:
            if tenant.id in self.broken:
                raise RuntimeError("the ledger is down")
            self.applied[(tenant.id, event.id)] += 1

        dispatcher.subscribe(None, apply, name="ledger")
        self.monitors.subscribe(tenant, dispatcher)

    async def publish(self, tenant_id: str, *events: Event) -> None:
        await self.flows.log(tenant_id).publish(events)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    built = World(tmp_path)
    yield built
    await built.flows.close()
    built.monitors.close()


async def test_the_same_event_in_two_tenants_takes_effect_in_each(world: World) -> None:
    """One event id published to both tenants is applied once per tenant: the dispatchers share
    one idempotency store, each through its tenant's namespace (unscoped, beta's would be
    skipped as a duplicate of acme's)."""
    event = make_tracking_event("SHP-1", 1)
    await world.publish("acme", event)
    await world.publish("beta", event)
    assert (await world.flows.drain("acme")).events == 1
    assert (await world.flows.drain("beta")).events == 1
    assert world.applied == {("acme", event.id): 1, ("beta", event.id): 1}
    await world.publish("acme", event)  # a redelivery within acme is absorbed
    report = await world.flows.drain("acme")
    assert report.duplicates >= 1
    assert world.applied[("acme", event.id)] == 1


async def test_each_tenants_log_delivers_only_its_own_events(world: World) -> None:
    """acme's events never come out of beta's log."""
    await world.publish("acme", make_tracking_event("SHP-A", 1), make_tracking_event("SHP-A", 2))
    assert await world.flows.log("beta").receive(10, timeout=0.0) == []
    assert len(await world.flows.log("acme").receive(10, timeout=0.0)) == 2


async def test_dead_letters_and_replays_are_per_tenant(world: World) -> None:
    """acme's failing handler dead-letters into acme's store only; replaying beta touches none of
    acme's letters; replaying acme once it is fixed resolves them."""
    world.broken.add("acme")
    for tenant_id in ("acme", "beta"):
        await world.publish(tenant_id, make_tracking_event("SHP-1", 1))
        await world.flows.drain(tenant_id)
    acme_letters = world.flows.dead_letters("acme")
    beta_letters = world.flows.dead_letters("beta")
    assert acme_letters is not None
    assert beta_letters is not None
    assert len(acme_letters.list()) == 1
    assert beta_letters.list() == []
    world.broken.clear()
    beta_replay = await world.flows.replay("beta")
    assert (beta_replay.succeeded, beta_replay.failed, beta_replay.skipped) == ([], [], [])
    assert len(acme_letters.list()) == 1  # still open: beta's replay did not touch it
    acme_replay = await world.flows.replay("acme")
    assert len(acme_replay.succeeded) == 1
    assert acme_letters.list() == []


async def test_indicators_are_per_tenant(world: World) -> None:
    """Each tenant's tiles count its own shipments and its own open dead letters."""
    await world.publish("acme", make_tracking_event("SHP-A1", 1), make_tracking_event("SHP-A2", 1))
    await world.publish("beta", make_tracking_event("SHP-B1", 1, Milestone.DELIVERED))
    await world.flows.drain("acme")
    await world.flows.drain("beta")
    world.broken.add("beta")
    await world.publish("beta", make_tracking_event("SHP-B2", 1))
    await world.flows.drain("beta")
    acme, beta = world.monitors.indicators("acme"), world.monitors.indicators("beta")
    assert acme.shipments == 2
    assert beta.shipments == 2
    assert acme.by_status == {"in_transit": 2}
    assert beta.by_status.get("delivered") == 1
    assert acme.dead_letters is not None
    assert beta.dead_letters is not None
    assert (acme.dead_letters.open, beta.dead_letters.open) == (0, 1)


async def test_unknown_tenants_have_no_flows(world: World) -> None:
    """An unknown or malformed tenant id is refused before any table is made."""
    from shipsync.errors import UnknownTenantError

    for bad in ("gamma", "acme; DROP TABLE x", "ACME"):
        with pytest.raises(UnknownTenantError):
            world.flows.log(bad)
        with pytest.raises(UnknownTenantError):
            world.monitors.monitor(bad)
    assert world.flows.tenants() == ()


async def test_postgres_logs_dead_letters_and_keys_are_per_tenant(postgres_dsn: str) -> None:
    """On PostgreSQL (one database, one idempotency table): the same event in two tenants takes
    effect in each, and one tenant's failure dead-letters and replays in its own tables only."""
    import uuid

    from shipsync.flows import AsyncPostgresEventLog, PostgresDeadLetters
    from shipsync.idempotency import PostgresStore

    run = uuid.uuid4().hex[:8]
    tenants = [Tenant(id=t, event_log_partition=f"{t}_{run}") for t in ("acme", "beta")]
    resolver = StaticTenantResolver(tenants)
    store = PostgresStore(postgres_dsn, table=f"idem_{run}")
    applied: Counter[tuple[str, str]] = Counter()
    broken = {"acme"}

    def subscribe(tenant: Tenant, dispatcher: Dispatcher) -> None:
        def apply(event: Event, ctx: HandlerContext) -> None:
            if tenant.id in broken:
                raise RuntimeError("down")
            applied[(tenant.id, event.id)] += 1

        dispatcher.subscribe(None, apply, name="ledger")

    flows = TenantFlows(
        resolver,
        store=store,
        log=lambda t: AsyncPostgresEventLog(postgres_dsn, table=t.table("ev")),
        dead_letters=lambda t: PostgresDeadLetters(postgres_dsn, table=t.table("dl")),
        subscribe=subscribe,
        retry=RetryPolicy(attempts=1),
    )
    try:
        event = make_tracking_event("SHP-1", 1)
        for tenant in tenants:
            await flows.log(tenant.id).publish([event])
            await flows.drain(tenant.id)
        assert applied == {("beta", event.id): 1}
        acme_letters, beta_letters = flows.dead_letters("acme"), flows.dead_letters("beta")
        assert acme_letters is not None
        assert beta_letters is not None
        assert (len(acme_letters.list()), len(beta_letters.list())) == (1, 0)
        broken.clear()
        assert (await flows.replay("beta")).succeeded == []
        assert len((await flows.replay("acme")).succeeded) == 1
        assert applied == {("acme", event.id): 1, ("beta", event.id): 1}
    finally:
        for tenant in tenants:
            log = flows.log(tenant.id)
            assert isinstance(log, AsyncPostgresEventLog)
            log.sync.drop_tables()
            letters = flows.dead_letters(tenant.id)
            assert isinstance(letters, PostgresDeadLetters)
            letters.drop_table()
        await flows.close()
        store.close()
        import psycopg

        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            for suffix in ("", "_fence", "_claim", "_complete"):
                kind = {"": "TABLE", "_fence": "SEQUENCE"}.get(suffix, "FUNCTION")
                conn.execute(f"DROP {kind} IF EXISTS idem_{run}{suffix}")


async def test_rabbitmq_queues_dead_letters_and_replays_are_per_tenant(
    amqp_url: str, tmp_path: Path
) -> None:
    """On RabbitMQ (one broker, a log of queues per tenant, named after its partition): each
    tenant's events come out of its own queues only; one event id published in both tenants is
    two events, handled once in each; acme's failures dead-letter into acme's store and replay
    from there only; a poison message of acme's goes to acme's dead-letter queue, not beta's."""
    import uuid

    from shipsync.flows import RabbitMQEventLog, SQLiteDeadLetters
    from shipsync.testing.flows import drain

    run = uuid.uuid4().hex[:8]
    tenants = [Tenant(id=t, event_log_partition=f"{t}_{run}") for t in ("acme", "beta")]
    resolver = StaticTenantResolver(tenants)
    seen: Counter[tuple[str, str]] = Counter()
    applied: Counter[tuple[str, str]] = Counter()
    broken = {"acme"}

    def subscribe(tenant: Tenant, dispatcher: Dispatcher) -> None:
        def apply(event: Event, ctx: HandlerContext) -> None:
            if not ctx.replay:
                seen[(tenant.id, event.id)] += 1
            if tenant.id in broken:
                raise RuntimeError("down")
            applied[(tenant.id, event.id)] += 1

        dispatcher.subscribe(None, apply, name="ledger")

    flows = TenantFlows(
        resolver,
        store=MemoryStore(),
        log=lambda t: RabbitMQEventLog(
            amqp_url, name=f"shipsync-test.{t.partition}", queues=2, delivery_limit=2
        ),
        dead_letters=lambda t: SQLiteDeadLetters(tmp_path / "dl.db", table=t.table("dl")),
        subscribe=subscribe,
        retry=RetryPolicy(attempts=1),
    )
    shared = make_tracking_event("SHP-1", 1)
    only_acme, only_beta = make_tracking_event("SHP-A", 1), make_tracking_event("SHP-B", 1)
    try:
        await flows.log("acme").publish([shared, only_acme])
        await flows.log("beta").publish([shared, only_beta])
        assert (await flows.drain("acme", timeout=2.0)).dead_lettered == 2
        assert (await flows.drain("beta", timeout=2.0)).effects == 2
        assert seen == {
            ("acme", shared.id): 1,
            ("acme", only_acme.id): 1,
            ("beta", shared.id): 1,
            ("beta", only_beta.id): 1,
        }
        assert applied == {("beta", shared.id): 1, ("beta", only_beta.id): 1}
        acme_letters, beta_letters = flows.dead_letters("acme"), flows.dead_letters("beta")
        assert acme_letters is not None
        assert beta_letters is not None
        assert sorted(letter.event_id for letter in acme_letters.list()) == sorted(
            [shared.id, only_acme.id]
        )
        assert beta_letters.list() == []
        broken.clear()
        beta_replay = await flows.replay("beta")
        assert (beta_replay.succeeded, beta_replay.failed) == ([], [])
        assert len((await flows.replay("acme")).succeeded) == 2
        assert applied[("acme", shared.id)] == applied[("beta", shared.id)] == 1
        assert acme_letters.list() == []

        acme_log, beta_log = flows.log("acme"), flows.log("beta")
        assert isinstance(acme_log, RabbitMQEventLog)
        assert isinstance(beta_log, RabbitMQEventLog)
        poison = make_tracking_event("SHP-P", 1)  # given back until it dead-letters
        await acme_log.publish([poison])
        for _ in range(3):
            got = await drain(acme_log, 1, ack=False, timeout=5)
            assert [d.event.id for d in got if d.event is not None] == [poison.id]
            await acme_log.release(got)
        assert await acme_log.receive(10, timeout=0.5) == []
        assert await beta_log.receive(10, timeout=0.5) == []
        assert (await acme_log.dead_count(), await beta_log.dead_count()) == (1, 0)
    finally:
        for tenant in tenants:
            log = flows.log(tenant.id)
            assert isinstance(log, RabbitMQEventLog)
            await log.delete()
        await flows.close()
