"""The Odoo chatter channel: a customer-visible message on the sale order (or the picking).

The message is posted with ``message_post`` as a ``comment`` of subtype ``mail.mt_comment``
(a discussion message, not an internal note), so Odoo notifies the record's followers by its own
rules: the customer, when they follow their order, gets it by e-mail or in the portal. The
record is found by the notification's order reference in ``lookup_field`` of ``model``. The
message carries ``message_id`` ``<notification id@shipsync>``; a message with that id already on
the record means it was posted before (a retry after an unknown outcome), and nothing is posted
again.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

import attrs

from shipsync.errors import (
    ChannelRejectedError,
    ChannelUnavailableError,
    OdooError,
    UnavailableError,
)
from shipsync.odoo import OdooGateway

from ._channel import OutboundMessage, SendReceipt

__all__ = ["OdooChatterChannel"]


@attrs.define
class OdooChatterChannel:
    """Posts notifications in the chatter of the Odoo record the order reference names.

    Args:
        gateway: an :class:`~shipsync.odoo.OdooGateway` (RPC or in-process).
        model: ``sale.order`` (default) or ``stock.picking``.
        lookup_field: the field holding the order reference (``name``).
        domain: the message-id domain (``<id@domain>``).
    """

    gateway: OdooGateway
    model: str = "sale.order"
    lookup_field: str = "name"
    domain: str = "shipsync"
    name: str = "odoo"

    @property
    def address(self) -> str | None:
        """Addressed by the order reference, not by the recipient."""
        return None

    def _call(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        try:
            return self.gateway.call(model, method, args, kwargs)
        except UnavailableError as exc:
            raise ChannelUnavailableError(
                f"Odoo cannot be reached: {exc}", channel=self.name
            ) from exc
        except OdooError as exc:
            raise ChannelRejectedError(
                f"Odoo refused {model}.{method}: {type(exc).__name__}: {exc}", channel=self.name
            ) from exc

    def _post(self, message: OutboundMessage) -> SendReceipt:
        reference = message.notification.order_reference
        if not reference:
            raise ChannelRejectedError(
                "the notification has no order reference to find the Odoo record by",
                channel=self.name,
            )
        found = self._call(
            self.model,
            "search_read",
            [[[self.lookup_field, "=", reference]]],
            {"fields": ["id"], "limit": 1},
        )
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            raise ChannelRejectedError(
                f"Odoo has no {self.model} with {self.lookup_field} = the order reference",
                channel=self.name,
            )
        record_id = found[0].get("id")
        if not isinstance(record_id, int):
            raise ChannelRejectedError("Odoo answered a record without an id", channel=self.name)
        message_id = f"<{message.id}@{self.domain}>"
        seen = self._call(
            "mail.message",
            "search_count",
            [
                [
                    ["message_id", "=", message_id],
                    ["model", "=", self.model],
                    ["res_id", "=", record_id],
                ]
            ],
            {},
        )
        if isinstance(seen, int) and seen > 0:
            return SendReceipt(message.id, self.name, detail="posted before")
        body = (
            f"<p><strong>{html.escape(message.subject)}</strong></p>"
            f"<p>{html.escape(message.text.strip()).replace(chr(10), '<br/>')}</p>"
        )
        posted = self._call(
            self.model,
            "message_post",
            [[record_id]],
            {
                "body": body,
                "message_type": "comment",
                "subtype_xmlid": "mail.mt_comment",
                "message_id": message_id,
            },
        )
        return SendReceipt(message.id, self.name, detail=f"mail.message {posted}")

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Post ``message`` on the record (in a thread: the gateway is synchronous)."""
        return await asyncio.to_thread(self._post, message)
