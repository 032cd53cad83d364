"""Hostile input from outsiders: whatever bytes arrive, parsing ends in one of our typed errors.

Never a crash (``RecursionError``, ``OverflowError``, ``decimal.InvalidOperation``, a pydantic
``ValidationError``, a ``TypeError``), never a hang, never a silently odd value.
"""

from __future__ import annotations

import base64
import contextlib
import decimal
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    Dimensions,
    Event,
    EventCatalogue,
    FreightInvoice,
    Label,
    Money,
    Package,
    Parcel,
    Pickup,
    Rate,
    ShipmentDelivered,
    TrackingEvent,
    Weight,
    event_for_tracking,
    event_schemas,
    parse_event,
)
from shipsync.canonical import default_catalogue as catalogue
from shipsync.errors import (
    CanonicalValidationError,
    InvalidInputError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
)
from shipsync.testing import strategies as sst

T = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TYPED = (CanonicalValidationError, UnknownEventTypeError, UnsupportedSchemaVersionError)


def _tracking(**changes: Any) -> TrackingEvent:
    fields: dict[str, Any] = {
        "event_id": "evt-1",
        "shipment_id": "SHP-1",
        "tracking_number": "1Z1",
        "carrier": "fake",
        "milestone": "delivered",
        "occurred_at": T,
        "recorded_at": T,
        "carrier_code": "D1",
    }
    return TrackingEvent(**(fields | changes))


def _delivered(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(event_for_tracking(_tracking(), source="test").to_json())
    raw.update(changes)
    return raw


def _claim(amount: Any) -> bytes:
    """A claim.opened envelope whose ``data.amount.amount`` is ``amount`` (any JSON value)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": "e-1",
            "source": "test",
            "type": "claim.opened",
            "time": "2026-11-26T10:00:00Z",
            "data": {
                "claim_id": "C-1",
                "shipment_id": "SHP-1",
                "carrier": "fake",
                "status": "open",
                "reason": "lost",
                "amount": {"amount": amount, "currency": "EUR"},
                "opened_at": "2026-11-26T10:00:00Z",
            },
        }
    ).encode()


def _typed_or_event(raw: Any) -> Event | None:
    """Parse ``raw``; return the event, or None after one of our typed errors. Anything else
    propagates and fails the test."""
    try:
        return parse_event(raw)
    except TYPED as exc:
        str(exc)  # the message renders
        return None


# --- fuzzing -----------------------------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["1e999999", "-0", "NaN", "Infinity", "9" * 70, "\x00", "\u202e", "\uff11"])
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_only_typed_errors(raw: bytes) -> None:
    """Random bytes never crash the parser."""
    assert _typed_or_event(raw) is None


@settings(max_examples=150)
@given(_json_values)
def test_arbitrary_json_gives_only_typed_errors(value: Any) -> None:
    """Any JSON document (objects, arrays, NaN, huge numbers, odd strings) parses or is refused
    with a typed error, from bytes, from str and from a decoded object alike."""
    raw = json.dumps(value)
    _typed_or_event(raw.encode())
    _typed_or_event(raw)
    with contextlib.suppress(TYPED):
        catalogue.parse_obj(value)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@settings(max_examples=200)
@given(sst.any_events(), st.data())
def test_valid_envelopes_with_one_part_replaced_give_only_typed_errors(
    event: Event, data: st.DataObject
) -> None:
    """Take a real envelope of any type, replace or delete one node anywhere in it (a field of
    ``data``, an attribute, an extension), and parse: an event or a typed error, nothing else."""
    doc = json.loads(event.to_json())
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_json_values, label="replacement")
    raw = json.dumps(doc)
    parsed = _typed_or_event(raw.encode())
    if parsed is not None:
        # What parses is a well-formed event: it serialises and reads back as itself.
        assert parse_event(parsed.to_json()) == parsed


@settings(max_examples=100)
@given(sst.any_events(), st.data())
def test_corrupted_envelope_bytes_give_only_typed_errors(event: Event, data: st.DataObject) -> None:
    """Truncated or bit-flipped envelope bytes are refused with a typed error (or still parse)."""
    raw = bytearray(event.to_json())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _typed_or_event(bytes(raw[:cut]))
    _typed_or_event(bytes(raw))


# --- nesting, sizes and input kinds ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        json.dumps(_delivered())[:-1] + ', "ext": ' + "[" * 5_000 + "]" * 5_000 + "}",
        json.dumps(_delivered(type="nope"))[:-1] + ', "ext": ' + "[" * 5_000 + "]" * 5_000 + "}",
    ],
    ids=["array-root", "object-root", "in-extension", "in-extension-unknown-type"],
)
def test_deeply_nested_json_is_a_typed_error(raw: str) -> None:
    """Nesting beyond the JSON parser's depth is refused, not a RecursionError."""
    with pytest.raises(TYPED):
        parse_event(raw)


@pytest.mark.parametrize(
    "raw", [None, 5, {"type": "shipment.delivered"}, memoryview(b"{}"), ["a"]], ids=repr
)
def test_input_that_is_not_bytes_or_str_is_a_typed_error(raw: Any) -> None:
    """Passing something other than bytes or str is a typed error, not a TypeError."""
    with pytest.raises(CanonicalValidationError, match="bytes or str"):
        parse_event(raw)


@pytest.mark.parametrize("obj", [None, [], "x", 5], ids=repr)
def test_parse_obj_of_a_non_object_is_a_typed_error(obj: Any) -> None:
    """parse_obj refuses anything but a mapping with a typed error."""
    with pytest.raises(CanonicalValidationError, match="JSON object"):
        catalogue.parse_obj(obj)


def test_numbers_beyond_python_int_conversion_limits_are_typed_errors() -> None:
    """A 5000-digit integer (beyond Python's int/str limit) is refused wherever it stands."""
    huge = "9" * 5000
    raw = json.dumps(_delivered())[:-1] + f', "schemaversion": {huge}' + "}"
    with pytest.raises(TYPED):
        parse_event(raw)
    with pytest.raises(TYPED):
        parse_event(_claim(0).replace(b'"amount": 0', b'"amount": ' + huge.encode()))


def test_enormous_arrays_are_typed_errors() -> None:
    """Arrays are bounded: a million-element extension, a shipment's list fields, a rate's
    charges, a package's events, a pickup's tracking numbers."""
    with pytest.raises(CanonicalValidationError, match="ext"):
        parse_event(json.dumps(_delivered(ext=[0] * 1_000_000)))
    tracking = _tracking().model_dump(mode="json")
    with pytest.raises(CanonicalValidationError, match="events"):
        Package.model_validate(
            {"parcel": {"weight": {"value": "1", "unit": "kg"}}, "events": [tracking] * 10_001}
        )
    charge = {"type": "fuel", "amount": {"amount": "0.01", "currency": "EUR"}}
    with pytest.raises(CanonicalValidationError, match="charges"):
        Rate.model_validate(
            {
                "carrier": "fake",
                "service": "x",
                "total": {"amount": "1.01", "currency": "EUR"},
                "charges": [charge] * 101,
            }
        )
    address = {"country": "DE"}
    with pytest.raises(CanonicalValidationError, match="tracking_numbers"):
        Pickup.model_validate(
            {
                "carrier": "fake",
                "confirmation_number": "P-1",
                "address": address,
                "ready_from": "2026-11-26T10:00:00Z",
                "ready_until": "2026-11-26T12:00:00Z",
                "tracking_numbers": ["1Z"] * 1000,
            }
        )


def test_unbounded_integers_are_refused() -> None:
    """Counts (a commodity's quantity, an invoice line number) have an upper bound."""
    for value in (10**9 + 1, 10**400):
        with pytest.raises(CanonicalValidationError, match="line_number"):
            parse_event(
                json.dumps(
                    {
                        "specversion": "1.0",
                        "id": "e-1",
                        "source": "test",
                        "type": "freight.invoice_matched",
                        "time": "2026-11-26T10:00:00Z",
                        "data": {
                            "invoice_number": "INV-1",
                            "line_number": value,
                            "tracking_number": "1Z",
                            "shipment_id": "SHP-1",
                            "billed": {"amount": "1.00", "currency": "EUR"},
                            "expected": {"amount": "1.00", "currency": "EUR"},
                        },
                    }
                )
            )


# --- decimal strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        "1e999999",
        "1e-999999",
        "1e-9999999999",
        "NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "9" * 64,
        "9" * 65,
        "0." + "1" * 64,
        "1" * 25,
        "\uff11\uff12",  # fullwidth digits: Decimal() reads them, we do not
        "1_000",  # Decimal() reads underscores, we do not
        "0x10",
        "",
        " ",
        1.5,
        1e308,
        10**400,
        True,
        None,
        [],
        {},
    ],
    ids=repr,
)
def test_hostile_json_amounts_are_typed_errors_naming_the_path(amount: Any) -> None:
    """Every amount that is not a bounded, finite ASCII decimal is refused at its field path."""
    with pytest.raises(CanonicalValidationError, match=r"data\.amount\.amount"):
        parse_event(_claim(amount))


@pytest.mark.parametrize(
    "amount", ["1e-9999999999", "\uff11\uff12", "1_000", "0." + "0" * 39 + "1"], ids=repr
)
def test_hostile_python_amounts_are_typed_errors(amount: str) -> None:
    """The same bounds hold from Python, for Money and for weights."""
    with pytest.raises(CanonicalValidationError, match="amount"):
        Money.of(amount, "EUR")
    with pytest.raises(CanonicalValidationError, match="value"):
        Weight.of(amount, "kg")
    with pytest.raises(CanonicalValidationError, match="amount"):
        Money.of(Decimal("1e-9999999999"), "EUR")


@pytest.mark.parametrize("amount", ["-0", "-0.000", "-0e5", "-0.001"], ids=repr)
def test_negative_zero_is_zero(amount: str) -> None:
    """``-0`` (and what rounds to it) is the one zero, so equal facts serialise alike."""
    money = parse_event(_claim(amount)).data.amount
    assert json.loads(money.model_dump_json()) == {"amount": "0.00", "currency": "EUR"}
    assert Money.of(amount, "EUR").model_dump_json() == money.model_dump_json()
    if Decimal(amount) == 0:
        weight = Weight.model_validate_json(json.dumps({"value": amount, "unit": "kg"}))
        assert not weight.model_dump(mode="json")["value"].startswith("-")


@pytest.mark.parametrize("amount", ["1E+23", "1.5e3", " 12.50 ", "+7", ".5"], ids=repr)
def test_other_ascii_decimal_notations_are_read_exactly(amount: str) -> None:
    """Exponents, a sign and surrounding blanks are read as the exact decimal they denote."""
    money = parse_event(_claim(amount)).data.amount
    assert money.amount == Decimal(amount.strip()).quantize(Decimal("0.01"))


@pytest.mark.parametrize("currency", ["eur", "XXX", "ZZZ", "EU"])
def test_an_invoice_in_an_unknown_currency_names_its_currency_field(currency: str) -> None:
    """The invoice's own currency is an ISO 4217 code, refused at ``currency`` otherwise."""
    with pytest.raises(CanonicalValidationError) as info:
        FreightInvoice.model_validate(
            {
                "invoice_number": "INV-1",
                "carrier": "fake",
                "issued_at": "2026-11-26T10:00:00Z",
                "currency": currency,
                "lines": [],
                "total": {"amount": "0", "currency": "EUR"},
            }
        )
    assert [path for path, _ in info.value.errors] == ["currency"]
    assert "ISO 4217" in str(info.value)


# --- money arithmetic --------------------------------------------------------------------------


def test_money_arithmetic_out_of_range_is_a_typed_error() -> None:
    """Overflowing or signalling decimal operations are typed errors, not decimal exceptions."""
    big = Money.of("9" * 23, "EUR")
    with pytest.raises(InvalidInputError):
        big * Decimal("1e999999")
    with pytest.raises(InvalidInputError):
        big * Decimal("sNaN")
    with pytest.raises(InvalidInputError):
        big.percent(Decimal("sNaN"))
    with pytest.raises(InvalidInputError):
        big.percent(True)  # type: ignore[arg-type]
    with pytest.raises(CanonicalValidationError):
        big * 10**30  # beyond 24 integer digits


@settings(max_examples=60)
@given(
    sst.money(currency=st.just("EUR")),
    sst.money(currency=st.just("EUR")),
    st.decimals(places=6, min_value=-1000, max_value=1000, allow_nan=False),
)
def test_money_arithmetic_ignores_the_threads_decimal_context(
    left: Money, right: Money, factor: Decimal
) -> None:
    """A host that lowers decimal precision does not make Money round: results are the exact
    ones, rounded once half-even to the minor unit."""
    expected_sum = left.amount + right.amount  # exact at the default 28 digits: 2 x 26 digits
    exact_product = Fraction(left.amount) * Fraction(factor)
    with decimal.localcontext() as context:
        context.prec = 3
        context.rounding = decimal.ROUND_DOWN
        total = left + right
        difference = left - right
        product = left * factor
        negated, absolute, minor = -left, abs(left), left.minor_units
        parts = left.allocate(3)
    assert (negated.amount, absolute.amount) == (-left.amount, abs(left.amount))
    assert minor == int(left.amount * 100)
    assert sum(part.amount for part in parts) == left.amount
    assert total.amount == expected_sum
    assert difference.amount == left.amount - right.amount
    assert Fraction(product.amount) == Fraction(round(exact_product * 100), 100)


# --- units -------------------------------------------------------------------------------------


@settings(max_examples=80)
@given(
    st.decimals(min_value=0, max_value=Decimal("9" * 20), places=9, allow_nan=False),
    st.sampled_from(["kg", "g", "lb", "oz"]),
    st.sampled_from(["kg", "g", "lb", "oz"]),
)
def test_weight_conversion_rounds_once_at_any_size(
    value: Decimal, source: str, target: str
) -> None:
    """Converting a weight of up to 20 integer digits gives exactly the half-even rounding of
    the exact result to 9 places, whatever the thread's decimal context."""
    grams = {"kg": Fraction(1000), "g": Fraction(1), "lb": Fraction("453.59237")}
    grams["oz"] = grams["lb"] / 16
    exact = Fraction(value) * grams[source] / grams[target]
    try:
        with decimal.localcontext() as context:
            context.prec = 5
            converted = Weight.of(value, source).to(target)
    except CanonicalValidationError:
        assert exact >= 10**24  # only results beyond 24 integer digits are refused
        return
    assert Fraction(converted.value) == Fraction(round(exact * 10**9), 10**9)


def test_huge_unit_arithmetic_is_exact_or_a_typed_error() -> None:
    """Adding or converting large weights and volumes never raises decimal's own errors."""
    big = Weight.of("9" * 23, "kg")
    assert (big + big).value == Decimal("1" + "9" * 22 + "8")
    with pytest.raises(CanonicalValidationError):
        big.to("g")
    side = "9" * 23
    with pytest.raises(CanonicalValidationError):
        Dimensions.of(side, side, side, "mm").volumetric_weight(1, length_unit="in")


@pytest.mark.parametrize("divisor", [Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN")])
def test_volumetric_divisor_must_be_finite(divisor: Decimal) -> None:
    """A non-finite divisor is a typed error naming the divisor."""
    with pytest.raises(InvalidInputError) as info:
        Dimensions.of("10", "20", "30", "cm").volumetric_weight(divisor)
    assert info.value.path == "divisor"


def test_unknown_units_in_conversions_are_typed_errors() -> None:
    """``to``, ``volume`` and ``volumetric_weight`` refuse unknown units with a typed error."""
    with pytest.raises(InvalidInputError, match="weight unit"):
        Weight.of("1", "kg").to("stone")
    dims = Dimensions.of("10", "20", "30", "cm")
    with pytest.raises(InvalidInputError, match="length unit"):
        dims.to("ft")
    with pytest.raises(InvalidInputError, match="length unit"):
        dims.volume("ft")
    with pytest.raises(InvalidInputError, match="weight unit"):
        dims.volumetric_weight(5000, weight_unit="stone")


# --- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "time",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "2026-11-26T10:00:00+24:00",
        "2026-11-26T10:00:00+05:30:15",
        "2026-11-26T10:00:00",
        "2026-11-26",
        "1e999",
        1700000000,  # a Unix timestamp is not an RFC 3339 time
        1e308,
        10**30,
        True,
        None,
    ],
    ids=repr,
)
def test_odd_timestamps_are_typed_errors_naming_the_field(time: Any) -> None:
    """Offsets that overflow, naive times, numbers and junk are refused at their path."""
    with pytest.raises(CanonicalValidationError, match="time"):
        parse_event(json.dumps(_delivered(time=time)))
    with pytest.raises(CanonicalValidationError, match=r"data\.occurred_at"):
        parse_event(json.dumps(_delivered(data=_delivered()["data"] | {"occurred_at": time})))


def test_python_datetimes_that_overflow_in_utc_are_typed_errors() -> None:
    """A Python datetime whose UTC form leaves years 1 to 9999 is refused, not OverflowError."""
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(CanonicalValidationError, match="occurred_at"):
        _tracking(occurred_at=early)


@pytest.mark.parametrize(
    ("time", "utc"),
    [
        ("2026-11-26T10:00:00+23:59", datetime(2026, 11, 25, 10, 1, tzinfo=UTC)),
        ("2026-11-26T10:00:00-00:00", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
        ("2026-11-26t10:00:00z", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
    ],
)
def test_extreme_but_valid_offsets_are_normalised_to_utc(time: str, utc: datetime) -> None:
    """RFC 3339 offsets up to +-23:59 and ``-00:00`` are read and normalised to UTC."""
    assert parse_event(json.dumps(_delivered(time=time))).time == utc


# --- bytes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["!!!not base64", "YQ=a", 5, ["YQ=="], None], ids=repr)
def test_label_bytes_that_are_not_base64_are_typed_errors(data: Any) -> None:
    """A label inside a shipment.created envelope with bad base64 is refused at its path."""
    label = Label(tracking_number="1Z", format="pdf", data=b"%PDF")
    shipment = {
        "shipment_id": "SHP-1",
        "carrier": "fake",
        "service": "express",
        "shipper": {"country": "DE"},
        "recipient": {"country": "FR"},
        "packages": [
            {
                "parcel": Parcel(weight=Weight.of("1", "kg")).model_dump(mode="json"),
                "label": label.model_dump(mode="json") | {"data": data},
            }
        ],
    }
    raw = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "test",
        "type": "shipment.created",
        "time": "2026-11-26T10:00:00Z",
        "data": shipment,
    }
    with pytest.raises(CanonicalValidationError, match=r"data\.packages\.0\.label\.data"):
        parse_event(json.dumps(raw))
    raw["data"]["packages"][0]["label"]["data"] = base64.b64encode(b"%PDF").decode()
    assert parse_event(json.dumps(raw)).data.packages[0].label.data == b"%PDF"


# --- extension attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [[1], {"a": 1}, 1.5, 2**31, -(2**31) - 1, 10**400, "x" * 4001, [0] * 1000, None],
    ids=lambda v: repr(v)[:20],
)
def test_extension_values_must_be_cloudevents_scalars(value: Any) -> None:
    """Extension values are strings, 32-bit integers or booleans (a null would vanish on the way
    out, since we write no nulls); the error names the attribute."""
    with pytest.raises(CanonicalValidationError, match=r"\bmyext\b"):
        parse_event(json.dumps(_delivered(myext=value)))


@pytest.mark.parametrize("value", ["x" * 4000, 2**31 - 1, -(2**31), True, False, ""])
def test_extension_scalars_are_kept(value: Any) -> None:
    """The CloudEvents scalar kinds survive a round trip."""
    event = parse_event(json.dumps(_delivered(myext=value)))
    assert (event.model_extra or {})["myext"] == value
    assert parse_event(event.to_json()) == event


def test_redacted_keeps_extension_attributes() -> None:
    """``redacted()`` of an event keeps its extension attributes (a traceparent to log)."""
    event = parse_event(json.dumps(_delivered(traceparent="00-abc-01", hops=3)))
    redacted = event.redacted()
    assert (redacted["traceparent"], redacted["hops"]) == ("00-abc-01", 3)
    assert redacted["data"]["carrier_code"] == "D1"


@pytest.mark.parametrize("name", ["My-Ext", "UPPER", "with space", "é", "x" * 51, "a.b"])
def test_extension_names_must_be_lower_case_alphanumerics(name: str) -> None:
    """CloudEvents attribute names are a-z and 0-9: anything else is refused, by name."""
    with pytest.raises(CanonicalValidationError, match="attribute name"):
        parse_event(json.dumps(_delivered(**{name: "v"})))


# --- identifiers and keys ----------------------------------------------------------------------


@pytest.mark.parametrize("attribute", ["id", "subject", "correlationid", "partitionkey"])
@pytest.mark.parametrize(
    "value", ["a\x00b", "a\nb", "a\rb", "\x1b[31mred", "a\x7fb", "a\x85b", "a\u202eb", "a\u2066b"]
)
def test_key_attributes_refuse_control_and_bidi_characters(attribute: str, value: str) -> None:
    """Envelope attributes used as keys (stores, partitions, logs) refuse control characters
    (NUL breaks PostgreSQL text, newlines forge log lines) and bidirectional overrides."""
    with pytest.raises(CanonicalValidationError, match=attribute):
        parse_event(json.dumps(_delivered(**{attribute: value})))


@pytest.mark.parametrize("value", ["SHP-1", "Lieferung-\u00c4-\U0001d54f", "株式会社-1", "a b"])
def test_key_attributes_accept_ordinary_unicode(value: str) -> None:
    """Letters of any script, symbols and inner spaces are fine."""
    event = parse_event(json.dumps(_delivered(id=value, subject=value, correlationid=value)))
    assert (event.id, event.subject, event.correlationid) == (value, value, value)


@pytest.mark.parametrize(
    "version",
    ["\uff11", "9" * 5000, " 1", "1.0", "-1", True, 1.5, [1]],
    ids=lambda v: repr(v)[:12],
)
def test_odd_schema_versions_are_typed_errors(version: Any) -> None:
    """Only an integer (or its ASCII digit string) is a schema version."""
    with pytest.raises(TYPED):
        parse_event(json.dumps(_delivered(schemaversion=version)))


# --- upcasters ---------------------------------------------------------------------------------


class _DeliveredV2(ShipmentDelivered):
    """shipment.delivered at a (test-only) version 2, so version 1 goes through an upcaster."""

    current_version: ClassVar[int] = 2
    schemaversion: Literal[2] = 2


def test_an_upcaster_that_fails_on_malformed_old_input_gives_a_typed_error() -> None:
    """An upcaster written for well-formed old envelopes meets a malformed one: the KeyError it
    raises becomes a typed error (chained), and a non-dict result is refused too."""
    cat = EventCatalogue([_DeliveredV2])
    cat.register_upcaster("shipment.delivered", 1, lambda old: old | {"x": old["missing"]})
    raw = json.dumps(_delivered(schemaversion=1))
    with pytest.raises(CanonicalValidationError, match="upcaster") as info:
        cat.parse(raw)
    assert isinstance(info.value.__cause__, KeyError)
    cat.register_upcaster("shipment.delivered", 1, lambda old: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(CanonicalValidationError, match="did not return a dict"):
        cat.parse(raw)


# --- the schemas say the same ------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"myext": [1]},
        {"myext": {"a": 1}},
        {"myext": 1.5},
        {"myext": None},
        {"My-Ext": "v"},
        {"id": "a\nb"},
        {"partitionkey": "a\x00b"},
        {"time": 1700000000},
        {"schemaversion": True},
    ],
    ids=repr,
)
def test_the_exported_schema_refuses_what_the_parser_refuses(changes: dict[str, Any]) -> None:
    """A partner validating with our JSON Schema refuses the same hostile envelopes we do."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = event_schemas()["shipment.delivered"]
    validator = jsonschema.Draft202012Validator(schema)
    document = _delivered(**changes)
    with pytest.raises(TYPED):
        parse_event(json.dumps(document))
    assert list(validator.iter_errors(document))
    assert not list(validator.iter_errors(_delivered(myext="v", other=7, flag=True)))
