"""How the TUI writes the numbers core gave it. Formatting only: no arithmetic on them."""

from __future__ import annotations

from decimal import Decimal


def usd(value) -> str:
    """A cost in US dollars; sub-cent amounts keep enough digits to be told apart."""
    if value is None:
        return "—"
    d = Decimal(str(value))
    return f"${d:.6f}" if abs(d) < Decimal("0.01") else f"${d:,.4f}"


def ms(value) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def rate(value) -> str:
    return "—" if value is None else f"{value:.1f} tok/s"


def count(value) -> str:
    return "—" if value is None else f"{value:,}"
