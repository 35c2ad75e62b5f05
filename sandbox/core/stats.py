"""The statistics behind "is the difference real": pure functions, no I/O, no model.

- `wilson(k, n)`: the 95% Wilson score interval of a pass rate (good at 0/n and n/n, unlike Wald).
- `mcnemar_exact(b, c)`: the exact two-sided McNemar p-value for b and c discordant pairs
  (a binomial test of b against Bin(b + c, 1/2)).
- `paired(a, b)`: the paired difference of two cells scored on the same rows: mean per-row
  difference, its normal interval, the exact sign-test p-value (McNemar when each row is 0/1) and,
  with several seeds per row, a bootstrap interval that resamples rows.
- `rows_needed(...)`: a rough McNemar sample size (Connor 1987) for a given gain.
- `stability(...)`: the share of rows whose verdict changes across seeds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for k successes in n trials (k may be fractional: a row's mean
    over seeds). n = 0 gives the uninformative (0, 1)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"k = {k} must be between 0 and n = {n}")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips (doubling the smaller tail)."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar p-value: b rows where only the first passed, c where only the second did."""
    return binomial_two_sided(b, b + c)


@dataclass(frozen=True)
class Paired:
    """Cell a against cell b on the same rows (diff = rate(a) - rate(b))."""

    rows: int
    diff: float
    ci95: tuple[float, float]
    p_value: float
    a_better: int  # rows where a did better than b (McNemar's b when rows are 0/1)
    b_better: int  # rows where b did better (McNemar's c)
    bootstrap_ci95: tuple[float, float] | None = None


def paired(a: Sequence[float], b: Sequence[float], *, repeats: int = 1, seed: int = 0) -> Paired:
    """`a[i]` and `b[i]` are row i's pass rates (0/1, or a mean over `repeats` seeds)."""
    if len(a) != len(b):
        raise ValueError("paired() needs the same rows in both cells")
    n = len(a)
    d = [x - y for x, y in zip(a, b)]
    a_better = sum(1 for x in d if x > 0)
    b_better = sum(1 for x in d if x < 0)
    if n == 0:
        return Paired(0, 0.0, (-1.0, 1.0), 1.0, 0, 0)
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / n  # population variance: the textbook McNemar-pair SE
    half = Z95 * math.sqrt(var / n)
    ci = (max(-1.0, mean - half), min(1.0, mean + half))
    boot = bootstrap_mean(d, seed=seed) if repeats > 1 else None
    return Paired(n, mean, ci, binomial_two_sided(a_better, a_better + b_better), a_better, b_better, boot)


def bootstrap_mean(values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile 95% interval of the mean, resampling the values (rows) with replacement."""
    n = len(values)
    if n == 0:
        return (-1.0, 1.0)
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return (means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))])


def rows_needed(gain: float = 0.10, discordant: float | None = None, *, p_a: float | None = None,
                p_b: float | None = None, alpha: float = 0.05, power: float = 0.80) -> int:
    """Rows a paired (McNemar) test needs to detect a `gain` in pass rate, roughly (Connor 1987):
    n = (z_a·√ψ + z_b·√(ψ − δ²))² / δ², with ψ the share of discordant rows. Without an observed
    ψ it is guessed from the two pass rates as if the cells were independent."""
    if not 0 < gain <= 1:
        raise ValueError("gain must be in (0, 1]")
    psi = discordant
    if not psi:
        pa = 0.5 if p_a is None else p_a
        pb = pa if p_b is None else p_b
        psi = pa * (1 - pb) + pb * (1 - pa)
    psi = min(1.0, max(psi, gain))  # a gain of δ needs at least δ of the rows to differ
    za = NormalDist().inv_cdf(1 - alpha / 2)
    zb = NormalDist().inv_cdf(power)
    n = (za * math.sqrt(psi) + zb * math.sqrt(max(0.0, psi - gain * gain))) ** 2 / (gain * gain)
    return math.ceil(n)


def stability(verdicts: Sequence[Sequence[bool]]) -> float | None:
    """Share of rows whose pass/fail differs between seeds (None without rows of two seeds or more)."""
    rows = [v for v in verdicts if len(v) > 1]
    if not rows:
        return None
    return sum(1 for v in rows if len(set(v)) > 1) / len(rows)


def format_p(p: float) -> str:
    """p-values as people read them: "p = 0.003", "p < 0.001"."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def verdict(a: str, b: str, result: Paired, rate_a: float, rate_b: float, *, alpha: float = 0.05,
            gain: float = 0.10) -> str:
    """One sentence: who beats whom beyond chance, or how many rows it would take to tell."""
    n = result.rows
    rows = f"{n} row{'s' if n != 1 else ''}"
    if n and result.p_value < alpha and result.diff != 0:
        win, lose = (a, b) if result.diff > 0 else (b, a)
        rw, rl = (rate_a, rate_b) if result.diff > 0 else (rate_b, rate_a)
        return f"{win} beats {lose} on these {rows} ({rw:.0%} vs {rl:.0%}), {format_p(result.p_value)}"
    discordant = (result.a_better + result.b_better) / n if n else None
    need = rows_needed(gain, discordant, p_a=rate_a, p_b=rate_b)
    return (f"no difference detectable with {rows} ({rate_a:.0%} vs {rate_b:.0%}, {format_p(result.p_value)}); "
            f"about {need} rows would be needed to see a {round(gain * 100)}-point gain")
