"""Odoo client for logistics: the same typed operations over RPC and inside an Odoo addon.

Pick a gateway — :class:`RpcGateway` (odoorpc over JSON-RPC, Odoo 16 to 18),
:class:`Json2Gateway` (JSON-2 with an API key, Odoo 19) or :class:`EnvGateway` (an Odoo ``env``,
for addons), or let :func:`connect` pick by the server's version — and hand it to
:class:`OdooLogistics`::

    from shipsync.odoo import OdooLogistics, RpcGateway

    odoo = OdooLogistics(RpcGateway("https://erp.example.com", "prod", "bot", api_key))
    report = odoo.apply_events(events)      # a handful of requests for any number of events

Field and model names are configuration (:class:`OdooFieldMap`); errors are
:class:`~shipsync.errors.OdooError` subclasses carrying Odoo's own message.
"""

from shipsync.odoo._batch import CREATE_CHUNK, IN_CHUNK, message_id_for
from shipsync.odoo._companies import OdooCompany
from shipsync.odoo._cursors import (
    EPOCH,
    CursorStore,
    FeedCursor,
    MemoryCursorStore,
    PostgresCursorStore,
    SQLiteCursorStore,
)
from shipsync.odoo._env import EnvGateway
from shipsync.odoo._feed import (
    FEEDS,
    ORDERS_CONFIRMED,
    PICKINGS_CANCELLED,
    PICKINGS_READY,
    RETURNS_CREATED,
    Change,
    ChangeBatch,
    ChangeFeed,
    FeedFilter,
)
from shipsync.odoo._gateway import SAFE_METHODS, OdooGateway
from shipsync.odoo._json2 import (
    MODEL_METHODS,
    RECORD_METHODS,
    Json2Gateway,
    connect,
    server_version,
)
from shipsync.odoo._logistics import OdooLogistics, event_message_id
from shipsync.odoo._mapping import OdooFieldMap
from shipsync.odoo._records import (
    ApplyReport,
    PickingRecord,
    RecordedDocument,
    VendorBillLineRecord,
    VendorBillRecord,
)
from shipsync.odoo._rpc import RpcGateway, parse_server_version
from shipsync.odoo._shadow import (
    READ_METHODS,
    SHADOW_ID_BASE,
    IntendedWrite,
    PostgresShadowRecorder,
    ShadowGateway,
    ShadowRecorder,
    SQLiteShadowRecorder,
)
from shipsync.odoo._source import OdooSource, SourceBatch, picking_shipment_id
from shipsync.odoo._versions import (
    ODOO_VERSIONS,
    OdooVersion,
    fields_for_version,
    gateway_protocol,
    version_facts,
)
from shipsync.retry import RetryPolicy

__all__ = [
    "CREATE_CHUNK",
    "EPOCH",
    "FEEDS",
    "IN_CHUNK",
    "MODEL_METHODS",
    "ODOO_VERSIONS",
    "ORDERS_CONFIRMED",
    "PICKINGS_CANCELLED",
    "PICKINGS_READY",
    "READ_METHODS",
    "RECORD_METHODS",
    "RETURNS_CREATED",
    "SAFE_METHODS",
    "SHADOW_ID_BASE",
    "ApplyReport",
    "Change",
    "ChangeBatch",
    "ChangeFeed",
    "CursorStore",
    "EnvGateway",
    "FeedCursor",
    "FeedFilter",
    "IntendedWrite",
    "Json2Gateway",
    "MemoryCursorStore",
    "OdooCompany",
    "OdooFieldMap",
    "OdooGateway",
    "OdooLogistics",
    "OdooSource",
    "OdooVersion",
    "PickingRecord",
    "PostgresCursorStore",
    "PostgresShadowRecorder",
    "RecordedDocument",
    "RetryPolicy",
    "RpcGateway",
    "SQLiteCursorStore",
    "SQLiteShadowRecorder",
    "ShadowGateway",
    "ShadowRecorder",
    "SourceBatch",
    "VendorBillLineRecord",
    "VendorBillRecord",
    "connect",
    "event_message_id",
    "fields_for_version",
    "gateway_protocol",
    "message_id_for",
    "parse_server_version",
    "picking_shipment_id",
    "server_version",
    "version_facts",
]
