"""Weights and dimensions: exact conversions, round trips, volumetric weight."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Dimensions, LengthUnit, Weight, WeightUnit
from shipsync.errors import CanonicalValidationError, InvalidInputError
from shipsync.testing import strategies as sst


@pytest.mark.parametrize(
    ("value", "unit", "target", "expected"),
    [
        ("1", "lb", "g", "453.59237"),
        ("1", "lb", "oz", "16"),
        ("1", "oz", "g", "28.349523125"),
        ("1", "kg", "g", "1000"),
        ("2500", "g", "kg", "2.5"),
        ("1", "kg", "lb", "2.204622622"),
    ],
)
def test_weight_conversions_use_the_exact_international_factors(
    value: str, unit: str, target: str, expected: str
) -> None:
    """1 lb = 453.59237 g and 16 oz exactly; other results are rounded once to 9 places."""
    converted = Weight.of(value, unit).to(target)
    assert converted.unit is WeightUnit(target)
    assert converted.value == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "unit", "target", "expected"),
    [("1", "in", "mm", "25.4"), ("1", "in", "cm", "2.54"), ("10", "mm", "cm", "1")],
)
def test_length_conversions_are_exact(value: str, unit: str, target: str, expected: str) -> None:
    """1 in = 25.4 mm exactly."""
    dims = Dimensions.of(value, value, value, unit).to(target)
    assert (dims.length, dims.width, dims.height) == (Decimal(expected),) * 3
    assert dims.unit is LengthUnit(target)


def test_equal_quantities_in_different_units_compare_equal() -> None:
    """Comparison uses the exact value, so 1 lb == 453.59237 g and hashes agree."""
    assert Weight.of("1", "lb") == Weight.of("453.59237", "g")
    assert hash(Weight.of("1", "lb")) == hash(Weight.of("453.59237", "g"))
    assert Weight.of("1", "kg") > Weight.of("2", "lb")
    assert Dimensions.of("1", "2", "3", "in") == Dimensions.of("25.4", "50.8", "76.2", "mm")


@given(sst.weights(), st.sampled_from(tuple(WeightUnit)))
def test_weight_round_trip_through_any_unit_is_within_rounding(
    weight: Weight, unit: WeightUnit
) -> None:
    """Converting there and back loses at most what one rounding step to 9 places can."""
    back = weight.to(unit).to(weight.unit)
    assert abs(back.grams - weight.grams) <= Fraction(1, 10**8) * 1000


@given(sst.weights(units=(WeightUnit.KG,)))
def test_metric_round_trips_are_exact(weight: Weight) -> None:
    """kg -> g -> kg is exact (a power of ten)."""
    assert weight.to("g").to("kg") == weight
    assert weight.to("g").grams == weight.grams


@given(sst.weights(units=(WeightUnit.LB,)))
def test_pounds_to_grams_is_exact(weight: Weight) -> None:
    """lb -> g needs no rounding for values with up to 3 places: the factor has 5."""
    assert weight.to("g") == weight
    assert weight.to("oz").to("lb") == weight


@given(sst.dimensions(units=(LengthUnit.IN,)))
def test_inches_to_millimetres_and_back_is_exact(dims: Dimensions) -> None:
    """in -> mm -> in is exact: 25.4 has one decimal place."""
    assert dims.to("mm").to("in") == dims


@given(sst.weights(), sst.weights())
def test_adding_weights_keeps_the_left_unit_and_the_exact_sum(a: Weight, b: Weight) -> None:
    """a + b is in a's unit, within one rounding step (9 places of a kg at most) of the sum."""
    total = a + b
    assert total.unit is a.unit
    assert abs(total.grams - (a.grams + b.grams)) <= Fraction(1000, 10**9)


def test_volumetric_weight_uses_the_given_divisor() -> None:
    """50 x 40 x 30 cm / 5000 = 12 kg; 20 x 10 x 10 in / 139 lb; mm input is converted."""
    box = Dimensions.of("50", "40", "30", "cm")
    assert box.volumetric_weight(5000) == Weight.of("12", "kg")
    assert box.volume() == Fraction(60_000)
    assert Dimensions.of("500", "400", "300", "mm").volumetric_weight(5000) == Weight.of("12", "kg")
    us = Dimensions.of("20", "10", "10", "in").volumetric_weight(
        139, length_unit="in", weight_unit="lb"
    )
    assert us.unit is WeightUnit.LB
    assert us.value == Decimal("14.388489209")


@pytest.mark.parametrize("divisor", [0, -5000, 5000.0, True])
def test_volumetric_weight_divisor_must_be_a_positive_exact_number(divisor: object) -> None:
    """Zero, negative, float or bool divisors are refused."""
    with pytest.raises(InvalidInputError):
        Dimensions.of("1", "1", "1", "cm").volumetric_weight(divisor)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"value": "-1", "unit": "kg"}, "value"),
        ({"value": "NaN", "unit": "kg"}, "value"),
        ({"value": "Infinity", "unit": "kg"}, "value"),
        ({"value": 1.5, "unit": "kg"}, "value"),
        ({"value": "1", "unit": "stone"}, "unit"),
    ],
    ids=["negative", "nan", "inf", "float", "unit"],
)
def test_bad_weights_are_typed_errors_naming_the_field(
    kwargs: dict[str, object], path: str
) -> None:
    """Negative, NaN, infinite or float quantities and unknown units are refused."""
    with pytest.raises(CanonicalValidationError) as info:
        Weight(**kwargs)  # type: ignore[arg-type]
    assert info.value.path == path


def test_negative_dimension_names_the_side() -> None:
    """A negative side is refused with its own field path, from JSON too."""
    with pytest.raises(CanonicalValidationError) as info:
        Dimensions.model_validate_json(
            '{"length": "1", "width": "-2", "height": "3", "unit": "cm"}'
        )
    assert info.value.path == "width"
    assert "negative" in str(info.value)


@given(sst.weights())
def test_weights_serialise_in_plain_notation_and_round_trip(weight: Weight) -> None:
    """JSON values are decimal strings without exponents, and read back equal."""
    converted = weight.to("g")
    data = json.loads(converted.model_dump_json())
    assert isinstance(data["value"], str)
    assert "E" not in data["value"]
    assert Weight.model_validate_json(converted.model_dump_json()) == converted


def test_weight_str() -> None:
    """str() is value and unit."""
    assert str(Weight.of("1.5", "kg")) == "1.5 kg"
