"""Signed tracking webhooks from the fake carrier, with duplicates, reordering and delays."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs
import httpx

from shipsync.carriers.fake._clock import FakeClock
from shipsync.webhooks import StandardWebhooksScheme

__all__ = ["Delivery", "WebhookOutbox"]

Send = Callable[[str, Mapping[str, str], bytes], int]


@attrs.frozen
class Delivery:
    """One queued webhook delivery."""

    msg_id: str
    body: bytes
    due: float


def _post(url: str, headers: Mapping[str, str], body: bytes) -> int:
    return httpx.post(url, content=body, headers=dict(headers), timeout=5.0).status_code


class WebhookOutbox:
    """Queues one delivery per visible tracking event; :meth:`deliver` signs and sends them.

    Deliveries are signed with Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``) using the secret given to :meth:`configure`. ``duplicates`` is the
    share of deliveries sent twice (same ``webhook-id``), ``reorder`` shuffles each batch, and
    ``delay`` holds deliveries back for that many seconds of fake time. A delivery the receiver
    does not acknowledge with 2xx stays queued.
    """

    def __init__(self, clock: FakeClock, *, seed: int = 0) -> None:
        self.clock = clock
        self._rng = random.Random(seed + 2)
        self.url: str | None = None
        self._secret: str | None = None
        self.duplicates = 0.0
        self.reorder = False
        self.delay = 0.0
        self._queue: list[Delivery] = []
        self._count = 0
        self.sent: list[Delivery] = []

    @property
    def configured(self) -> bool:
        """Whether a URL and a secret were configured."""
        return self.url is not None and self._secret is not None

    def configure(
        self,
        *,
        url: str,
        secret: str,
        duplicates: float = 0.0,
        reorder: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Send deliveries to ``url`` signed with ``secret`` (a ``whsec_…`` value)."""
        StandardWebhooksScheme().signer(secret)  # fail early on a malformed secret
        self.url = url
        self._secret = secret
        self.duplicates = duplicates
        self.reorder = reorder
        self.delay = delay

    def enqueue(self, payload: Mapping[str, Any]) -> None:
        """Queue one delivery of ``payload`` (maybe twice, when duplicates are injected)."""
        self._count += 1
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        due = (self.clock.now() + timedelta(seconds=self.delay)).timestamp()
        delivery = Delivery(f"msg_fake_{self._count:08d}", body, due)
        self._queue.append(delivery)
        if self.duplicates and self._rng.random() < self.duplicates:
            self._queue.append(delivery)

    def pending(self) -> int:
        """How many deliveries are queued (due or not)."""
        return len(self._queue)

    def deliver(self, send: Send | None = None) -> list[tuple[str, int]]:
        """Sign and send every due delivery; return ``(webhook-id, status)`` per attempt."""
        if not self.configured:
            return []
        assert self.url is not None
        assert self._secret is not None
        sender = send or _post
        now = self.clock.time()
        due = [d for d in self._queue if d.due <= now]
        if self.reorder:
            self._rng.shuffle(due)
        signer = StandardWebhooksScheme().signer(self._secret, clock=self.clock.time)
        results = []
        for delivery in due:
            headers = {
                "content-type": "application/json",
                **signer.sign(delivery.body, msg_id=delivery.msg_id, timestamp=int(now)),
            }
            try:
                status = sender(self.url, headers, delivery.body)
            except httpx.HTTPError:
                status = 0
            results.append((delivery.msg_id, status))
            if 200 <= status < 300:
                self._queue.remove(delivery)
                self.sent.append(delivery)
        return results
