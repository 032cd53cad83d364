"""Change capture from Odoo over RPC: what changed in a model since the last look, exactly once.

Theory of operation. Odoo stamps every write with ``write_date`` (to the second, taken when
the transaction started, not when it commits), and many records share one stamp. A feed reads a
model in ``(write_date, id)`` order with a keyset condition ``(write_date, id) > position``, so
records sharing a second are neither skipped nor read twice across pages, whatever the page
size. A transaction that commits late shows records stamped *before* what the feed has already
passed: each poll therefore starts again ``lookback`` behind its cursor and hands out only the
``(id, write_date)`` keys it has not handed out before (the cursor keeps those of the window).
A record changed again gets a new stamp, so it comes out again: the feed is a stream of changes
to records matching the filter, at least once per change and never twice for one change.

A poll reads at most ``batch`` changes, a page of ``page`` rows per request, and returns them
with the cursor that follows them; nothing is stored until the consumer calls
:meth:`ChangeFeed.commit` after handling them, so a consumer that dies before committing gets
the same changes again (hence at least once) and one that commits never sees them again.

Multi-company: a feed reads as its user in the ``companies`` it is given (the context's
``allowed_company_ids``, and a ``company_id`` filter), and its cursor is kept per company set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from shipsync.errors import ConfigurationError, OdooResponseError
from shipsync.odoo._answers import rows
from shipsync.odoo._cursors import EPOCH, CursorStore, FeedCursor
from shipsync.odoo._gateway import OdooGateway

__all__ = [
    "FEEDS",
    "ORDERS_CONFIRMED",
    "PICKINGS_CANCELLED",
    "PICKINGS_READY",
    "RETURNS_CREATED",
    "Change",
    "ChangeBatch",
    "ChangeFeed",
    "FeedFilter",
]

_ODOO_FORMAT = "%Y-%m-%d %H:%M:%S"


@attrs.frozen
class FeedFilter:
    """Which records of a model a feed watches, and the fields it reads of each."""

    name: str
    model: str
    domain: tuple[tuple[str, str, Any], ...]
    fields: tuple[str, ...]
    company_field: str | None = "company_id"


_PICKING_FIELDS = (
    "name",
    "state",
    "company_id",
    "partner_id",
    "carrier_id",
    "carrier_tracking_ref",
    "sale_id",
    "origin",
    "scheduled_date",
    "date_deadline",
    "picking_type_code",
    "return_id",
    "shipping_weight",
    "weight",
)

PICKINGS_READY = FeedFilter(
    "picking.ready",
    "stock.picking",
    (
        ("picking_type_code", "=", "outgoing"),
        ("state", "=", "assigned"),
        ("carrier_id", "!=", False),
        ("carrier_tracking_ref", "=", False),
    ),
    _PICKING_FIELDS,
)
"""Outgoing pickings ready to ship (``assigned``) with a carrier and no tracking number yet."""

PICKINGS_CANCELLED = FeedFilter(
    "picking.cancelled",
    "stock.picking",
    (("picking_type_code", "=", "outgoing"), ("state", "=", "cancel")),
    _PICKING_FIELDS,
)
"""Outgoing pickings cancelled (booked or not: the consumer tells)."""

RETURNS_CREATED = FeedFilter(
    "return.initiated",
    "stock.picking",
    (("return_id", "!=", False), ("state", "!=", "cancel")),
    _PICKING_FIELDS,
)
"""Return pickings (``return_id`` names the picking they return, Odoo 17 and later)."""

ORDERS_CONFIRMED = FeedFilter(
    "order.confirmed",
    "sale.order",
    (("state", "=", "sale"),),
    (
        "name",
        "state",
        "company_id",
        "partner_id",
        "partner_shipping_id",
        "date_order",
        "commitment_date",
        "amount_total",
        "currency_id",
        "carrier_id",
    ),
)
"""Sale orders confirmed."""

FEEDS: Mapping[str, FeedFilter] = {
    f.name: f for f in (PICKINGS_READY, PICKINGS_CANCELLED, RETURNS_CREATED, ORDERS_CONFIRMED)
}
"""The built-in filters by name."""


@attrs.frozen
class Change:
    """One change of one record: its id, the ``write_date`` of the change and the fields read."""

    feed: str
    record_id: int
    write_date: str
    row: Mapping[str, Any]


@attrs.frozen
class ChangeBatch:
    """Changes read by one poll, the cursor to commit once they are handled, and its cost."""

    feed: str
    changes: tuple[Change, ...]
    cursor: FeedCursor
    round_trips: int
    more: bool
    """True when the poll stopped at ``batch`` changes: poll again without waiting."""


def _parse(value: str, where: str) -> datetime:
    try:
        return datetime.strptime(value, _ODOO_FORMAT)
    except (TypeError, ValueError):
        raise OdooResponseError(f"Odoo answered {where} with a write_date {value!r}") from None


def _keyset(write_date: str, record_id: int) -> list[Any]:
    """``(write_date, id) > (write_date, record_id)`` as an Odoo domain."""
    return [
        "|",
        ["write_date", ">", write_date],
        "&",
        ["write_date", "=", write_date],
        ["id", ">", record_id],
    ]


class ChangeFeed:
    """A durable, bounded change feed of one model filtered by a :class:`FeedFilter`.

    Args:
        gateway: where to read.
        spec: what to watch (one of :data:`FEEDS` or your own filter).
        cursors: where the cursor is kept (:class:`~shipsync.odoo.SQLiteCursorStore`, ...).
        lookback: how far behind its cursor each poll looks again for late commits; longer
            than the longest transaction that writes the model.
        batch: at most this many changes per poll.
        page: rows per request.
        companies: company ids to read in (empty: the user's default companies).
        start: the ``write_date`` a new feed starts from (default: the beginning).
    """

    def __init__(
        self,
        gateway: OdooGateway,
        spec: FeedFilter,
        cursors: CursorStore,
        *,
        lookback: timedelta = timedelta(seconds=60),
        batch: int = 500,
        page: int = 200,
        companies: Sequence[int] = (),
        start: str = EPOCH,
    ) -> None:
        if not 1 <= batch <= 100_000:
            raise ConfigurationError("batch is 1 to 100,000 changes", path="batch")
        if not 1 <= page <= 10_000:
            raise ConfigurationError("page is 1 to 10,000 rows", path="page")
        if not timedelta(0) <= lookback <= timedelta(days=1):
            raise ConfigurationError("lookback is 0 to 1 day", path="lookback")
        _parse(start, "start")
        self._gw = gateway
        self.spec = spec
        self._cursors = cursors
        self._lookback = lookback
        self._batch = batch
        self._page = page
        self._companies = tuple(sorted(set(companies)))
        self._start = start
        suffix = "@" + ",".join(map(str, self._companies)) if self._companies else ""
        self.name = f"{spec.name}{suffix}"

    def cursor(self) -> FeedCursor:
        """The committed cursor (a fresh one before the first commit)."""
        return self._cursors.load(self.name) or FeedCursor(write_date=self._start)

    def _domain(self, write_date: str, record_id: int) -> list[Any]:
        domain: list[Any] = [list(leaf) for leaf in self.spec.domain]
        if self._companies and self.spec.company_field:
            domain.append([self.spec.company_field, "in", list(self._companies)])
        return ["&"] * len(domain) + domain + _keyset(write_date, record_id)

    def _read(self, write_date: str, record_id: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "fields": sorted({*self.spec.fields, "write_date"}),
            "order": "write_date asc, id asc",
            "limit": self._page,
        }
        if self._companies:
            kwargs["context"] = {"allowed_company_ids": list(self._companies)}
        where = f"{self.spec.model}.search_read"
        found = rows(
            self._gw.call(
                self.spec.model, "search_read", [self._domain(write_date, record_id)], kwargs
            ),
            where,
        )
        for row in found:
            if not isinstance(row.get("write_date"), str):
                raise OdooResponseError(f"Odoo answered {where} without a write_date")
            _parse(row["write_date"], where)
        return found

    def poll(self) -> ChangeBatch:
        """Read the next changes (at most ``batch``); commit the batch once they are handled."""
        start_trips = self._gw.round_trips
        cursor = self.cursor()
        floor = (_parse(cursor.write_date, "cursor") - self._lookback).strftime(_ODOO_FORMAT)
        seen = set(cursor.seen)
        position = (floor, 0)
        head = (cursor.write_date, cursor.record_id)
        changes: list[Change] = []
        more = False
        while True:
            page = self._read(*position)
            for row in page:
                key = (int(row["id"]), str(row["write_date"]))
                position = (key[1], key[0])
                if key in seen:
                    continue
                if len(changes) == self._batch:
                    more = True
                    break
                seen.add(key)
                changes.append(Change(self.spec.name, key[0], key[1], row))
                head = max(head, position)
            if more or len(page) < self._page:
                break
        new_floor = (_parse(head[0], "cursor") - self._lookback).strftime(_ODOO_FORMAT)
        kept = frozenset(k for k in seen if k[1] >= new_floor)
        return ChangeBatch(
            feed=self.name,
            changes=tuple(changes),
            cursor=FeedCursor(head[0], head[1], kept),
            round_trips=self._gw.round_trips - start_trips,
            more=more,
        )

    def commit(self, batch: ChangeBatch) -> None:
        """Store the cursor that follows ``batch``: its changes will not be handed out again."""
        if batch.feed != self.name:
            raise ConfigurationError(f"that batch comes from feed {batch.feed!r}", path="batch")
        self._cursors.save(self.name, batch.cursor)
