"""Money: a ``Decimal`` amount in one ISO 4217 currency, never a float.

Amounts are quantised to the currency's minor unit (JPY 0 places, USD 2, KWD 3, CLF 4) with
banker's rounding (``ROUND_HALF_EVEN``), so a sum of quantised amounts is exact. Arithmetic and
ordering work only within one currency; anything else raises ``CurrencyMismatchError``. JSON carries
the amount as a string (``{"amount": "12.50", "currency": "EUR"}``), and float input is refused,
from Python and from JSON alike.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import total_ordering
from typing import Annotated, Any, Self

from iso4217 import Currency
from pydantic import GetCoreSchemaHandler, GetPydanticSchema, PlainSerializer, WithJsonSchema
from pydantic_core import CoreSchema, core_schema

from shipsync.canonical._base import CanonicalModel
from shipsync.errors import CurrencyMismatchError, InvalidInputError

__all__ = ["CURRENCY_EXPONENTS", "CurrencyCode", "ExactDecimal", "Money"]

CURRENCY_EXPONENTS: dict[str, int] = {
    currency.code: currency.exponent for currency in Currency if currency.exponent is not None
}
"""ISO 4217 currencies that have a minor unit, with its number of decimal places."""

_QUANTA: dict[str, Decimal] = {
    code: Decimal(1).scaleb(-e) for code, e in CURRENCY_EXPONENTS.items()
}
_CONTEXT = Context(prec=38, rounding=ROUND_HALF_EVEN)
_WIDE = Context(prec=80, rounding=ROUND_HALF_EVEN)  # wide enough never to round a sum of amounts
_MAX_DIGITS = 24
_MAX_PLACES = 38
# What ``Decimal()`` reads, minus its extras (Unicode digits, ``_`` separators, NaN/Infinity).
_DECIMAL_STRING = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*", re.ASCII)


# A literal of every code, checked inside pydantic-core (one hash lookup, no Python call).
_CURRENCY_SCHEMA = core_schema.custom_error_schema(
    core_schema.literal_schema(sorted(_QUANTA)),
    custom_error_type="currency_code",
    custom_error_message="not an ISO 4217 currency code with a minor unit",
)

CurrencyCode = Annotated[
    str,
    GetPydanticSchema(lambda _source, _handler: _CURRENCY_SCHEMA),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}),
]
"""An ISO 4217 alphabetic code, upper case (``EUR``), of a currency with a minor unit."""


def _exact_decimal(value: Any) -> Decimal:
    """Accept ``Decimal``, ``int`` and ASCII decimal strings; refuse floats, booleans, non-finite
    values and values beyond 24 integer digits or 38 decimal places (the bounds keep every later
    exact computation, such as a unit conversion through a fraction, small)."""
    if isinstance(value, bool | float):
        raise ValueError("floats are not accepted for exact amounts; pass a string or Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if len(value) > 64:
            raise ValueError("decimal string too long")
        if _DECIMAL_STRING.fullmatch(value) is None:
            raise ValueError("not a decimal number")
        try:
            result = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
            raise ValueError("not a decimal number") from None
    else:
        raise ValueError(f"expected a decimal string, int or Decimal, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("amount must be finite")
    if result.adjusted() >= _MAX_DIGITS:
        raise ValueError(f"amount exceeds {_MAX_DIGITS} integer digits")
    exponent = result.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -_MAX_PLACES:
        raise ValueError(f"amount has more than {_MAX_PLACES} decimal places")
    return result


# JSON strings in plain decimal notation are parsed by pydantic-core alone; anything else (an
# exponent, a number, a float) goes through ``_exact_decimal``, which accepts or names the fault.
_PLAIN_DECIMAL = rf"^-?[0-9]{{1,{_MAX_DIGITS}}}(\.[0-9]{{1,{_MAX_PLACES}}})?$"


def _fixed_point(value: Decimal) -> str:
    """Plain notation, never an exponent: ``Decimal("1E+3")`` is written ``"1000"``."""
    return format(value, "f")


def _exact_decimal_schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    checked = core_schema.no_info_plain_validator_function(_exact_decimal)
    plain = core_schema.chain_schema(
        [
            core_schema.str_schema(pattern=_PLAIN_DECIMAL),
            core_schema.decimal_schema(allow_inf_nan=False),
        ]
    )
    from_json = core_schema.union_schema(
        [plain, checked],
        mode="left_to_right",
        custom_error_type="exact_decimal",
        custom_error_message=(
            f"expected a finite decimal string with at most {_MAX_DIGITS} integer digits"
            f" and {_MAX_PLACES} decimal places"
            " (floats are not accepted)"
        ),
    )
    return core_schema.json_or_python_schema(json_schema=from_json, python_schema=checked)


ExactDecimal = Annotated[
    Decimal,
    GetPydanticSchema(_exact_decimal_schema),
    PlainSerializer(_fixed_point, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
"""A finite ``Decimal`` that refuses floats and serialises to JSON as a string."""


def _exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum of decimal amounts, for validators that check totals without building Money."""
    return functools.reduce(_WIDE.add, amounts, Decimal(0))


@total_ordering
class Money(CanonicalModel):
    """An exact amount of one currency.

    >>> Money.of("10.005", "USD")
    Money(amount=Decimal('10.00'), currency='USD')
    >>> Money.of("1.10", "EUR") + Money.of("2.20", "EUR")
    Money(amount=Decimal('3.30'), currency='EUR')
    """

    amount: ExactDecimal
    currency: CurrencyCode

    def model_post_init(self, context: Any, /) -> None:
        # Quantising unconditionally is cheaper than checking the exponent (``as_tuple``) first.
        amount = self.amount.quantize(_QUANTA[self.currency], context=_CONTEXT)
        # One zero: "-0.00" would serialise differently from "0.00" and change stable ids.
        self.__dict__["amount"] = amount if amount else amount.copy_abs()

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Self:
        """Build from an amount and a currency code."""
        return cls(amount=amount, currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Zero in ``currency``."""
        return cls(amount=Decimal(0), currency=currency)

    @classmethod
    def sum(cls, amounts: Iterable[Money], currency: str) -> Self:
        """Add amounts of ``currency``; an empty iterable gives zero; other currencies raise."""
        total = Decimal(0)
        for item in amounts:
            if item.currency != currency:
                raise CurrencyMismatchError(currency, item.currency, "add")
            total = _WIDE.add(total, item.amount)
        return cls(amount=total, currency=currency)

    def _new(self, amount: Decimal) -> Self:
        return type(self)(amount=amount, currency=self.currency)

    def _exact(self, operation: Callable[[Decimal, Decimal], Decimal], other: Decimal) -> Self:
        """Apply a ``_WIDE`` operation (exact whatever the thread's decimal context says)."""
        try:
            result = operation(self.amount, other)
        except ArithmeticError:  # decimal's Overflow, InvalidOperation (sNaN) and kin
            raise InvalidInputError("Money arithmetic result is out of range") from None
        return self._new(result)

    def _same(self, other: object, operation: str) -> Money:
        if not isinstance(other, Money):
            raise InvalidInputError(f"cannot {operation} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(self.currency, other.currency, operation)
        return other

    # -- arithmetic -----------------------------------------------------------------------------

    def __add__(self, other: Money) -> Self:
        return self._exact(_WIDE.add, self._same(other, "add").amount)

    def __sub__(self, other: Money) -> Self:
        return self._exact(_WIDE.subtract, self._same(other, "subtract").amount)

    def __neg__(self) -> Self:
        return self._new(self.amount.copy_negate())  # exact: no context, no rounding

    def __abs__(self) -> Self:
        return self._new(self.amount.copy_abs())

    def __mul__(self, factor: Decimal | int) -> Self:
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise InvalidInputError("Money can be multiplied by an int or Decimal only")
        return self._exact(_WIDE.multiply, Decimal(factor))

    __rmul__ = __mul__

    def percent(self, rate: Decimal | int) -> Self:
        """``rate`` percent of this amount, rounded half-even to the minor unit."""
        if isinstance(rate, bool) or not isinstance(rate, Decimal | int):
            raise InvalidInputError("a percent rate must be an int or Decimal")
        try:
            factor = _WIDE.divide(Decimal(rate), 100)
        except ArithmeticError:
            raise InvalidInputError("Money arithmetic result is out of range") from None
        return self * factor

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other, "compare").amount

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __bool__(self) -> bool:
        return bool(self.amount)

    @property
    def is_negative(self) -> bool:
        """True for a credit."""
        return self.amount < 0

    @property
    def minor_units(self) -> int:
        """The amount in the currency's minor unit (cents), as an exact integer."""
        return int(self.amount.scaleb(CURRENCY_EXPONENTS[self.currency], _WIDE))

    def allocate(self, parts: int | Sequence[int]) -> tuple[Self, ...]:
        """Split exactly into ``parts`` equal shares, or in proportion to integer weights.

        The split is done in minor units: each share is rounded toward zero, and the minor units
        left over go one at a time to the first shares, so the shares always add back to this
        amount exactly. A negative amount splits like its absolute value, with the sign kept.

            >>> [str(m) for m in Money.of("10.01", "EUR").allocate(3)]
            ['3.34 EUR', '3.34 EUR', '3.33 EUR']
            >>> [str(m) for m in Money.of("10.00", "EUR").allocate([1, 2])]
            ['3.34 EUR', '6.66 EUR']
        """
        if isinstance(parts, int) and not isinstance(parts, bool):
            if parts < 1:
                raise InvalidInputError("cannot allocate to fewer than one part")
            weights: Sequence[int] = (1,) * parts
        elif isinstance(parts, Sequence) and not isinstance(parts, str | bytes):
            if not parts:
                raise InvalidInputError("cannot allocate to an empty list of weights")
            for weight in parts:
                if not isinstance(weight, int) or isinstance(weight, bool):
                    raise InvalidInputError("allocation weights must be integers")
                if weight < 1:
                    raise InvalidInputError("allocation weights must be positive")
            weights = parts
        else:
            raise InvalidInputError("allocate takes a number of parts or a sequence of weights")
        exponent = CURRENCY_EXPONENTS[self.currency]
        minor = self.minor_units
        sign = -1 if minor < 0 else 1
        magnitude = abs(minor)
        total = sum(weights)
        shares = [magnitude * weight // total for weight in weights]
        remainder = magnitude - sum(shares)  # < len(shares): each share lost less than one unit
        return tuple(
            self._new(Decimal(sign * (share + (index < remainder))).scaleb(-exponent, _CONTEXT))
            for index, share in enumerate(shares)
        )

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
