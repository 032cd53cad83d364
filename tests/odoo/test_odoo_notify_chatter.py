"""The notify Odoo chatter channel against Odoo 18: a customer-visible message, posted once.

Replayed from cassettes recorded against a real Odoo 18.0 (see ``conftest.py``); live when the
``ODOO_*`` variables are set. The test confirms a sale order, which makes its customer a
follower by Odoo's own rules, so the posted comment notifies the customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shipsync.notify import (
    CustomerStatus,
    Notification,
    OdooChatterChannel,
    Recipient,
    Renderer,
)
from shipsync.odoo import RpcGateway

T0 = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def _notification(order: str, number: int) -> Notification:
    return Notification(
        notification_id=f"4f2c9d1e-0000-5000-8000-00000000000{number}",
        channel="odoo",
        shipment_id="SHP-NOTIFY-1",
        recipient=Recipient(id="odoo-customer", name="Ada Chatter"),
        status=CustomerStatus.OUT_FOR_DELIVERY,
        changed_at=T0,
        requested_at=T0,
        order_reference=order,
        carrier="fake",
        tracking_numbers=("1ZNOTIFY0001",),
    )


def test_the_chatter_channel_posts_a_comment_that_notifies_the_customer_once(
    gateway: RpcGateway, cassette: Any
) -> None:
    """On a confirmed order the post is a Discussions comment notifying the customer; sending
    the same notification again posts nothing more."""
    partner = gateway.call(
        "res.partner", "create", [{"name": "Ada Chatter", "email": "ada.chatter@example.com"}]
    )
    order_id = gateway.call("sale.order", "create", [{"partner_id": partner}])
    gateway.call("sale.order", "action_confirm", [[order_id]])
    [order] = gateway.call("sale.order", "read", [[order_id]], {"fields": ["name"]})
    channel = OdooChatterChannel(gateway)
    message = Renderer().render(_notification(order["name"], 1))

    import asyncio

    first = asyncio.run(channel.send(message))
    again = asyncio.run(channel.send(message))

    assert again.detail == "posted before"
    posted = gateway.call(
        "mail.message",
        "search_read",
        [[["message_id", "=", f"<{message.id}@shipsync>"]]],
        {"fields": ["message_type", "subtype_id", "notified_partner_ids", "model", "res_id"]},
    )
    assert len(posted) == 1
    (row,) = posted
    assert first.detail == f"mail.message {row['id']}"
    assert row["message_type"] == "comment"
    assert row["subtype_id"][1] == "Discussions"
    assert (row["model"], row["res_id"]) == ("sale.order", order_id)
    assert row["notified_partner_ids"] == [partner]
