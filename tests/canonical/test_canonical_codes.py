"""The ISO code tables shipsync keeps as data agree with pycountry and iso4217."""

from __future__ import annotations

import pycountry
from iso4217 import Currency

from shipsync.canonical import COUNTRY_CODES, CURRENCY_EXPONENTS


def test_country_codes_are_pycountrys_alpha_2_codes() -> None:
    """COUNTRY_CODES is exactly the set of ISO 3166-1 alpha-2 codes pycountry knows."""
    assert frozenset(country.alpha_2 for country in pycountry.countries) == COUNTRY_CODES


def test_currency_exponents_are_iso4217s_minor_units() -> None:
    """CURRENCY_EXPONENTS holds every iso4217 currency with a minor unit, with that unit."""
    expected = {c.code: c.exponent for c in Currency if c.exponent is not None}
    assert expected == CURRENCY_EXPONENTS
