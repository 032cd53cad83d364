"""The fake carrier's scenarios: what happens to a shipment after it is booked, hour by hour.

A request picks a scenario with its ``scenario`` field, or with a reference (``reference`` or
``order_reference``) of the form ``scenario:<name>``; otherwise ``happy``. Each step is
``(hours after booking, status code, reason code, description, city, package)`` where
``package`` is ``None`` for every package or the index of one.
"""

from __future__ import annotations

import enum

__all__ = ["SCENARIOS", "STATUS_DESCRIPTIONS", "Scenario", "Step", "scenario_from"]


class Scenario(enum.StrEnum):
    """A scripted life of a shipment at the fake carrier."""

    HAPPY = "happy"
    EXCEPTION_THEN_DELIVERED = "exception_then_delivered"
    FAILED_ATTEMPT_THEN_PICKUP_POINT = "failed_attempt_then_pickup_point"
    RETURNED_TO_SENDER = "returned_to_sender"
    LOST = "lost"
    CANCELLED = "cancelled"
    MULTI_PACKAGE_ONE_LATE = "multi_package_one_late"
    UNKNOWN_STATUS = "unknown_status"


Step = tuple[float, str, str | None, str, str, int | None]

#: The fake carrier's own status codes (documented in docs/fake-carrier.md).
STATUS_DESCRIPTIONS = {
    "LC": "Label created",
    "PU": "Picked up",
    "IT": "In transit",
    "OD": "Out for delivery",
    "DA": "Delivery attempted",
    "PP": "Available at pickup point",
    "EX": "Exception",
    "DL": "Delivered",
    "RT": "Returning to sender",
    "RD": "Returned to sender",
    "CA": "Cancelled",
    "LO": "Lost",
    "QZ": "Status with a code no driver knows",
}

_START: list[Step] = [
    (0, "LC", None, "Label created", "Lyon", None),
    (4, "PU", None, "Picked up", "Lyon", None),
    (12, "IT", None, "Departed hub", "Paris", None),
]

SCENARIOS: dict[Scenario, list[Step]] = {
    Scenario.HAPPY: [
        *_START,
        (36, "OD", None, "Out for delivery", "Berlin", None),
        (40, "DL", None, "Delivered", "Berlin", None),
    ],
    Scenario.EXCEPTION_THEN_DELIVERED: [
        *_START,
        (24, "EX", "WX", "Delayed by weather", "Paris", None),
        (60, "IT", None, "Departed hub", "Paris", None),
        (84, "OD", None, "Out for delivery", "Berlin", None),
        (88, "DL", None, "Delivered", "Berlin", None),
    ],
    Scenario.FAILED_ATTEMPT_THEN_PICKUP_POINT: [
        *_START,
        (36, "OD", None, "Out for delivery", "Berlin", None),
        (40, "DA", "NH", "Recipient not at home", "Berlin", None),
        (44, "PP", "AP", "Held at pickup point", "Berlin", None),
        (90, "DL", None, "Collected at pickup point", "Berlin", None),
    ],
    Scenario.RETURNED_TO_SENDER: [
        *_START,
        (36, "OD", None, "Out for delivery", "Berlin", None),
        (40, "DA", "RF", "Refused by recipient", "Berlin", None),
        (48, "RT", "RF", "Returning to sender", "Berlin", None),
        (96, "RD", None, "Returned to sender", "Lyon", None),
    ],
    Scenario.LOST: [
        *_START,
        (200, "LO", "CR", "Declared lost", "Paris", None),
    ],
    Scenario.CANCELLED: [
        (0, "LC", None, "Label created", "Lyon", None),
        (2, "CA", None, "Cancelled by the carrier", "Lyon", None),
    ],
    Scenario.MULTI_PACKAGE_ONE_LATE: [
        *_START,
        (36, "OD", None, "Out for delivery", "Berlin", 0),
        (40, "DL", None, "Delivered", "Berlin", 0),
        (36, "EX", "DY", "Missed connection", "Paris", 1),
        (84, "OD", None, "Out for delivery", "Berlin", 1),
        (88, "DL", None, "Delivered", "Berlin", 1),
    ],
    Scenario.UNKNOWN_STATUS: [
        (0, "LC", None, "Label created", "Lyon", None),
        (6, "QZ", None, "Something the driver has never seen", "Lyon", None),
    ],
}


def scenario_from(explicit: object, *references: object) -> Scenario:
    """The scenario a booking asks for: its ``scenario`` field or a ``scenario:<name>`` reference.

    An unknown name raises ``ValueError`` (the service answers 422).
    """
    if explicit:
        return Scenario(str(explicit))
    for reference in references:
        if isinstance(reference, str) and reference.startswith("scenario:"):
            return Scenario(reference.removeprefix("scenario:"))
    return Scenario.HAPPY
