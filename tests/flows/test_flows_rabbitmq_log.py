"""The RabbitMQ event log passes the shared suite; poison messages reach the dead-letter queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shipsync.errors import ConfigurationError, EventLogUnavailableError
from shipsync.flows import AsyncEventLog, BlockingEventLog, RabbitMQEventLog
from shipsync.testing.flows import EventLogConformance, OpenLog, drain, make_tracking_event

pytestmark = pytest.mark.services


class TestRabbitMQConformance(EventLogConformance):
    redelivery_timeout = 5.0
    parallel_partitions = False  # queues are spread over workers by consumer_index shares

    @pytest.fixture
    async def open_log(self, amqp_url: str) -> AsyncIterator[OpenLog]:
        name = f"flows-test-{uuid.uuid4().hex[:10]}"

        async def open_() -> AsyncEventLog:
            return RabbitMQEventLog(amqp_url, name=name, queues=3)

        yield open_
        cleanup = RabbitMQEventLog(amqp_url, name=name, queues=3)
        await cleanup.delete()


async def test_a_poison_message_goes_to_the_dead_letter_queue(amqp_url: str) -> None:
    """A message given back more than delivery_limit times is dead-lettered, not looped."""
    log = RabbitMQEventLog(
        amqp_url, name=f"flows-test-{uuid.uuid4().hex[:10]}", queues=1, delivery_limit=2
    )
    try:
        await log.publish([make_tracking_event("S1", 1)])
        for _ in range(3):
            got = await drain(log, 1, ack=False, timeout=5)
            assert len(got) == 1
            await log.release(got)
        assert await log.receive(10, timeout=0.5) == []
        assert await log.dead_count() == 1
    finally:
        await log.delete()


async def test_an_unreachable_broker_is_unavailable() -> None:
    """A broker that does not answer is an EventLogUnavailableError without the password."""
    log = RabbitMQEventLog("amqp://u:s3cret@127.0.0.1:1/", name="x")
    with pytest.raises(EventLogUnavailableError) as caught:
        await log.publish([make_tracking_event("S1", 1)])
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("name", ["", "a b", "x" * 101])
def test_log_names_are_checked(name: str) -> None:
    """A log name is a short plain word."""
    with pytest.raises(ConfigurationError):
        RabbitMQEventLog("amqp://localhost/", name=name)


def test_a_blocking_face_lets_sync_code_use_the_rabbitmq_log(amqp_url: str) -> None:
    """BlockingEventLog: a synchronous webhook sink and consumer over the async RabbitMQ log."""
    from shipsync.webhooks import EventSink

    name = f"flows-test-{uuid.uuid4().hex[:10]}"
    log = BlockingEventLog(lambda: RabbitMQEventLog(amqp_url, name=name, queues=2))
    try:
        assert isinstance(log, EventSink)
        events = [make_tracking_event("S1", n) for n in (1, 2)]
        log.publish(events)
        got = log.receive(10, timeout=5)
        assert [d.event for d in got] == events
        log.ack(got)
        assert log.receive(10, timeout=0.3) == []
    finally:
        log._run(log.log.delete())  # type: ignore[attr-defined]
        log.close()
