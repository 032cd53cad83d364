"""Signed tracking webhooks from the fake carrier, with duplicates, reordering and delays."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs
import httpx

from shipsync.carriers.fake._clock import FakeClock
from shipsync.webhooks import StandardWebhooksScheme

__all__ = ["RETRY_DELAYS", "Delivery", "WebhookOutbox"]

Send = Callable[[str, Mapping[str, str], bytes], int]

RETRY_DELAYS: tuple[float, ...] = (10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Seconds of the carrier's clock before each redelivery; after the last, a delivery is failed."""


@attrs.frozen
class Delivery:
    """One queued webhook delivery."""

    msg_id: str
    body: bytes
    due: float


@attrs.define(eq=False)
class _Queued:
    """A delivery waiting in the outbox: how often it was tried, and when it is due next."""

    delivery: Delivery
    due: float
    attempts: int = 0


def _post(url: str, headers: Mapping[str, str], body: bytes) -> int:
    return httpx.post(url, content=body, headers=dict(headers), timeout=5.0).status_code


class WebhookOutbox:
    """Queues one delivery per visible tracking event; :meth:`deliver` signs and sends them.

    Deliveries are signed with Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``) using the secret given to :meth:`configure`. ``duplicates`` is the
    share of deliveries sent twice (same ``webhook-id``), ``reorder`` shuffles each batch, and
    ``delay`` holds deliveries back for that many seconds of fake time.

    Signatures are timestamped by ``signing_clock``: real time (``time.time``) by default, so a
    host verifier running on real time accepts them; the in-process test kit
    (:class:`shipsync.testing.fake_carrier.FakeCarrier`) signs on the fake clock instead, because
    its clients verify on that clock. A delivery the receiver does not acknowledge with 2xx is
    sent again after :data:`RETRY_DELAYS` (10 s, 30 s, 1 min, 5 min, 15 min, 1 h of the
    carrier's clock), so calling :meth:`deliver` in a loop never floods the receiver; after the
    last attempt it moves to :attr:`failed`, where it stays for inspection.
    """

    def __init__(
        self, clock: FakeClock, *, seed: int = 0, signing_clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.signing_clock = signing_clock
        self._rng = random.Random(seed + 2)
        self.url: str | None = None
        self._secret: str | None = None
        self.duplicates = 0.0
        self.reorder = False
        self.delay = 0.0
        self._queue: list[_Queued] = []
        self._count = 0
        self.sent: list[Delivery] = []
        self.failed: list[Delivery] = []

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
        self._queue.append(_Queued(delivery, due))
        if self.duplicates and self._rng.random() < self.duplicates:
            self._queue.append(_Queued(delivery, due))

    def pending(self) -> int:
        """How many deliveries are queued (due or not)."""
        return len(self._queue)

    def deliver(self, send: Send | None = None) -> list[tuple[str, int]]:
        """Sign and send every due delivery; return ``(webhook-id, status)`` per attempt.

        A refused delivery (no 2xx, or no answer: status 0) is due again after the next delay of
        :data:`RETRY_DELAYS`; after the last it is moved to :attr:`failed`.
        """
        if not self.configured:
            return []
        assert self.url is not None
        assert self._secret is not None
        sender = send or _post
        now = self.clock.time()
        due = [entry for entry in self._queue if entry.due <= now]
        if self.reorder:
            self._rng.shuffle(due)
        signer = StandardWebhooksScheme().signer(self._secret, clock=self.signing_clock)
        results = []
        for entry in due:
            delivery = entry.delivery
            headers = {
                "content-type": "application/json",
                **signer.sign(delivery.body, msg_id=delivery.msg_id),
            }
            try:
                status = sender(self.url, headers, delivery.body)
            except httpx.HTTPError:
                status = 0
            results.append((delivery.msg_id, status))
            entry.attempts += 1
            if 200 <= status < 300:
                self._queue.remove(entry)
                self.sent.append(delivery)
            elif entry.attempts > len(RETRY_DELAYS):
                self._queue.remove(entry)
                self.failed.append(delivery)
            else:
                entry.due = now + RETRY_DELAYS[entry.attempts - 1]
        return results
