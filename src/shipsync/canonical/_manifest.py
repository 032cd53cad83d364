"""End-of-day manifests: the carrier's closing document listing the shipments handed over.

Some carriers (ShipEngine's postal carriers, many national posts) need a manifest (a "SCAN form",
an end-of-day close) before the driver collects the day's parcels. A manifest names the labels or
shipments it covers and comes with a printable document for the driver to scan.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from pydantic import Field

from shipsync.canonical._base import CanonicalModel, Identifier, ShortText, UtcDatetime

__all__ = ["Manifest", "ManifestDocument", "ManifestFormat"]

MAX_MANIFEST_BYTES = 20 * 1024 * 1024


class ManifestFormat(enum.StrEnum):
    """Formats a manifest document comes in."""

    PDF = "pdf"
    PNG = "png"
    ZPL = "zpl"


class ManifestDocument(CanonicalModel):
    """The printable manifest, as bytes; its reprs show only its size."""

    format: ManifestFormat
    data: Annotated[bytes, Field(max_length=MAX_MANIFEST_BYTES)]

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (f"<{len(value)} bytes>" if name == "data" else value)


class Manifest(CanonicalModel):
    """One manifest the carrier created: which shipments it closes and its document.

    ``carrier_shipment_ids`` are the carrier's ids of the shipments (labels) covered;
    ``document`` is ``None`` only when the carrier produced none (or it is not ready yet, in which
    case ``pending`` is true and ``manifest_id`` names the request to look up later).
    """

    carrier: Identifier
    manifest_id: Identifier
    ship_date: date
    carrier_shipment_ids: Annotated[tuple[Identifier, ...], Field(max_length=10_000)] = ()
    document: ManifestDocument | None = None
    pending: bool = False
    created_at: UtcDatetime | None = None
    account: ShortText | None = None
