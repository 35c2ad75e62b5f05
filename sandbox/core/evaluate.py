"""Evaluate prompting strategies on a labelled set: every row through every strategy, each row an
ordinary logged turn (stateless: `history=False`), then accuracy, no-answers, latency, completion
tokens and the hosted-cost equivalent per strategy.

`plan()` checks everything a user can get wrong (template, data file, strategies, samples, limit,
seed, sampling values) before any model work; `run()` then checks that every prompt fits the
context, still before the first turn is logged, so a bad input never leaves a half-logged eval.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from sandbox.core import answers, templates
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.events import TurnDone
from sandbox.core.sampling import LIMITS, SamplingParams
from sandbox.core.strategies import DEFAULT_SAMPLES as SC_DEFAULT_SAMPLES, MAX_SAMPLES, STRATEGIES, n_samples, render

DEFAULT_SEED = 0
DEFAULT_SAMPLES = SC_DEFAULT_SAMPLES
# Row i is seeded base + SEED_STRIDE * i; self-consistency sample j adds j, so rows never share a seed.
SEED_STRIDE = 2 * MAX_SAMPLES


@dataclass(frozen=True)
class EvalPlan:
    """A checked eval: what will run, nothing loaded yet."""

    template: templates.Template
    data_path: Path
    rows: tuple[templates.DataRow, ...]
    strategies: tuple[str, ...]
    samples: int
    seed: int
    max_tokens: int | None = None  # None: the model's default from models.toml
    temperature: float | None = None  # None: greedy for one-sample strategies, the model's default for self-consistency

    @property
    def n(self) -> int:
        return len(self.rows)

    def row_seed(self, i: int) -> int:
        return self.seed + SEED_STRIDE * i

    def params(self, strategy: str, defaults: SamplingParams, i: int) -> SamplingParams:
        """Sampling for row `i` under `strategy`: one-sample strategies decode greedily unless a
        temperature was given (the usual way to score a prompt); self-consistency samples."""
        temperature = self.temperature
        if temperature is None:
            temperature = defaults.temperature if strategy == "self-consistency" else 0.0
        return defaults.with_(max_tokens=self.max_tokens, temperature=temperature, seed=self.row_seed(i)).validated()


def parse_strategies(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """"a,b" or a list -> a tuple of known strategy names, in order, without repeats."""
    if value is None:
        return STRATEGIES
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        raise SandboxError(f"no strategies given; choose from {', '.join(STRATEGIES)}")
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise SandboxError(
            f"unknown strateg{'ies' if len(unknown) > 1 else 'y'} {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(STRATEGIES)}"
        )
    return tuple(dict.fromkeys(names))


def plan(template: str, *, data: str | Path | None = None, strategies: str | Sequence[str] | None = None,
         samples: int | None = DEFAULT_SAMPLES, limit: int | None = None, seed: int | None = DEFAULT_SEED,
         max_tokens: int | None = None, temperature: float | None = None) -> EvalPlan:
    """Check an eval request. Raises one SandboxError (a ConfigError listing every bad data line)."""
    names = parse_strategies(strategies)
    samples = DEFAULT_SAMPLES if samples is None else samples
    n_samples("self-consistency", samples)  # 2..32, whether or not self-consistency runs
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SandboxError(f"--limit {limit!r} would evaluate nothing; give a whole number of rows, 1 or more")
    SamplingParams().with_(max_tokens=max_tokens, temperature=temperature).validated()
    tpl = templates.load(template)
    data_path = Path(data).expanduser() if data is not None else tpl.data_path()
    if data_path is None:
        raise SandboxError(
            f"template {tpl.name!r} has no data file; pass --data FILE.jsonl (lines of {{\"input\": ..., \"expected\": ...}})"
        )
    rows = tuple(templates.load_data(data_path))
    if limit is not None:
        rows = rows[:limit]
    choices = tpl.answer_choices
    if choices:  # a label no reply can ever match would silently score as wrong
        bad = [f"line {r.line}: expected {r.expected!r} is not one of {tpl.name}'s answer_choices ({', '.join(choices)})"
               for r in rows if answers.normalise(r.expected, choices) is None]
        if bad:
            raise ConfigError(data_path, bad)
    seed = DEFAULT_SEED if seed is None else seed
    hi = LIMITS["seed"][1] - SEED_STRIDE * len(rows)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= hi:
        raise SandboxError(f"--seed {seed!r} is out of range for {len(rows)} rows; use a value from 0 to {hi}")
    # Pure rendering: a strategy the template cannot serve (few-shot without examples) fails here.
    blind = []
    for name in names:
        for row in rows:
            rendered = render(name, tpl, row.input, samples=samples)
        if not rendered.extracts:
            blind.append(name)
    if blind:
        raise SandboxError(
            f"template {tpl.name!r} has no answer_pattern or answer_choices, so {', '.join(blind)} "
            f"replies have no answer to score; add one to {tpl.path} or leave those strategies out"
        )
    return EvalPlan(tpl, data_path, rows, names, samples, seed, max_tokens, temperature)


# ---------------------------------------------------------------------------------------- events


@dataclass
class StrategyStarted:
    strategy: str
    n: int
    session_id: str


@dataclass
class RowDone:
    """Row `i` (1-based) of `n` under `strategy` is done: a progress step."""

    strategy: str
    i: int
    n: int
    line: int  # line in the data file
    expected: str
    answer: str | None
    correct: bool
    total_ms: float
    turn_id: str
    finish_reason: str


@dataclass
class StrategyResult:
    strategy: str
    session_id: str
    n: int = 0
    correct: int = 0
    no_answer: int = 0
    blocked: int = 0
    truncated: int = 0  # replies cut off at max_tokens
    samples: int = 1
    total_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: dict = field(default_factory=dict)  # PriceTable.total() of the turns: per hosted model
    cost_model: str | None = None
    cancelled: bool = False

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def mean_ms(self) -> float | None:
        return round(self.total_ms / self.n, 1) if self.n else None

    @property
    def mean_completion_tokens(self) -> float | None:
        return round(self.completion_tokens / self.n, 1) if self.n else None

    @property
    def cost_usd(self) -> float | None:
        """The hosted-cost equivalent on the first model of the price table."""
        return self.cost[self.cost_model]["usd"] if self.cost_model in self.cost else None

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy, "mean_ms": self.mean_ms, "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd, "n": self.n, "correct": self.correct, "no_answer": self.no_answer,
            "blocked": self.blocked, "truncated": self.truncated, "samples": self.samples,
            "mean_completion_tokens": self.mean_completion_tokens, "prompt_tokens": self.prompt_tokens,
            "cost_model": self.cost_model, "cost": self.cost, "session_id": self.session_id, "cancelled": self.cancelled,
        }


@dataclass
class StrategyDone:
    result: StrategyResult


@dataclass
class EvalReport:
    template: str
    n: int
    model: str
    results: dict[str, StrategyResult]
    cancelled: bool = False

    def to_dict(self) -> dict:
        """`eval --json` (docs/ARCHITECTURE.md §6): template, n, and one entry per strategy."""
        return {"template": self.template, "n": self.n,
                "results": {name: r.to_dict() for name, r in self.results.items()}}


@dataclass
class EvalDone:
    report: EvalReport


EvalEvent = StrategyStarted | RowDone | StrategyDone | EvalDone


# ---------------------------------------------------------------------------------------- running


def _sessions(plan: EvalPlan, base) -> dict:
    """One logged session per strategy, all on the base session's loaded engine."""
    return {name: base.derive(title=f"eval {plan.template.name} · {name}") for name in plan.strategies}


def _options(plan: EvalPlan, strategy: str, defaults: SamplingParams, i: int):
    from sandbox.core.turn import TurnRequest

    return TurnRequest(text=plan.rows[i].input, strategy=strategy,
                       template=str(plan.template.path) if plan.template.path else plan.template.name,
                       samples=plan.samples if strategy == "self-consistency" else None,
                       params=plan.params(strategy, defaults, i), history=False)


def run(plan: EvalPlan, base, cancel: threading.Event | None = None, concurrency: int = 1) -> Iterator[EvalEvent]:
    """Run `plan` on `base`'s model (a loaded Session: its engine, log and guard policy are reused).

    Strategy by strategy, so each one's system prompt and examples stay in the KV cache across rows.
    Cancelling stops at the next token; the cancelled turn is logged as such and not scored."""
    sessions = _sessions(plan, base)
    # Every prompt must fit the context before the first turn is logged.
    for name, s in sessions.items():
        for i, row in enumerate(plan.rows):
            try:
                s.prepare(_options(plan, name, base.defaults, i))
            except SandboxError as e:
                raise SandboxError(f"{plan.data_path} line {row.line} ({name}): {e}") from None

    choices = plan.template.answer_choices
    cost_model = next(iter(base.prices.prices), None)
    results: dict[str, StrategyResult] = {}
    cancelled = False
    for name, s in sessions.items():
        r = results[name] = StrategyResult(name, s.id, samples=n_samples(name, plan.samples),
                                           cost_model=cost_model)
        yield StrategyStarted(name, plan.n, s.id)
        costs = []
        from sandbox.core.concurrency import row_turns  # --concurrency N: rows in flight at once (a served model)

        options = functools.partial(_options, plan, name, base.defaults)
        for i, row, turn in row_turns(s, plan.rows, options, cancel, concurrency):
            if turn.finish_reason == "cancelled":
                cancelled = True
                break
            correct = answers.matches(turn.answer, row.expected, choices)
            r.n += 1
            r.correct += correct
            r.no_answer += turn.answer is None
            r.blocked += bool(turn.blocked)
            r.truncated += any(smp.finish_reason == "length" for smp in turn.samples)
            r.total_ms += turn.timings.total_ms
            r.prompt_tokens += turn.usage.prompt_tokens
            r.completion_tokens += turn.usage.completion_tokens
            costs.append(turn.cost)
            yield RowDone(name, i + 1, plan.n, row.line, row.expected, turn.answer, correct,
                          turn.timings.total_ms, turn.turn_id, turn.finish_reason)
        cancelled = cancelled or (cancel is not None and cancel.is_set())
        r.cost = base.prices.total(costs)
        r.cancelled = cancelled
        yield StrategyDone(r)
        if cancelled:
            break
    yield EvalDone(EvalReport(plan.template.name, plan.n, base.spec.name, results, cancelled))


def evaluate(plan: EvalPlan, base, cancel: threading.Event | None = None) -> EvalReport:
    """`run()` to the end, for callers that want only the report."""
    report = None
    for ev in run(plan, base, cancel):
        if isinstance(ev, EvalDone):
            report = ev.report
    return report
