"""Matching rules: tolerances per charge type, and the classification of one invoice line.

A billed charge is within tolerance when ``|billed - expected| <= max(absolute, percent% of
|expected|)``, compared exactly in ``Decimal`` (``|d| * 100 <= |expected| * percent``), so a line
at the boundary is never misclassified by rounding.

Each line gets exactly one class, decided in this order:

1. ``unknown_shipment``: no package matches the tracking number, carrier shipment id or reference;
2. ``duplicate_line``: the package was billed before (earlier in this invoice or an earlier one);
3. ``billed_after_cancellation``: the shipment was cancelled;
4. ``currency_mismatch``: the invoice currency is not the currency of the expectation (never
   converted);
5. ``address_correction`` / ``weight_adjustment`` / ``unquoted_surcharge``: a charge type that
   was not quoted is billed beyond its tolerance (address correction first, then dimensional
   weight, then any other type);
6. ``overcharge`` / ``undercharge``: a quoted charge type is billed outside its tolerance; the
   sign of the largest difference decides;
7. ``matched``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from types import MappingProxyType

import attrs

from shipsync.canonical import ChargeType, LineClass
from shipsync.errors import ConfigurationError

__all__ = ["MatchRules", "Tolerance", "classify_charges"]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


def _decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, bool | float):
        raise ConfigurationError("tolerances are exact: pass a Decimal, int or decimal string")
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise ConfigurationError("a tolerance is not a decimal number") from None
    if not result.is_finite() or result < 0:
        raise ConfigurationError("a tolerance must be a finite, non-negative number")
    return result


@attrs.frozen
class Tolerance:
    """How far a billed charge may be from the expected one and still match.

    ``absolute`` is in the invoice currency; ``percent`` is of the expected amount. The larger
    of the two applies. Both default to zero: exact match.
    """

    absolute: Decimal = attrs.field(default=_ZERO, converter=_decimal)
    percent: Decimal = attrs.field(default=_ZERO, converter=_decimal)

    def allows(self, difference: Decimal, expected: Decimal) -> bool:
        """True when ``difference`` is within this tolerance of ``expected``."""
        size = abs(difference)
        return size <= self.absolute or size * _HUNDRED <= abs(expected) * self.percent


def _tolerances(value: Mapping[ChargeType, Tolerance]) -> Mapping[ChargeType, Tolerance]:
    return MappingProxyType({ChargeType(kind): tolerance for kind, tolerance in value.items()})


@attrs.frozen
class MatchRules:
    """Tolerances per charge type, with a default for the types not named."""

    tolerances: Mapping[ChargeType, Tolerance] = attrs.field(factory=dict, converter=_tolerances)
    default: Tolerance = Tolerance()

    def tolerance(self, kind: ChargeType) -> Tolerance:
        """The tolerance of ``kind``."""
        return self.tolerances.get(kind, self.default)

    def table(self) -> dict[ChargeType, tuple[Decimal, Decimal]]:
        """``(absolute, percent)`` per charge type, for the hot loop."""
        return {
            kind: (self.tolerance(kind).absolute, self.tolerance(kind).percent)
            for kind in ChargeType
        }


_ORDER = {kind: i for i, kind in enumerate(ChargeType)}
_KINDS = tuple(ChargeType)
_MATCHED: tuple[LineClass, None, Decimal] = (LineClass.MATCHED, None, _ZERO)
_RANK = {
    kind: (
        0
        if kind is ChargeType.ADDRESS_CORRECTION
        else 1
        if kind is ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT
        else 2 + i
    )
    for i, kind in enumerate(ChargeType)
}


def classify_charges(
    billed: tuple[tuple[ChargeType, Decimal], ...],
    expected: Mapping[ChargeType, Decimal],
    table: Mapping[ChargeType, tuple[Decimal, Decimal]],
) -> tuple[LineClass, ChargeType | None, Decimal]:
    """Classify a line whose package is known, current and in the invoice currency.

    ``billed`` holds each charge type at most once. Returns the class, the charge type that
    decided it (``None`` when matched) and the signed difference of that charge type (billed minus
    expected; zero when matched).
    """
    unquoted: ChargeType | None = None
    unquoted_diff = _ZERO
    worst: ChargeType | None = None
    worst_diff = _ZERO
    worst_size = _ZERO
    seen = 0
    for kind, amount in billed:
        quoted = expected.get(kind)
        if quoted is None:
            if not amount or abs(amount) <= table[kind][0]:
                continue
            if unquoted is None or _RANK[kind] < _RANK[unquoted]:
                unquoted, unquoted_diff = kind, amount
            continue
        seen += 1
        diff = amount - quoted
        if not diff:
            continue
        absolute, percent = table[kind]
        size = abs(diff)
        if size <= absolute or size * _HUNDRED <= abs(quoted) * percent:
            continue
        if (
            worst is None
            or size > worst_size
            or (size == worst_size and _ORDER[kind] < _ORDER[worst])
        ):
            worst, worst_diff, worst_size = kind, diff, size
    if unquoted is not None:
        if unquoted is ChargeType.ADDRESS_CORRECTION:
            return LineClass.ADDRESS_CORRECTION, unquoted, unquoted_diff
        if unquoted is ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT:
            return LineClass.WEIGHT_ADJUSTMENT, unquoted, unquoted_diff
        return LineClass.UNQUOTED_SURCHARGE, unquoted, unquoted_diff
    if seen != len(expected):
        billed_kinds = {kind for kind, _ in billed}
        for kind, quoted in expected.items():
            if kind in billed_kinds or not quoted:
                continue
            absolute, percent = table[kind]
            size = abs(quoted)
            if size <= absolute or size * _HUNDRED <= size * percent:
                continue
            if (
                worst is None
                or size > worst_size
                or (size == worst_size and _ORDER[kind] < _ORDER[worst])
            ):
                worst, worst_diff, worst_size = kind, -quoted, size
    if worst is None:
        return _MATCHED
    if worst_diff > 0:
        return LineClass.OVERCHARGE, worst, worst_diff
    return LineClass.UNDERCHARGE, worst, worst_diff


# -- the same rules in integer minor units (the file hot loop's) --------------------------------

_KIND_CLASS = {
    ChargeType.ADDRESS_CORRECTION: LineClass.ADDRESS_CORRECTION,
    ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT: LineClass.WEIGHT_ADJUSTMENT,
}


def minor_table(
    table: Mapping[ChargeType, tuple[Decimal, Decimal]], exponent: int
) -> dict[ChargeType, tuple[int, int, int]]:
    """``table`` for amounts in minor units of a currency with ``exponent`` decimals: per charge
    type ``(absolute, numerator, denominator)`` such that, for an integer ``size`` and quoted
    amount ``q`` in minor units, ``size <= absolute`` is the absolute test and
    ``size * 100 * denominator <= |q| * numerator`` the percent test, both exact.

    The absolute tolerance is floored to a whole minor unit: for an integer size, ``size <= a``
    and ``size <= floor(a)`` agree. The percent is an exact fraction."""
    out: dict[ChargeType, tuple[int, int, int]] = {}
    for kind, (absolute, percent) in table.items():
        floor = int(absolute.scaleb(exponent).to_integral_value(rounding=ROUND_FLOOR))
        numerator, denominator = percent.as_integer_ratio()
        out[kind] = (floor, numerator, denominator)
    return out


def classify_minor(
    billed: tuple[tuple[ChargeType, int], ...],
    expected: Mapping[ChargeType, int],
    table: Mapping[ChargeType, tuple[int, int, int]],
) -> tuple[LineClass, ChargeType | None, int, bool]:
    """:func:`classify_charges` on amounts in integer minor units (``table`` from
    :func:`minor_table`): the same class and charge type, the difference in minor units, and
    whether that difference is a quoted amount that was not billed (negated)."""
    unquoted: ChargeType | None = None
    unquoted_diff = 0
    worst: ChargeType | None = None
    worst_diff = 0
    worst_size = 0
    from_quote = False
    seen = 0
    for kind, amount in billed:
        quoted = expected.get(kind)
        if quoted is None:
            if not amount or abs(amount) <= table[kind][0]:
                continue
            if unquoted is None or _RANK[kind] < _RANK[unquoted]:
                unquoted, unquoted_diff = kind, amount
            continue
        seen += 1
        diff = amount - quoted
        if not diff:
            continue
        absolute, numerator, denominator = table[kind]
        size = abs(diff)
        if size <= absolute or size * 100 * denominator <= abs(quoted) * numerator:
            continue
        if (
            worst is None
            or size > worst_size
            or (size == worst_size and _ORDER[kind] < _ORDER[worst])
        ):
            worst, worst_diff, worst_size = kind, diff, size
    if unquoted is not None:
        return (
            _KIND_CLASS.get(unquoted, LineClass.UNQUOTED_SURCHARGE),
            unquoted,
            unquoted_diff,
            False,
        )
    if seen != len(expected):
        billed_kinds = {kind for kind, _ in billed}
        for kind, quoted in expected.items():
            if kind in billed_kinds or not quoted:
                continue
            absolute, numerator, denominator = table[kind]
            size = abs(quoted)
            if size <= absolute or size * 100 * denominator <= size * numerator:
                continue
            if (
                worst is None
                or size > worst_size
                or (size == worst_size and _ORDER[kind] < _ORDER[worst])
            ):
                worst, worst_diff, worst_size = kind, -quoted, size
                from_quote = True
    if worst is None:
        return LineClass.MATCHED, None, 0, False
    if worst_diff > 0:
        return LineClass.OVERCHARGE, worst, worst_diff, from_quote
    return LineClass.UNDERCHARGE, worst, worst_diff, from_quote
