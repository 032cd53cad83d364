"""Carrier and partner status code tables, as data, with their canonical reading.

- EDI X12 214 AT7: :data:`EDI214_STATUS_CODES` (AT701) and :data:`EDI214_REASON_CODES` (AT702),
  read with :func:`edi214_status`.
- OCA ``delivery_state``: read with :func:`read_oca_delivery_state` (both incident spellings),
  written with :func:`oca_delivery_state`.

Every reading is a :class:`MappedStatus`: the milestone (None for an ETA or another code that is
not a milestone, ``unknown`` for a code the table lacks), the reason, and the raw code kept
verbatim. :func:`count_unmapped` tallies what the tables miss.
"""

from shipsync.canonical.mappings._edi214 import (
    EDI214_REASON_CODES,
    EDI214_STATUS_CODES,
    edi214_reason,
    edi214_status,
)
from shipsync.canonical.mappings._oca import (
    OCA_DELIVERY_STATES,
    STATUS_TO_OCA,
    OcaIncidentSpelling,
    oca_delivery_state,
    read_oca_delivery_state,
)
from shipsync.canonical.mappings._result import (
    CodeKind,
    MappedStatus,
    StatusScheme,
    count_unmapped,
)

__all__ = [
    "EDI214_REASON_CODES",
    "EDI214_STATUS_CODES",
    "OCA_DELIVERY_STATES",
    "STATUS_TO_OCA",
    "CodeKind",
    "MappedStatus",
    "OcaIncidentSpelling",
    "StatusScheme",
    "count_unmapped",
    "edi214_reason",
    "edi214_status",
    "oca_delivery_state",
    "read_oca_delivery_state",
]
