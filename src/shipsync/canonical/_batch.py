"""Label batches: many labels bought in one request at an aggregator, ready together later.

An aggregator (ShipEngine's batches) takes a list of shipments or quoted rates, buys their labels
asynchronously, and says when the batch is done. What the host needs from that moment is which
batch finished and where its labels and errors can be read; the labels themselves are fetched
from the carrier (they can be many megabytes) and reach the shipments as their own events.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shipsync.canonical._base import CanonicalModel, Identifier

__all__ = ["LabelBatch"]


class LabelBatch(CanonicalModel):
    """A batch of labels the carrier finished processing.

    ``batch_id`` is the carrier's id of the batch; ``resource_url`` is where the carrier serves
    the batch (its labels, forms and errors), when it names one.
    """

    carrier: Identifier
    batch_id: Identifier
    resource_url: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
