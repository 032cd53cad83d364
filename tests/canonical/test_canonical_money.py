"""Money: exact decimals in one ISO 4217 currency, quantised half-even, never a float."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    CURRENCY_EXPONENTS,
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Money,
    Rate,
    Settlement,
    parse_event,
)
from shipsync.errors import CanonicalValidationError, CurrencyMismatchError, InvalidInputError
from shipsync.testing import strategies as sst

T = "2026-11-26T10:00:00Z"


# --- construction and float refusal ------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [1.5, 0.1, float("nan"), float("inf"), True],
    ids=["float", "tenth", "nan", "inf", "bool"],
)
def test_float_and_bool_amounts_are_refused_from_python(amount: object) -> None:
    """A float (or bool) amount given from Python is a typed error naming ``amount``."""
    with pytest.raises(CanonicalValidationError) as info:
        Money(amount=amount, currency="EUR")  # type: ignore[arg-type]
    assert info.value.path == "amount"


@pytest.mark.parametrize(
    "literal", ["1.5", "1e3", "-0.25", "true", "null", '"NaN"', '"Infinity"', '"abc"', "[]"]
)
def test_json_amounts_that_are_not_decimal_strings_are_refused(literal: str) -> None:
    """JSON floats, NaN, infinities, booleans and junk are refused, naming ``amount``."""
    with pytest.raises(CanonicalValidationError) as info:
        Money.model_validate_json(f'{{"amount": {literal}, "currency": "EUR"}}')
    assert info.value.path == "amount"


def test_json_integers_are_exact_and_accepted() -> None:
    """A JSON integer has no rounding error, so it is accepted like a decimal string."""
    assert Money.model_validate_json('{"amount": 12, "currency": "EUR"}') == Money.of("12", "EUR")


def test_json_float_error_says_floats_are_refused() -> None:
    """The message for a JSON float tells the sender what to send instead."""
    with pytest.raises(CanonicalValidationError, match="floats are not accepted"):
        Money.model_validate_json('{"amount": 10.25, "currency": "USD"}')


@pytest.mark.parametrize("text", ['"1E+3"', '" 12.5 "', '"-0.005"'])
def test_json_amount_strings_in_other_decimal_notations_are_read(text: str) -> None:
    """Exponent notation and surrounding blanks are read exactly, then quantised."""
    money = Money.model_validate_json(f'{{"amount": {text}, "currency": "USD"}}')
    assert money.amount == Decimal(json.loads(text).strip()).quantize(Decimal("0.01"))


@pytest.mark.parametrize("amount", ["1" * 25, "1e30", "9" * 70])
def test_amounts_beyond_24_integer_digits_are_refused(amount: str) -> None:
    """Amounts with more than 24 integer digits (or absurdly long strings) are refused."""
    with pytest.raises(CanonicalValidationError):
        Money.of(amount, "EUR")
    with pytest.raises(CanonicalValidationError):
        Money.model_validate_json(json.dumps({"amount": amount, "currency": "EUR"}))


@pytest.mark.parametrize("currency", ["XXX", "eur", "EURO", "", "XAU"])
def test_unknown_currency_is_a_typed_error(currency: str) -> None:
    """Codes that are not ISO 4217 currencies with a minor unit are refused, naming the field."""
    with pytest.raises(CanonicalValidationError) as info:
        Money.of("1", currency)
    assert info.value.path == "currency"
    assert "ISO 4217" in str(info.value)


# --- quantisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10.005", "USD", "10.00"),
        ("10.015", "USD", "10.02"),
        ("10.025", "USD", "10.02"),
        ("-10.025", "USD", "-10.02"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1234", "JPY", "1234"),
        ("1.0005", "KWD", "1.000"),
        ("1.0015", "KWD", "1.002"),
        ("1.23455", "CLF", "1.2346"),
        ("1.23445", "CLF", "1.2344"),
        ("7", "EUR", "7.00"),
    ],
)
def test_amounts_are_quantised_half_even_to_the_currency_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    """JPY 0, USD 2, KWD 3, CLF 4 places; ties go to the even neighbour."""
    money = Money.of(amount, currency)
    assert str(money.amount) == expected
    assert Money.model_validate_json(f'{{"amount":"{amount}","currency":"{currency}"}}') == money


def test_exponents_table_matches_iso_4217() -> None:
    """The minor units used for quantising are ISO 4217's."""
    assert (CURRENCY_EXPONENTS["JPY"], CURRENCY_EXPONENTS["USD"]) == (0, 2)
    assert (CURRENCY_EXPONENTS["KWD"], CURRENCY_EXPONENTS["CLF"]) == (3, 4)


@given(sst.decimal_amounts(), sst.currency_codes())
def test_quantising_matches_decimal_half_even(amount: Decimal, currency: str) -> None:
    """Any amount is stored exactly as ``quantize(ROUND_HALF_EVEN)`` to the currency's places."""
    quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    money = Money.of(amount, currency)
    assert money.amount == amount.quantize(quantum, rounding=ROUND_HALF_EVEN)
    assert money.amount.as_tuple().exponent == quantum.as_tuple().exponent


@given(sst.money(exact=False))
def test_quantising_is_idempotent(money: Money) -> None:
    """Building money from an already quantised amount changes nothing."""
    assert Money.of(money.amount, money.currency) == money
    assert str(Money.of(money.amount, money.currency).amount) == str(money.amount)


# --- arithmetic --------------------------------------------------------------------------------


@given(st.data(), sst.currency_codes(common_only=True))
def test_addition_and_subtraction_are_exact_within_a_currency(
    data: st.DataObject, currency: str
) -> None:
    """a + b - b == a, + commutes and associates, and the result equals decimal arithmetic."""
    a, b, c = (data.draw(sst.money(currency)) for _ in range(3))
    assert (a + b).amount == a.amount + b.amount
    assert a + b - b == a
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert (-a).amount == -a.amount
    assert -a + a == Money.zero(currency)
    assert abs(a).amount == abs(a.amount)
    assert a - a == Money.zero(currency)


@given(sst.money(), st.integers(min_value=-1000, max_value=1000))
def test_multiplying_by_an_int_is_exact(money: Money, factor: int) -> None:
    """Integer multiples need no rounding and equal repeated addition's result."""
    assert (money * factor).amount == money.amount * factor
    assert factor * money == money * factor


@given(sst.money(), sst.decimal_amounts(min_value=-100, max_value=100, places=3))
def test_multiplying_by_a_decimal_rounds_half_even_once(money: Money, factor: Decimal) -> None:
    """A Decimal factor's product is rounded once, half-even, to the minor unit."""
    quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS[money.currency])
    expected = (money.amount * factor).quantize(quantum, rounding=ROUND_HALF_EVEN)
    assert (money * factor).amount == expected


def test_percent_rounds_half_even() -> None:
    """``percent`` takes a percentage of the amount and rounds once."""
    assert Money.of("10.10", "EUR").percent(5) == Money.of("0.50", "EUR")
    assert Money.of("0.30", "EUR").percent(Decimal("2.5")) == Money.of("0.01", "EUR")


@given(st.data(), sst.currency_codes(common_only=True))
def test_ordering_within_one_currency_follows_the_amount(
    data: st.DataObject, currency: str
) -> None:
    """<, <=, >, >= compare amounts of the same currency."""
    a, b = data.draw(sst.money(currency)), data.draw(sst.money(currency))
    assert (a < b) == (a.amount < b.amount)
    assert (a >= b) == (a.amount >= b.amount)
    assert max(a, b).amount == max(a.amount, b.amount)


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: Money.sum([a, b], "EUR"),
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge", "sum"],
)
def test_mixing_currencies_raises_currency_mismatch(operation: object) -> None:
    """Arithmetic and ordering across two currencies is a CurrencyMismatchError, never silent."""
    eur, usd = Money.of("1", "EUR"), Money.of("1", "USD")
    with pytest.raises(CurrencyMismatchError) as info:
        operation(eur, usd)  # type: ignore[operator]
    assert {info.value.left, info.value.right} == {"EUR", "USD"}


def test_equality_across_currencies_is_false_not_an_error() -> None:
    """== is total: the same number in two currencies is simply not equal."""
    assert Money.of("1", "EUR") != Money.of("1", "USD")
    assert Money.of("1", "EUR") != Decimal(1)


@pytest.mark.parametrize("factor", [1.5, True, "2", Money.of("1", "EUR")])
def test_multiplying_by_anything_but_int_or_decimal_is_refused(factor: object) -> None:
    """Money * float (or a string, a bool, money) is an InvalidInputError."""
    with pytest.raises(InvalidInputError):
        Money.of("1", "EUR") * factor  # type: ignore[operator]


def test_adding_a_non_money_is_refused() -> None:
    """Money + Decimal is an error: a bare number has no currency."""
    with pytest.raises(InvalidInputError):
        Money.of("1", "EUR") + Decimal(1)  # type: ignore[operator]


def test_minor_units_and_helpers() -> None:
    """Minor units are exact integers; zero, bool and sign helpers behave."""
    assert Money.of("12.34", "EUR").minor_units == 1234
    assert Money.of("12", "JPY").minor_units == 12
    assert Money.of("-1.234", "KWD").minor_units == -1234
    assert not Money.zero("EUR")
    assert Money.of("-0.01", "EUR").is_negative
    assert str(Money.of("5", "EUR")) == "5.00 EUR"
    assert Money.sum([], "JPY") == Money.zero("JPY")


# --- totals ------------------------------------------------------------------------------------


@given(st.data(), sst.currency_codes(common_only=True))
def test_sum_equals_the_exact_sum_of_the_amounts(data: st.DataObject, currency: str) -> None:
    """Money.sum of quantised amounts is their exact decimal sum (no rounding drift)."""
    amounts = data.draw(st.lists(sst.money(currency), max_size=20))
    total = Money.sum(amounts, currency)
    assert total.amount == sum((m.amount for m in amounts), Decimal(0))


@settings(max_examples=25)
@given(sst.freight_invoices())
def test_invoice_total_equals_the_sum_of_its_charges(invoice: FreightInvoice) -> None:
    """A valid invoice's total is exactly the sum of its lines' charges, and of line totals."""
    charges = [c.amount for line in invoice.lines for c in line.charges]
    assert invoice.total == Money.sum(charges, invoice.currency)
    assert invoice.total == Money.sum((line.total for line in invoice.lines), invoice.currency)


def _charge(amount: str, currency: str = "EUR") -> FreightCharge:
    return FreightCharge(type=ChargeType.BASE_FREIGHT, amount=Money.of(amount, currency))


def test_invoice_whose_lines_do_not_add_up_is_refused() -> None:
    """A total off by one cent is a CanonicalValidationError; so is a line in another currency."""
    line = FreightInvoiceLine(line_number=1, tracking_number="1Z1", charges=(_charge("9.99"),))
    common = {"invoice_number": "INV-1", "carrier": "fake", "issued_at": T, "currency": "EUR"}
    with pytest.raises(CanonicalValidationError, match="add up"):
        FreightInvoice(**common, lines=(line,), total=Money.of("10.00", "EUR"))
    usd_line = FreightInvoiceLine(
        line_number=2, tracking_number="1Z2", charges=(_charge("1", "USD"),)
    )
    with pytest.raises(CanonicalValidationError, match="currency"):
        FreightInvoice(**common, lines=(usd_line,), total=Money.of("1", "USD"))
    with pytest.raises(CanonicalValidationError, match="one currency"):
        FreightInvoiceLine(
            line_number=3, tracking_number="1Z3", charges=(_charge("1"), _charge("1", "USD"))
        )


def test_rate_charges_must_add_up_to_its_total() -> None:
    """A rate's itemised charges must sum to its total."""
    charges = (_charge("7.90"), _charge("1.25"))
    assert Rate(carrier="c", service="s", total=Money.of("9.15", "EUR"), charges=charges)
    with pytest.raises(CanonicalValidationError, match="add up"):
        Rate(carrier="c", service="s", total=Money.of("9.16", "EUR"), charges=charges)


def test_settlement_parts_must_add_up_to_the_invoice_total() -> None:
    """matched + disputed + unknown must equal the invoice total."""
    eur = Money.of
    common = {"invoice_number": "I", "carrier": "c", "settled_at": T, "line_count": 2}
    Settlement(
        **common,
        invoice_total=eur("10", "EUR"),
        matched_total=eur("7", "EUR"),
        disputed_total=eur("3", "EUR"),
        unknown_total=eur("0", "EUR"),
    )
    with pytest.raises(CanonicalValidationError, match="invoice total"):
        Settlement(
            **common,
            invoice_total=eur("10", "EUR"),
            matched_total=eur("7", "EUR"),
            disputed_total=eur("2", "EUR"),
            unknown_total=eur("0", "EUR"),
        )


# --- serialisation -----------------------------------------------------------------------------


@given(sst.money(exact=False))
def test_json_carries_the_amount_as_a_string_and_round_trips(money: Money) -> None:
    """The amount is a JSON string in plain notation with the currency's places."""
    data = json.loads(money.model_dump_json())
    assert data == {"amount": format(money.amount, "f"), "currency": money.currency}
    assert isinstance(data["amount"], str)
    assert "E" not in data["amount"]
    assert Money.model_validate_json(money.model_dump_json()) == money


def test_mixed_currencies_inside_a_document_are_validation_errors() -> None:
    """A rate or settlement mixing currencies is refused as invalid input, not a crash midway."""
    usd_fuel = FreightCharge(type=ChargeType.FUEL, amount=Money.of("1", "USD"))
    with pytest.raises(CanonicalValidationError, match="currency"):
        Rate(carrier="c", service="s", total=Money.of("1", "EUR"), charges=(usd_fuel,))
    with pytest.raises(CanonicalValidationError, match="currency"):
        Settlement(
            invoice_number="I",
            carrier="c",
            settled_at=T,
            line_count=1,
            invoice_total=Money.of("1", "EUR"),
            matched_total=Money.of("1", "USD"),
            disputed_total=Money.of("0", "EUR"),
            unknown_total=Money.of("0", "EUR"),
        )


def test_parsing_a_quote_in_mixed_currencies_names_the_rate() -> None:
    """From an envelope, the same mistake is a CanonicalValidationError at ``data.rate``."""
    quote = {
        "shipment_id": "S",
        "quoted_at": T,
        "rate": {
            "carrier": "c",
            "service": "s",
            "total": {"amount": "1.00", "currency": "EUR"},
            "charges": [{"type": "fuel", "amount": {"amount": "1.00", "currency": "USD"}}],
        },
    }
    envelope = {"id": "q1", "source": "s", "type": "freight.rate_quoted", "time": T}
    with pytest.raises(CanonicalValidationError) as info:
        parse_event(json.dumps(envelope | {"data": quote}))
    assert info.value.path == "data.rate"


def test_totals_of_huge_amounts_are_checked_without_rounding() -> None:
    """Intermediate sums beyond 28 digits (Decimal's default precision) never round."""
    big = "999999999999999999999999.9999"  # 24 integer digits, CLF's 4 places
    line = FreightInvoiceLine(
        line_number=1,
        tracking_number="1Z1",
        charges=(_charge(big, "CLF"), _charge(big, "CLF"), _charge(f"-{big}", "CLF")),
    )
    invoice = FreightInvoice(
        invoice_number="INV-BIG",
        carrier="fake",
        issued_at=T,
        currency="CLF",
        lines=(line,),
        total=Money.of(big, "CLF"),
    )
    assert invoice.total == line.total
    assert Money.sum([Money.of(big, "CLF")] * 2 + [Money.of(f"-{big}", "CLF")], "CLF") == (
        invoice.total
    )


@given(
    sst.decimal_amounts(min_value=-(10**20), max_value=10**20),
    st.sampled_from(["{}", "{:f}", "{:e}", "{:E}", " {} ", "+{}"]),
    sst.currency_codes(common_only=True),
)
def test_json_and_python_read_decimal_strings_alike(
    amount: Decimal, form: str, currency: str
) -> None:
    """The JSON fast path (plain notation) and the general path agree on every spelling."""
    text = form.format(abs(amount) if form.startswith("+") else amount)
    from_python = Money.of(text, currency)
    from_json = Money.model_validate_json(json.dumps({"amount": text, "currency": currency}))
    assert from_json == from_python
    assert str(from_json.amount) == str(from_python.amount)
