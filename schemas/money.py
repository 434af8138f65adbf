"""Cents <-> decimal strings, exactly: money never passes through a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def parse_cents(text: str) -> int:
    """'1234.5' -> 123450. Refuses fractions of a cent and anything that is not a number."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(f"expected an amount like 1234.50, found {text!r}") from None
    cents = value * 100
    if not value.is_finite() or cents != cents.to_integral_value():
        raise ValueError(f"expected an amount in whole cents, found {text!r}")
    return int(cents)


def format_cents(cents: int) -> str:
    """123450 -> '1234.50'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"
