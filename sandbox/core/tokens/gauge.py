"""Context-window gauge and local energy estimate: pure arithmetic the TUI and the CLI display."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

WARN_PERCENT = 80  # level "warn" from here
FULL_PERCENT = 95  # level "full" from here, and whenever the parts exceed n_ctx

_DEC = Context(prec=40, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Gauge:
    """How the context window is spent. `used` is the sum of the four parts; `left` is n_ctx - used
    and goes negative when the parts do not fit (then it is minus the overflow); `fraction` is
    used / n_ctx, not clamped (1.25 = 25% over)."""

    n_ctx: int
    system: int
    window: int
    prompt: int
    reserved: int
    used: int
    left: int
    fraction: float
    level: str  # "ok" below 80%, "warn" from 80%, "full" from 95% (including over)

    @property
    def parts(self) -> tuple[tuple[str, int], ...]:
        return (("system", self.system), ("window", self.window), ("prompt", self.prompt), ("reserved", self.reserved))

    @property
    def over(self) -> int:
        """Tokens over n_ctx (0 when it fits)."""
        return max(0, -self.left)


def context_gauge(n_ctx: int, system_tokens: int, window_tokens: int, prompt_tokens: int, reserved_output: int) -> Gauge:
    """The gauge for a prompt: system prompt, kept conversation window, the new prompt and the
    tokens reserved for the reply, against the model's context size."""
    parts = {"system_tokens": system_tokens, "window_tokens": window_tokens, "prompt_tokens": prompt_tokens,
             "reserved_output": reserved_output}
    for name, v in {"n_ctx": n_ctx, **parts}.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0 or (name == "n_ctx" and v == 0):
            raise ValueError(f"context_gauge: {name} = {v!r} must be a {'positive' if name == 'n_ctx' else 'non-negative'} integer")
    used = system_tokens + window_tokens + prompt_tokens + reserved_output
    # Integer comparisons: 80% of 8192 is 6553.6, and a float must not decide which side 6554 is on.
    if used * 100 >= FULL_PERCENT * n_ctx:
        level = "full"
    elif used * 100 >= WARN_PERCENT * n_ctx:
        level = "warn"
    else:
        level = "ok"
    return Gauge(n_ctx, system_tokens, window_tokens, prompt_tokens, reserved_output,
                 used=used, left=n_ctx - used, fraction=used / n_ctx, level=level)


@dataclass(frozen=True)
class Energy:
    wh: Decimal
    usd: Decimal

    def to_json(self) -> dict:
        return {"wh": float(round(self.wh, 6)), "usd": float(round(self.usd, 9))}


def local_energy(total_ms: float, watts: float | None, usd_per_kwh: float | None) -> Energy | None:
    """Energy of a local generation at a steady `watts`, and its price at `usd_per_kwh`. Off unless
    the user set both (None otherwise): a laptop's real draw is not something sandbox can know."""
    if watts is None or usd_per_kwh is None:
        return None
    for name, v in (("total_ms", total_ms), ("watts", watts), ("usd_per_kwh", usd_per_kwh)):
        if not isinstance(v, (int, float, Decimal)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise ValueError(f"local_energy: {name} = {v!r} must be a non-negative number")
    ms, w, price = (Decimal(str(v)) for v in (total_ms, watts, usd_per_kwh))
    wh = _DEC.divide(_DEC.multiply(w, ms), Decimal(3_600_000))  # W x ms -> Wh
    return Energy(wh=wh, usd=_DEC.divide(_DEC.multiply(wh, price), Decimal(1000)))
