"""How every number sandbox shows is written: tokens, milliseconds, tokens/s, dollars, times.
One place, so the TUI, the CLI, the log transcript and the Markdown export agree. Formatting
only: the numbers themselves come from core."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

MISSING = "—"


def count(n: Any) -> str:
    return MISSING if n is None else f"{int(n):,}"


def ms(value: Any) -> str:
    """Milliseconds: one decimal under 10 ms, whole ms below 10 s, seconds above."""
    if value is None:
        return MISSING
    if value >= 10_000:
        return f"{value / 1000:.2f} s"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def rate(tokens_per_s: Any) -> str:
    return MISSING if tokens_per_s is None else f"{tokens_per_s:.1f} tok/s"


def usd(value: Any) -> str:
    """US dollars; sub-cent amounts keep six decimals so small turns can be told apart."""
    if value is None:
        return MISSING
    d = Decimal(str(value))
    return f"${d:.6f}" if abs(d) < Decimal("0.01") else f"${d:,.4f}"


def per_mtok(value: Any) -> str:
    """A price in USD per million tokens, as the provider lists it: $2.50, $0.075, $0.0125."""
    if value is None:
        return MISSING
    d = Decimal(str(value)).normalize()
    return f"${d:.2f}" if d == d.quantize(Decimal("0.01")) else f"${d:f}"


def local_time(iso: str | None) -> str:
    """An ISO timestamp from the log, in local time to the minute."""
    if not iso:
        return MISSING
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso
