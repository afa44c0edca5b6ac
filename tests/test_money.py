"""One yuan parser (webapp/money.py) for the pharmacy amount, the registry balance and the
共济 monthly cap: what each of the three accepted before is pinned here."""

from __future__ import annotations

import pytest

from webapp.money import YuanError, parse_yuan, yuan

# What settlement.parse_amount's pattern accepted (the amount typed at the pharmacy counter).
STRICT_OK = [("23.5", 2350), ("23.50", 2350), ("0.01", 1), ("5000", 500000), (" 7 ", 700),
             ("0.1", 10), ("19.99", 1999), ("0", 0), ("0.00", 0), ("99999999", 9999999900),
             ("200", 20000), ("200.5", 20050)]
STRICT_BAD = ["-1", "-0.01", "1.234", "abc", "", " ", "1e3", "１２", "12.", ".5", "1,000", "NaN",
              "١٢", "¥8", "+5", "1.500", None]
# What registry.yuan_to_fen took from the operator (CLI --balance, seed files).
LOOSE_OK = [("100", 10_000), ("23.5", 2_350), ("0.01", 1), ("0.29", 29), ("1,234.56", 123_456),
            ("¥8", 800), ("1e2", 10_000), ("0", 0), ("1.500", 150), (None, 0), (12, 1200)]
LOOSE_BAD = [("1.005", "format"), ("abc", "format"), ("NaN", "format"), ("Infinity", "format"),
             ("-1", "negative"), ("-0.5", "negative")]


@pytest.mark.parametrize(("text", "fen"), STRICT_OK)
def test_strict_yuan_is_exact(text, fen):
    """Decimal, not float: 19.99 → 1999 fen exactly."""
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", STRICT_BAD)
def test_strict_yuan_refuses_anything_else(text):
    """No sign, exponent, separators, currency sign, third decimal or non-ASCII digits."""
    with pytest.raises(YuanError) as err:
        parse_yuan(text)
    assert err.value.code == "format"


@pytest.mark.parametrize(("text", "fen"), LOOSE_OK)
def test_loose_yuan_takes_operator_spellings(text, fen):
    """The operator may write ¥, thousands commas, exponents and trailing zeros."""
    assert parse_yuan(text, loose=True) == fen


@pytest.mark.parametrize(("text", "code"), LOOSE_BAD)
def test_loose_yuan_refuses_fractions_of_a_fen_and_negatives(text, code):
    """Loose still refuses a third decimal, non-numbers and (as its own code) negatives."""
    with pytest.raises(YuanError) as err:
        parse_yuan(text, loose=True)
    assert err.value.code == code


@pytest.mark.parametrize("fen", [0, 1, 99, 100, 2350, 123456, 999999999])
def test_parse_reads_back_what_yuan_writes(fen):
    """yuan() and parse_yuan() are inverse on non-negative fen."""
    assert parse_yuan(yuan(fen)) == fen
