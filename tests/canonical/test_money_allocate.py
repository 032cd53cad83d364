"""Money.allocate: exact splits in minor units, the remainder to the first parts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import CURRENCY_EXPONENTS, Money
from shipsync.errors import InvalidInputError
from shipsync.settlement import allocate as settlement_allocate

CURRENCIES = ("EUR", "JPY", "KWD", "CLF")


@st.composite
def amounts(draw: st.DrawFn) -> Money:
    """Money of any sign in currencies with 0, 2, 3 and 4 decimal places."""
    currency = draw(st.sampled_from(CURRENCIES))
    minor = draw(st.integers(min_value=-(10**12), max_value=10**12))
    return Money.of(Decimal(minor).scaleb(-CURRENCY_EXPONENTS[currency]), currency)


@pytest.mark.parametrize(
    ("amount", "parts", "expected"),
    [
        ("10.01", 3, ["3.34", "3.34", "3.33"]),
        ("10.02", 4, ["2.51", "2.51", "2.50", "2.50"]),
        ("-10.01", 3, ["-3.34", "-3.34", "-3.33"]),
        ("0.02", 3, ["0.01", "0.01", "0.00"]),
        ("0", 2, ["0", "0"]),
        ("7.00", 1, ["7.00"]),
        ("10.00", [1, 2], ["3.34", "6.66"]),
        ("10.00", [3, 1], ["7.50", "2.50"]),
        ("-1.00", [1, 1, 1], ["-0.34", "-0.33", "-0.33"]),
    ],
    ids=[
        "remainder-first",
        "two-remainders",
        "negative",
        "fewer-cents-than-parts",
        "zero",
        "one-part",
        "weights-remainder-first",
        "weights-exact",
        "negative-weights-split",
    ],
)
def test_allocate_gives_the_remainder_to_the_first_parts(
    amount: str, parts: int | list[int], expected: list[str]
) -> None:
    """Shares are rounded toward zero and leftover minor units go to the first shares."""
    shares = Money.of(amount, "EUR").allocate(parts)
    assert shares == tuple(Money.of(e, "EUR") for e in expected)


def test_allocate_keeps_the_currency_and_its_minor_unit() -> None:
    """JPY splits in yen, KWD in fils: the minor unit comes from the currency."""
    assert Money.of("5", "JPY").allocate(2) == (Money.of("3", "JPY"), Money.of("2", "JPY"))
    kwd = Money.of("1.001", "KWD").allocate(3)
    assert [m.amount for m in kwd] == [Decimal("0.334"), Decimal("0.334"), Decimal("0.333")]
    assert {m.currency for m in kwd} == {"KWD"}


@pytest.mark.parametrize(
    "parts",
    [0, -1, [], [1, 0], [2, -1], [1, True], [1.5], "12", True, 2.0, None],
    ids=[
        "zero",
        "negative",
        "no-weights",
        "zero-weight",
        "negative-weight",
        "bool-weight",
        "float-weight",
        "string",
        "bool",
        "float",
        "none",
    ],
)
def test_allocate_refuses_bad_parts_with_a_typed_error(parts: object) -> None:
    """A part count or weight that is not a positive int is an InvalidInputError."""
    with pytest.raises(InvalidInputError):
        Money.of("10.00", "EUR").allocate(parts)  # type: ignore[arg-type]


@given(amounts(), st.integers(min_value=1, max_value=50))
def test_equal_shares_add_back_and_differ_by_at_most_one_minor_unit(
    amount: Money, parts: int
) -> None:
    """An equal split sums to the amount exactly; shares differ by one minor unit at most."""
    shares = amount.allocate(parts)
    assert len(shares) == parts
    assert Money.sum(shares, amount.currency) == amount
    units = [share.minor_units for share in shares]
    assert max(units) - min(units) <= 1
    assert units == sorted(units, key=abs, reverse=True)  # the larger shares come first


@given(amounts(), st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=20))
def test_weighted_shares_add_back_and_stay_within_one_minor_unit_of_exact(
    amount: Money, weights: list[int]
) -> None:
    """A weighted split sums to the amount; each share is at most one minor unit off its ratio."""
    shares = amount.allocate(weights)
    assert len(shares) == len(weights)
    assert Money.sum(shares, amount.currency) == amount
    total = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(abs(amount.minor_units) * weight, total)
        assert abs(abs(share.minor_units) - exact) <= 1
        assert share.minor_units == 0 or (share.minor_units < 0) == amount.is_negative


@given(amounts(), st.integers(min_value=1, max_value=20))
def test_equal_weights_split_like_a_part_count(amount: Money, parts: int) -> None:
    """``allocate([1] * n)`` and ``allocate(n)`` give the same shares."""
    assert amount.allocate([1] * parts) == amount.allocate(parts)


@given(amounts(), st.integers(min_value=1, max_value=20))
def test_allocate_agrees_with_settlement_allocate(amount: Money, parts: int) -> None:
    """Money.allocate splits exactly as ``shipsync.settlement.allocate`` does."""
    assert list(amount.allocate(parts)) == settlement_allocate(amount, parts)
