"""Weights and dimensions with exact conversions.

Every unit is defined by an exact factor to a base unit (1 lb = 453.59237 g and 1 in = 25.4 mm
exactly, by the 1959 international agreement). Conversions are computed as exact fractions and
rounded once, half-even, to ``PLACES`` decimal places; comparisons use the exact value, so
``1 lb == 453.59237 g`` holds.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from functools import total_ordering
from typing import Annotated, Any, Self

from pydantic import GetCoreSchemaHandler, GetPydanticSchema, PlainSerializer, WithJsonSchema
from pydantic_core import CoreSchema, core_schema

from shipsync.canonical._base import CanonicalModel
from shipsync.canonical._money import _MAX_DIGITS, _MAX_PLACES, _exact_decimal, _fixed_point
from shipsync.errors import InvalidInputError

__all__ = ["PLACES", "Dimensions", "LengthUnit", "NonNegativeDecimal", "Weight", "WeightUnit"]

PLACES = 9
_SCALE = 10**PLACES
# Wide enough for any product of three bounded sides; a result beyond 24 integer digits is then
# refused by the model it is put in.
_EXACT = Context(prec=120, rounding=ROUND_HALF_EVEN)


class WeightUnit(enum.StrEnum):
    """Units of mass."""

    KG = "kg"
    G = "g"
    LB = "lb"
    OZ = "oz"


class LengthUnit(enum.StrEnum):
    """Units of length."""

    CM = "cm"
    MM = "mm"
    IN = "in"


_GRAMS: dict[WeightUnit, Fraction] = {
    WeightUnit.KG: Fraction(1000),
    WeightUnit.G: Fraction(1),
    WeightUnit.LB: Fraction("453.59237"),
    WeightUnit.OZ: Fraction("453.59237") / 16,
}
_MILLIMETRES: dict[LengthUnit, Fraction] = {
    LengthUnit.CM: Fraction(10),
    LengthUnit.MM: Fraction(1),
    LengthUnit.IN: Fraction("25.4"),
}


def _non_negative(value: Any) -> Decimal:
    result = _exact_decimal(value)
    if result < 0:
        raise ValueError("must not be negative")
    return result if result else result.copy_abs()  # "-0" is zero, written "0"


def _non_negative_schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    """Plain unsigned JSON strings are read by pydantic-core alone; anything else (a sign, an
    exponent, a number) goes through :func:`_non_negative`, which also turns ``-0`` into ``0``."""
    checked = core_schema.no_info_plain_validator_function(_non_negative)
    plain = core_schema.chain_schema(
        [
            core_schema.str_schema(
                pattern=rf"^[0-9]{{1,{_MAX_DIGITS}}}(\.[0-9]{{1,{_MAX_PLACES}}})?$"
            ),
            core_schema.decimal_schema(allow_inf_nan=False),
        ]
    )
    from_json = core_schema.union_schema(
        [plain, checked],
        mode="left_to_right",
        custom_error_type="non_negative_decimal",
        custom_error_message=(
            f"expected a finite, non-negative decimal string with at most {_MAX_DIGITS} integer"
            " digits (floats are not accepted)"
        ),
    )
    return core_schema.json_or_python_schema(json_schema=from_json, python_schema=checked)


NonNegativeDecimal = Annotated[
    Decimal,
    GetPydanticSchema(_non_negative_schema),
    PlainSerializer(_fixed_point, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$"}),
]
"""A finite, non-negative exact decimal (``ExactDecimal`` with a lower bound of zero)."""


def _to_decimal(value: Fraction) -> Decimal:
    """``value`` rounded once, half-even, to ``PLACES`` places (``round`` of a ``Fraction`` is
    banker's rounding), exact at any size and whatever the thread's decimal context says."""
    return Decimal(round(value * _SCALE)).scaleb(-PLACES, _EXACT).normalize(_EXACT)


def _weight_unit(unit: WeightUnit | str) -> WeightUnit:
    try:
        return WeightUnit(unit)
    except ValueError:
        raise InvalidInputError("not a weight unit (kg, g, lb, oz)", path="unit") from None


def _length_unit(unit: LengthUnit | str) -> LengthUnit:
    try:
        return LengthUnit(unit)
    except ValueError:
        raise InvalidInputError("not a length unit (cm, mm, in)", path="unit") from None


@total_ordering
class Weight(CanonicalModel):
    """A non-negative weight in one unit."""

    value: NonNegativeDecimal
    unit: WeightUnit

    @classmethod
    def of(cls, value: Decimal | int | str, unit: WeightUnit | str) -> Self:
        """Build from a value and a unit."""
        return cls(value=value, unit=unit)

    @property
    def grams(self) -> Fraction:
        """The exact weight in grams."""
        return Fraction(self.value) * _GRAMS[self.unit]

    def to(self, unit: WeightUnit | str) -> Weight:
        """Convert to ``unit``, rounded once to ``PLACES`` decimal places."""
        target = _weight_unit(unit)
        if target is self.unit:
            return self
        return Weight(value=_to_decimal(self.grams / _GRAMS[target]), unit=target)

    def __add__(self, other: Weight) -> Weight:
        if not isinstance(other, Weight):
            raise InvalidInputError("can only add a Weight to a Weight")
        return Weight(
            value=_to_decimal((self.grams + other.grams) / _GRAMS[self.unit]), unit=self.unit
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Weight):
            return NotImplemented
        return self.grams == other.grams

    def __hash__(self) -> int:
        return hash(self.grams)

    def __lt__(self, other: Weight) -> bool:
        if not isinstance(other, Weight):
            return NotImplemented
        return self.grams < other.grams

    def __str__(self) -> str:
        return f"{self.value} {self.unit.value}"


class Dimensions(CanonicalModel):
    """The outer dimensions of a parcel."""

    length: NonNegativeDecimal
    width: NonNegativeDecimal
    height: NonNegativeDecimal
    unit: LengthUnit

    @classmethod
    def of(
        cls,
        length: Decimal | int | str,
        width: Decimal | int | str,
        height: Decimal | int | str,
        unit: LengthUnit | str,
    ) -> Self:
        """Build from three values and a unit."""
        return cls(length=length, width=width, height=height, unit=unit)

    def _sides(self, unit: LengthUnit) -> tuple[Fraction, Fraction, Fraction]:
        factor = _MILLIMETRES[self.unit] / _MILLIMETRES[unit]
        return (
            Fraction(self.length) * factor,
            Fraction(self.width) * factor,
            Fraction(self.height) * factor,
        )

    def to(self, unit: LengthUnit | str) -> Dimensions:
        """Convert to ``unit``, each side rounded once to ``PLACES`` decimal places."""
        target = _length_unit(unit)
        if target is self.unit:
            return self
        length, width, height = self._sides(target)
        return Dimensions(
            length=_to_decimal(length),
            width=_to_decimal(width),
            height=_to_decimal(height),
            unit=target,
        )

    def volume(self, unit: LengthUnit | str = LengthUnit.CM) -> Fraction:
        """The exact volume in cubic ``unit``."""
        length, width, height = self._sides(_length_unit(unit))
        return length * width * height

    def volumetric_weight(
        self,
        divisor: Decimal | int,
        *,
        length_unit: LengthUnit | str = LengthUnit.CM,
        weight_unit: WeightUnit | str = WeightUnit.KG,
    ) -> Weight:
        """The dimensional weight carriers bill: volume / divisor.

        ``divisor`` is in cubic ``length_unit`` per ``weight_unit``: 5000 cm³/kg for most express
        carriers, 139 in³/lb for US ground. The result is rounded once to ``PLACES`` places.
        """
        if (
            isinstance(divisor, bool)
            or not isinstance(divisor, Decimal | int)
            or (isinstance(divisor, Decimal) and not divisor.is_finite())
            or divisor <= 0
        ):
            raise InvalidInputError("divisor must be a positive int or Decimal", path="divisor")
        target = _weight_unit(weight_unit)
        weight = self.volume(length_unit) / Fraction(divisor)
        return Weight(value=_to_decimal(weight), unit=target)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dimensions):
            return NotImplemented
        return self._sides(LengthUnit.MM) == other._sides(LengthUnit.MM)

    def __hash__(self) -> int:
        return hash(self._sides(LengthUnit.MM))
