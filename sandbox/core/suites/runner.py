"""Running a suite: every cell (template × strategy × model) over every test, K seeds each.

Each row is an ordinary stateless turn through `Session.turn()` (so self-consistency samples are
still decoded together, and every row is logged), unless the result cache already holds a turn
with the same key (see cache.turn_key): then that logged turn is scored again instead. Cancelling
stops at the next token; what finished is kept and reported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from sandbox.core.errors import SandboxError
from sandbox.core.evaluate import SEED_STRIDE, parse_strategies
from sandbox.core.events import TurnDone
from sandbox.core.sampling import LIMITS, SamplingParams
from sandbox.core.strategies import n_samples, render
from sandbox.core.suites.assertions import Check, Reply, check_all
from sandbox.core.suites.cache import ResultCache, turn_key
from sandbox.core.suites.report import CellResult, RowResult, SuiteReport
from sandbox.core.suites.suite import MAX_REPEAT, Suite

REPEAT_STRIDE = 1_000_000  # repeat r of row i is seeded seed + SEED_STRIDE * i + REPEAT_STRIDE * r


@dataclass(frozen=True)
class SuitePlan:
    """A checked suite run: the suite (limited) and the settings the command line overrode."""

    suite: Suite
    strategies: tuple[str, ...]
    models: tuple[str | None, ...]
    repeat: int
    samples: int | None
    seed: int
    max_tokens: int | None
    temperature: float | None
    use_cache: bool = True

    @property
    def n(self) -> int:
        return self.suite.n

    @property
    def turns(self) -> int:
        return len(self.suite.templates) * len(self.strategies) * len(self.models) * self.n * self.repeat

    def row_seed(self, i: int, r: int = 0) -> int:
        return self.seed + SEED_STRIDE * i + REPEAT_STRIDE * r

    def params(self, strategy: str, defaults: SamplingParams, i: int, r: int = 0) -> SamplingParams:
        """One-sample strategies decode greedily for a single run (the usual way to score a prompt)
        and sample at the model's temperature when repeated (else every seed gives the same reply);
        self-consistency always samples. A temperature given by the suite or flag wins."""
        temperature = self.temperature
        if temperature is None:
            temperature = defaults.temperature if strategy == "self-consistency" or self.repeat > 1 else 0.0
        return defaults.with_(max_tokens=self.max_tokens, temperature=temperature, seed=self.row_seed(i, r)).validated()

    def describe(self) -> str:
        temp = ("greedy, self-consistency at the model's temperature" if self.temperature is None and self.repeat == 1
                else "the model's temperature" if self.temperature is None else f"temperature {self.temperature}")
        return (f"{self.n} tests × {len(self.suite.templates)} template(s) × {len(self.strategies)} strategies × "
                f"{len(self.models)} model(s) × {self.repeat} seed(s) = {self.turns} turns · {temp} · seed {self.seed}")


def plan(suite: Suite, *, strategies: str | Sequence[str] | None = None, models: Sequence[str] | None = None,
         repeat: int | None = None, samples: int | None = None, limit: int | None = None, seed: int | None = None,
         max_tokens: int | None = None, temperature: float | None = None, use_cache: bool = True) -> SuitePlan:
    """Check a run of `suite` with command-line overrides. Raises one SandboxError."""
    names = parse_strategies(strategies) if strategies is not None else suite.strategies
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SandboxError(f"--limit {limit!r} would evaluate nothing; give a whole number of tests, 1 or more")
    repeat = suite.repeat if repeat is None else repeat
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise SandboxError(f"--repeat {repeat!r} must be a whole number from 1 to {MAX_REPEAT}")
    samples = suite.samples if samples is None else samples
    n_samples("self-consistency", samples)  # 2..32, whether or not self-consistency runs
    max_tokens = suite.max_tokens if max_tokens is None else max_tokens
    temperature = suite.temperature if temperature is None else temperature
    SamplingParams().with_(max_tokens=max_tokens, temperature=temperature).validated()
    suite = suite.limited(limit)
    seed = suite.seed if seed is None else seed
    hi = LIMITS["seed"][1] - SEED_STRIDE * suite.n - REPEAT_STRIDE * (repeat - 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= hi:
        raise SandboxError(f"--seed {seed!r} is out of range for {suite.n} tests × {repeat} seeds; use 0 to {hi}")
    model_names = tuple(dict.fromkeys(models)) if models else suite.models
    # Pure rendering first: a strategy a template cannot serve fails before anything loads.
    for tpl in suite.templates:
        for name in names:
            try:
                render(name, tpl, suite.cases[0].input, samples=samples)
            except SandboxError as e:
                raise SandboxError(f"template {tpl.name!r}, {name}: {e}") from None
    return SuitePlan(suite, tuple(names), model_names, repeat, samples, seed, max_tokens, temperature, use_cache)


# ---------------------------------------------------------------------------------------- events


@dataclass
class CellStarted:
    index: int
    cell: CellResult
    total: int  # turns in the whole run


@dataclass
class RowFinished:
    index: int  # cell index
    row: RowResult
    done: int  # turns done in the whole run
    total: int


@dataclass
class CellFinished:
    index: int
    cell: CellResult


@dataclass
class SuiteDone:
    report: SuiteReport


SuiteEvent = CellStarted | RowFinished | CellFinished | SuiteDone


# ---------------------------------------------------------------------------------------- running


def _options(plan: SuitePlan, tpl, strategy: str, params: SamplingParams, text: str):
    from sandbox.core.turn import TurnRequest

    return TurnRequest(text=text, strategy=strategy, template=str(tpl.path) if tpl.path else tpl.name,
                       samples=plan.samples if strategy == "self-consistency" else None, params=params,
                       history=False, logprobs=1 if plan.suite.needs_logprobs() else 0)


def _key(prep, opts, model_sha256: str) -> str:
    from sandbox.core.engine import llama_cpp_version

    return turn_key(rendered_prompt=prep.prompt, params=prep.params.to_dict(), seeds=prep.seeds,
                    strategy=opts.strategy, model_sha256=model_sha256, grammar=opts.grammar or opts.json_schema,
                    extra={"answer_pattern": prep.rendered.answer_pattern, "choices": prep.rendered.choices,
                           "logprobs": opts.logprobs, "ignore_eos": opts.ignore_eos,
                           "guards_off": sorted(opts.guards_off), "llama_cpp": llama_cpp_version()})


def row_turns(session, misses, request_of, cancel, concurrency):
    from sandbox.core.concurrency import row_turns as rows_in_flight

    return rows_in_flight(session, misses, request_of, cancel, concurrency)


def _cell_session(base, title: str):
    return base.derive(title=title)


def run(plan: SuitePlan, open_model: Callable[[str | None], object], cache: ResultCache | None = None,
        cancel: threading.Event | None = None, concurrency: int = 1) -> Iterator[SuiteEvent]:
    """Run `plan`. `open_model(name)` returns a loaded Session for a model name (None: the default);
    the caller owns (and closes) those sessions. Model by model, then cell by cell, so each cell's
    system prompt and examples stay in the KV cache across its rows."""
    suite = plan.suite
    cache = cache if plan.use_cache else None
    report = SuiteReport(suite=suite.name, path=str(suite.path) if suite.path else None, n=plan.n, repeat=plan.repeat,
                         templates=[t.name for t in suite.templates], strategies=list(plan.strategies))
    total, done = plan.turns, 0
    many = {"template": len(suite.templates) > 1, "model": len(plan.models) > 1}
    for model in plan.models:
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        base = open_model(model)
        sha = base.model_sha256
        cost_model = suite.cost_model or next(iter(base.prices.prices), None)  # the first hosted model shown
        cells = []
        for tpl in suite.templates:
            for strategy in plan.strategies:
                title = " · ".join([f"eval {suite.name}"] + ([tpl.name] if many["template"] else [])
                                   + [strategy] + ([base.spec.name] if many["model"] else []))
                label = " · ".join(([tpl.name] if many["template"] else [])
                                   + ([strategy] if len(plan.strategies) > 1 or not any(many.values()) else [])
                                   + ([base.spec.name] if many["model"] else []))
                cell = CellResult(template=tpl.name, strategy=strategy, model=base.spec.name,
                                  samples=n_samples(strategy, plan.samples), planned=plan.n * plan.repeat,
                                  cost_model=cost_model, label=label)
                cells.append((tpl, strategy, cell, _cell_session(base, title)))
        # Every prompt must fit the context before the first turn is logged.
        for tpl, strategy, cell, s in cells:
            for case in suite.cases:
                try:
                    s.prepare(_options(plan, tpl, strategy, plan.params(strategy, base.defaults, case.index), case.input))
                except SandboxError as e:
                    raise SandboxError(f"{case.where} ({tpl.name}, {strategy}): {e}") from None
        for tpl, strategy, cell, s in cells:
            if report.cancelled:
                break
            index = len(report.cells)
            report.cells.append(cell)
            yield CellStarted(index, cell, total)
            for r in range(plan.repeat):
                # Each test's request and cached result first; the rest run (several at once on a
                # served model with concurrency > 1) and are scored in test order.
                todo = []
                for case in suite.cases:
                    opts = _options(plan, tpl, strategy, plan.params(strategy, base.defaults, case.index, r), case.input)
                    key = _key(s.prepare(opts), opts, sha)
                    todo.append((case, opts, key, cache.get(key) if cache is not None else None))
                misses = [j for j, t in enumerate(todo) if t[3] is None]
                fresh = row_turns(s, misses, lambda k: todo[misses[k]][1], cancel, concurrency)
                for j, (case, opts, key, turn) in enumerate(todo):
                    if cancel is not None and cancel.is_set():
                        report.cancelled = True
                        break
                    cached = turn is not None
                    if turn is None:
                        got = next(fresh, None)
                        if got is None:
                            report.cancelled = True
                            break
                        turn = got[2].to_dict()
                        if turn["finish_reason"] == "cancelled":
                            report.cancelled = True
                            break
                        if cache is not None and not turn["blocked"] and turn["finish_reason"] != "error":
                            cache.put(key, turn)
                    report.cache_hits += cached
                    report.cache_misses += not cached
                    row = _score(case, r, turn, cached, tpl.answer_choices, cost_model)
                    cell.rows.append(row)
                    done += 1
                    yield RowFinished(index, row, done, total)
                if report.cancelled:
                    break
            yield CellFinished(index, cell)
    yield SuiteDone(report)


def _score(case, repeat: int, turn: dict, cached: bool, choices, cost_model) -> RowResult:
    reply = Reply.from_turn(turn, cost_model)
    checks: list[Check] = check_all(case.asserts, reply, choices)
    return RowResult(case=case.index, repeat=repeat, seed=turn.get("seed"), passed=all(c.passed for c in checks),
                     checks=checks, turn_id=turn["turn_id"], session_id=turn["session_id"], output=reply.output,
                     answer=reply.answer, total_ms=reply.total_ms, completion_tokens=reply.completion_tokens,
                     cost_usd=reply.cost_usd, cached=cached, finish_reason=reply.finish_reason,
                     input=case.input, where=case.where)


def run_all(plan: SuitePlan, open_model, cache: ResultCache | None = None,
            cancel: threading.Event | None = None) -> SuiteReport:
    """`run()` to the end: the report."""
    report = None
    for ev in run(plan, open_model, cache, cancel):
        if isinstance(ev, SuiteDone):
            report = ev.report
    return report


__all__ = ["SuitePlan", "plan", "run", "run_all", "CellStarted", "RowFinished", "CellFinished", "SuiteDone",
           "REPEAT_STRIDE"]
