"""Outbound webhooks: signed, retried on a day-long schedule, recorded, replayable.

:class:`WebhookSender` delivers the due deliveries of an :class:`EndpointStore`: it claims them,
checks each target address (SSRF, :mod:`._guard`), signs the body with the endpoint's active
secrets in Standard Webhooks form (``webhook-id`` is the message id on every attempt), posts it
with a timeout and without following redirects, reads at most a capped excerpt of the answer and
records every attempt. A 2xx is a success; anything else (a 3xx included) is retried after the
next wait of :data:`DEFAULT_SCHEDULE` with jitter, and the delivery fails once the schedule runs
out. An endpoint failing every attempt for ``disable_after`` seconds is disabled until enabled
again. :class:`WebhookChannel` is the notify channel: it stores the message (a durable hand-off)
and makes the first attempt at once.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence

import attrs
import httpx

from shipsync.errors import ConfigurationError, EndpointNotAllowedError, ShipsyncError
from shipsync.webhooks import StandardWebhooksScheme, WebhookSigner

from ._channel import OutboundMessage, SendReceipt
from ._endpoints import Delivery, Endpoint, EndpointStore, _Result, redact
from ._guard import Resolver, resolve_target, system_resolver

__all__ = ["DEFAULT_SCHEDULE", "DeliveryReport", "WebhookChannel", "WebhookSender"]

DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Seconds before each attempt: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (~28 h)."""

_SCHEME = StandardWebhooksScheme()
_HEADERS = {"content-type": "application/json", "user-agent": "shipsync-webhooks"}


@attrs.define
class DeliveryReport:
    """What a delivery round did."""

    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    refused: int = 0


class _Bucket:
    """A token bucket: ``rate`` requests per second, bursts of up to ``rate`` (at least 1)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class WebhookSender:
    """Delivers due webhook deliveries from an :class:`EndpointStore`.

    Args:
        store: endpoints, messages, deliveries and attempts.
        client: the httpx client to post with (one is made, and closed by :meth:`aclose`).
        schedule: seconds before each attempt; its length is the number of attempts.
        jitter: each wait is stretched or shrunk by up to this fraction at random.
        timeout: seconds for a whole attempt, connection to the last byte read.
        max_excerpt: characters of the response kept (redacted) per attempt.
        disable_after: seconds of nothing but failures after which an endpoint is disabled.
        lease: seconds a claimed delivery is held before another sender may take it.
        concurrency: attempts in flight at once.
        resolver: resolves host names (tests give a fake one).
        clock: Unix seconds.
    """

    def __init__(
        self,
        store: EndpointStore,
        *,
        client: httpx.AsyncClient | None = None,
        schedule: Sequence[float] = DEFAULT_SCHEDULE,
        jitter: float = 0.1,
        timeout: float = 10.0,
        max_excerpt: int = 1024,
        disable_after: float = 5 * 86_400.0,
        lease: float = 60.0,
        concurrency: int = 8,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not schedule or any(not 0 <= s < float("inf") for s in schedule):
            raise ConfigurationError("a schedule is one or more waits >= 0 s", path="schedule")
        if not 0 <= jitter < 1:
            raise ConfigurationError("jitter is a fraction in [0, 1)", path="jitter")
        if not 0 < timeout < float("inf"):
            raise ConfigurationError("a timeout is a positive number of seconds", path="timeout")
        if lease <= timeout:
            raise ConfigurationError("the lease must be longer than the timeout", path="lease")
        self.store = store
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(
            follow_redirects=False,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max(concurrency, 1) * 2),
            trust_env=False,
        )
        self.schedule = tuple(float(s) for s in schedule)
        self.jitter = jitter
        self.timeout = timeout
        self.max_excerpt = max_excerpt
        self.disable_after = disable_after
        self.lease = lease
        self.concurrency = max(1, concurrency)
        self.resolver = resolver
        self.clock = clock or store.clock
        self._buckets: dict[str, _Bucket] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._signers: dict[str, tuple[tuple[str, ...], WebhookSigner]] = {}
        self._timeouts = httpx.Timeout(timeout).as_dict()

    async def aclose(self) -> None:
        """Close the client if this sender made it."""
        if self._own_client:
            await self.client.aclose()

    def next_at(self, attempts: int) -> float | None:
        """When attempt ``attempts + 1`` is due, or None when the schedule is spent."""
        if attempts >= len(self.schedule):
            return None
        wait = self.schedule[attempts]
        wait *= 1 + random.uniform(-self.jitter, self.jitter)
        return self.clock() + wait

    async def deliver_due(
        self, *, limit: int = 500, message_id: str | None = None, trigger: str = "scheduled"
    ) -> DeliveryReport:
        """Attempt every delivery due now (of one message, if given); record the attempts."""
        now = self.clock()
        claimed = await asyncio.to_thread(self.store.claim, now, self.lease, limit, message_id)
        report = DeliveryReport()
        if not claimed:
            return report
        self._endpoints = {e.id: e for e in await asyncio.to_thread(self.store.list)}

        claim_ends = time.monotonic() + self.lease - self.timeout
        finished: list[_Result] = []
        # Attempts run ``concurrency`` at a time; their records are written every ``batch``
        # finished attempts, so a sender killed mid-round repeats at most that many (plus those
        # in flight), while the store is not written once per request.
        batch = self.concurrency * 4
        queue = iter(claimed)
        writes: list[asyncio.Task[None]] = []

        def flush() -> None:
            # Written beside the next attempts (a thread waits on the disk, not the round).
            if finished:
                writes.append(asyncio.ensure_future(record(finished[:])))
                finished.clear()

        async def record(chunk: list[_Result]) -> None:
            await asyncio.to_thread(
                self.store.record, chunk, next_at=self.next_at, disable_after=self.disable_after
            )
            for r in chunk:
                report.attempted += 1
                if r.ok:
                    report.succeeded += 1
                elif r.error is not None and r.error.startswith("EndpointNotAllowedError"):
                    report.refused += 1
                else:
                    report.failed += 1

        async def worker() -> None:
            # ``concurrency`` workers pull from one queue: no task per attempt, no wait() set.
            for delivery in queue:
                result = await self._attempt(delivery, trigger, claim_ends)
                # An attempt whose claim would run out before it could finish is not made (a
                # long rate-limit queue, say): the claim ends and the delivery is due again.
                if result is not None:
                    finished.append(result)
                    if len(finished) >= batch:
                        flush()

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(claimed))):
                    group.create_task(worker())
        finally:
            flush()
            await asyncio.gather(*writes)
        return report

    async def run(
        self, *, interval: float = 1.0, stop: asyncio.Event | None = None
    ) -> DeliveryReport:
        """Deliver due deliveries until ``stop`` is set, looking again every ``interval`` s."""
        stop = stop or asyncio.Event()
        total = DeliveryReport()
        while not stop.is_set():
            report = await self.deliver_due()
            for field in attrs.fields(DeliveryReport):
                setattr(total, field.name, getattr(total, field.name) + getattr(report, field.name))
            if report.attempted:
                continue
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue
        return total

    def _signer(self, endpoint: Endpoint, at: float) -> WebhookSigner:
        """The endpoint's signer for its secrets active at ``at`` (kept while they stay so)."""
        secrets = tuple(endpoint.active_secrets(at))
        cached = self._signers.get(endpoint.id)
        if cached is None or cached[0] != secrets:
            cached = self._signers[endpoint.id] = (secrets, _SCHEME.signer(list(secrets)))
        return cached[1]

    async def _attempt(self, delivery: Delivery, trigger: str, claim_ends: float) -> _Result | None:
        endpoint = self._endpoints.get(delivery.endpoint_id)
        started = time.monotonic()
        at = self.clock()

        def result(status: int | None, ok: bool, error: str | None, text: str = "") -> _Result:
            return _Result(
                delivery=delivery,
                at=at,
                status=status,
                latency_ms=(time.monotonic() - started) * 1000,
                ok=ok,
                error=error,
                response=redact(text, self.max_excerpt),
                trigger=trigger,
            )

        if endpoint is None:
            return result(None, False, "the endpoint was deleted")
        if endpoint.rate_limit is not None:
            bucket = self._buckets.get(endpoint.id)
            if bucket is None or bucket.rate != endpoint.rate_limit:
                bucket = self._buckets[endpoint.id] = _Bucket(endpoint.rate_limit)
            await bucket.take()
            started = time.monotonic()
        if time.monotonic() > claim_ends:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                target = await resolve_target(
                    endpoint.url, allow_private=endpoint.allow_private, resolver=self.resolver
                )
                signer = self._signer(endpoint, at)
                headers = {
                    **signer.sign(delivery.body, msg_id=delivery.message_id, timestamp=int(at)),
                    **_HEADERS,
                    "host": target.host_header,
                }
                # A request built directly: no client defaults, cookies or URL merging to undo.
                request = httpx.Request(
                    "POST",
                    target.url,
                    content=delivery.body,
                    headers=headers,
                    extensions={"sni_hostname": target.sni_hostname, "timeout": self._timeouts},
                )
                response = await self.client.send(request, stream=True, follow_redirects=False)
                try:
                    excerpt = bytearray()
                    async for chunk in response.aiter_raw():
                        excerpt += chunk
                        if len(excerpt) >= self.max_excerpt:
                            break
                finally:
                    await response.aclose()
        except EndpointNotAllowedError as exc:
            return result(None, False, f"EndpointNotAllowedError: {exc}")
        except TimeoutError:
            return result(None, False, f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return result(None, False, f"{type(exc).__name__}: {exc}")
        except ShipsyncError as exc:  # a secret that cannot sign, say
            return result(None, False, f"{type(exc).__name__}: {exc}")
        text = bytes(excerpt).decode("utf-8", errors="replace")
        status = response.status_code
        if 200 <= status < 300:
            return result(status, True, None, text)
        if 300 <= status < 400:
            return result(status, False, "a redirect is not followed", text)
        return result(status, False, f"HTTP {status}", text)


@attrs.define
class WebhookChannel:
    """The notify channel of outbound webhooks.

    ``send`` stores the message for every endpoint that wants its event type (the durable
    hand-off: once it returns, the sender's schedule owns the message) and, with ``send_now``,
    makes the first attempt at once. A failed attempt is retried by :meth:`WebhookSender.run`,
    not by the dispatcher, so only a store outage dead-letters a notification here.
    """

    sender: WebhookSender
    name: str = "webhook"
    send_now: bool = True

    @property
    def address(self) -> str | None:
        """Webhooks are addressed by their endpoints, not by the recipient."""
        return None

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Store ``message`` for its endpoints and attempt it now."""
        body = json.dumps(
            {
                "type": message.event_type,
                "timestamp": message.notification.requested_at.isoformat(),
                "data": dict(message.payload),
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        targets = await asyncio.to_thread(
            self.sender.store.accept, message.id, message.event_type, body
        )
        if not self.send_now or not targets:
            return SendReceipt(message.id, self.name, detail=f"queued for {len(targets)}")
        report = await self.sender.deliver_due(message_id=message.id)
        return SendReceipt(
            message.id,
            self.name,
            detail=f"{len(targets)} endpoint(s): {report.succeeded} delivered now",
        )
