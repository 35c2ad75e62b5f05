"""A suite run's results and what they mean: per-cell pass rates with Wilson intervals, paired
comparisons with exact McNemar p-values, stability across seeds, and the `eval --json` document.

Intervals count tests (rows), not turns: the K seeds of one row are not independent trials, so a
cell's interval is Wilson's on the per-row mean pass rate over n rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from sandbox.core import stats
from sandbox.core.suites.assertions import Check


@dataclass
class RowResult:
    case: int  # the test's index in the suite
    repeat: int  # which seed (0..K-1)
    seed: int | None
    passed: bool
    checks: list[Check]
    turn_id: str
    session_id: str
    output: str
    answer: str | None
    total_ms: float
    completion_tokens: int
    cost_usd: float | None
    cached: bool
    finish_reason: str = "stop"
    input: str = ""
    where: str = ""

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {"test": self.case, "where": self.where, "repeat": self.repeat, "seed": self.seed, "input": self.input,
                "output": self.output, "answer": self.answer, "turn_id": self.turn_id, "session_id": self.session_id,
                "cached": self.cached, "failed": [c.to_dict() for c in self.failed]}


@dataclass
class CellResult:
    template: str
    strategy: str
    model: str
    samples: int = 1
    planned: int = 0  # tests × repeats
    cost_model: str | None = None
    rows: list[RowResult] = field(default_factory=list)
    label: str = ""  # set by the report: the parts that vary between cells

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.rows)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.total if self.rows else None

    def per_case(self) -> dict[int, list[bool]]:
        """Test index -> its verdicts, one per finished seed."""
        out: dict[int, list[bool]] = {}
        for r in self.rows:
            out.setdefault(r.case, []).append(r.passed)
        return out

    def case_rates(self) -> dict[int, float]:
        return {c: sum(v) / len(v) for c, v in self.per_case().items()}

    @property
    def ci95(self) -> tuple[float, float]:
        rates = self.case_rates()
        return stats.wilson(sum(rates.values()), len(rates))

    @property
    def stability(self) -> float | None:
        """Share of tests whose verdict changes across seeds (K > 1 only)."""
        return stats.stability(list(self.per_case().values()))

    @property
    def mean_ms(self) -> float | None:
        return round(sum(r.total_ms for r in self.rows) / len(self.rows), 1) if self.rows else None

    @property
    def cost_usd(self) -> float | None:
        costs = [r.cost_usd for r in self.rows if r.cost_usd is not None]
        return round(sum(costs), 6) if costs else None

    @property
    def session_ids(self) -> list[str]:
        """The log sessions holding this cell's turns, those run now first (cached rows point
        to the session that first ran them)."""
        fresh = [r.session_id for r in self.rows if not r.cached]
        return list(dict.fromkeys(fresh + [r.session_id for r in self.rows]))

    @property
    def no_answer(self) -> int:
        return sum(r.answer is None for r in self.rows)

    def to_dict(self) -> dict:
        lo, hi = self.ci95
        return {
            "label": self.label, "template": self.template, "strategy": self.strategy, "model": self.model,
            "passed": self.passed, "total": self.total, "pass_rate": self.pass_rate,
            "ci95": [round(lo, 4), round(hi, 4)], "mean_ms": self.mean_ms, "cost_usd": self.cost_usd,
            "cost_model": self.cost_model, "samples": self.samples, "tests": len(self.per_case()),
            "planned": self.planned, "stability": self.stability, "no_answer": self.no_answer,
            "completion_tokens": sum(r.completion_tokens for r in self.rows),
            "cached": sum(r.cached for r in self.rows),
            "session_id": (self.session_ids or [None])[0], "session_ids": self.session_ids,
            "failures": [r.to_dict() for r in self.rows if not r.passed],
        }


@dataclass(frozen=True)
class Comparison:
    a: CellResult
    b: CellResult
    result: stats.Paired
    verdict: str

    def to_dict(self) -> dict:
        r = self.result
        return {"a": self.a.label, "b": self.b.label, "rows": r.rows, "diff": round(r.diff, 4),
                "ci95": [round(r.ci95[0], 4), round(r.ci95[1], 4)], "p_value": r.p_value, "verdict": self.verdict,
                "bootstrap_ci95": [round(x, 4) for x in r.bootstrap_ci95] if r.bootstrap_ci95 else None,
                "a_better": r.a_better, "b_better": r.b_better,
                "a_cell": {k: getattr(self.a, k) for k in ("template", "strategy", "model")},
                "b_cell": {k: getattr(self.b, k) for k in ("template", "strategy", "model")}}


@dataclass
class SuiteReport:
    suite: str
    path: str | None
    n: int
    repeat: int
    templates: list[str]
    strategies: list[str]
    cells: list[CellResult] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0
    cancelled: bool = False

    def label_cells(self) -> None:
        """Name each cell by the parts that vary: "few-shot", or "math · few-shot · smollm2-135m"."""
        vary = [k for k in ("template", "strategy", "model") if len({getattr(c, k) for c in self.cells}) > 1]
        for c in self.cells:
            c.label = " · ".join(getattr(c, k) for k in vary) or c.strategy

    def comparisons(self) -> list[Comparison]:
        """Every pair of cells, on the tests both have results for (the paired rows)."""
        self.label_cells()
        out = []
        for i, (a, b) in enumerate(combinations(self.cells, 2)):
            ra, rb = a.case_rates(), b.case_rates()
            common = sorted(set(ra) & set(rb))
            if not common:
                continue
            xs, ys = [ra[c] for c in common], [rb[c] for c in common]
            result = stats.paired(xs, ys, repeats=self.repeat, seed=i)
            rate_a, rate_b = sum(xs) / len(xs), sum(ys) / len(ys)
            out.append(Comparison(a, b, result, stats.verdict(a.label, b.label, result, rate_a, rate_b)))
        return out

    @property
    def hit_rate(self) -> float | None:
        n = self.cache_hits + self.cache_misses
        return self.cache_hits / n if n else None

    def to_dict(self) -> dict:
        """`eval --json`: cells, comparisons and cache; plus the older {template, n, results} keys."""
        self.label_cells()
        doc = {"suite": self.suite, "path": self.path, "n": self.n, "repeat": self.repeat,
               "cells": [c.to_dict() for c in self.cells],
               "comparisons": [c.to_dict() for c in self.comparisons()],
               "cache": {"hits": self.cache_hits, "misses": self.cache_misses,
                         "hit_rate": round(self.hit_rate, 4) if self.hit_rate is not None else None},
               "cancelled": self.cancelled}
        doc["template"] = self.templates[0] if len(self.templates) == 1 else None
        doc["results"] = {c.label: _legacy(c) for c in self.cells}
        return doc


def _legacy(c: CellResult) -> dict:
    """The per-strategy entry the first `eval --json` printed (accuracy = the pass rate)."""
    return {"accuracy": c.pass_rate, "mean_ms": c.mean_ms, "completion_tokens": sum(r.completion_tokens for r in c.rows),
            "cost_usd": c.cost_usd, "n": c.total, "correct": c.passed, "no_answer": c.no_answer, "samples": c.samples,
            "session_id": (c.session_ids or [None])[0]}
