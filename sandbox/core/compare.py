"""One input through several strategies, one after another on the same model, logged as the
stateless turns (`history=False`) of one "compare" session. Every strategy gets the same seed,
so the prompt is the only thing that differs.

`compare()` yields `CompareStrategyStarted`, then that strategy's own turn events wrapped in
`StrategyEvent` (tokens stream as they decode), then `StrategyFinished` with its `CompareResult`,
for each strategy in turn; finally `CompareDone` with the result list.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from sandbox.core.errors import SandboxError
from sandbox.core.events import Event, TurnDone
from sandbox.core.sampling import LIMITS, SamplingParams
from sandbox.core.strategies import STRATEGIES
from sandbox.core.turn import Turn, TurnRequest


@dataclass
class CompareResult:
    strategy: str
    turn_id: str
    output: str
    answer: str | None
    votes: dict | None  # answer -> count (self-consistency)
    vote: dict | None  # winner, counts, agreement, tie (self-consistency)
    samples: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    ms: float  # total_ms: prompt evaluation and generation
    ttft_ms: float
    tokens_per_s: float
    cost: dict = field(default_factory=dict)  # per hosted model, as in the turn object
    cost_model: str | None = None
    finish_reason: str = "stop"
    blocked: bool = False
    seed: int | None = None  # the same for every strategy of one comparison
    extracts: bool = True  # False: no answer pattern applies (zero/few-shot without a template that has one)

    @property
    def cost_usd(self) -> float | None:
        """The hosted-cost equivalent on the first model of the price table."""
        return (self.cost.get(self.cost_model) or {}).get("usd")

    @classmethod
    def from_turn(cls, turn: Turn, cost_model: str | None, extracts: bool = True) -> "CompareResult":
        u, t = turn.usage, turn.timings
        return cls(
            strategy=turn.strategy, turn_id=turn.turn_id, output=turn.output, answer=turn.answer,
            votes=turn.votes, vote=turn.vote, samples=max(1, len(turn.samples)),
            prompt_tokens=u.prompt_tokens, cached_tokens=u.cached_tokens, completion_tokens=u.completion_tokens,
            ms=t.total_ms, ttft_ms=t.ttft_ms, tokens_per_s=t.tokens_per_s, cost=turn.cost,
            cost_model=cost_model, finish_reason=turn.finish_reason, blocked=turn.blocked,
            seed=turn.seed, extracts=extracts,
        )

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["cost_usd"] = self.cost_usd
        return d


@dataclass
class CompareStrategyStarted:
    index: int  # position in the requested strategy list
    strategy: str


@dataclass
class StrategyEvent:
    """One of `Session.turn()`'s events (Token, SampleDone, ...) for the strategy at `index`."""

    index: int
    strategy: str
    event: Event


@dataclass
class StrategyFinished:
    index: int
    result: CompareResult
    turn: Turn  # the logged turn


@dataclass
class CompareDone:
    session_id: str
    results: list[CompareResult]
    cancelled: bool = False


CompareEvent = CompareStrategyStarted | StrategyEvent | StrategyFinished | CompareDone


def compare_session(base, title: str = "compare"):
    """A new log session on `base`'s loaded model (engine, log, guard policy shared), for compare turns."""
    return base.derive(title=title)


def compare(base, text: str, strategies: Sequence[str], *, template: str | None = None,
            params: SamplingParams | None = None, samples: int | None = None, into=None,
            cancel: threading.Event | None = None) -> Iterator[CompareEvent]:
    """Run `text` through each of `strategies` on `base`'s model (a loaded Session).

    Turns are logged into `into` (a session from `compare_session()`, reused across runs by the
    TUI) or, by default, into a new compare session titled after the text. Every strategy's prompt
    is rendered and checked before the first generation, so a bad request logs nothing."""
    names = list(dict.fromkeys(strategies))
    if not names:
        raise SandboxError(f"pick at least one strategy to compare ({', '.join(STRATEGIES)})")
    params = (params or base.defaults).validated()
    if params.seed is None:  # one seed for all: the strategies differ only in their prompts
        params = params.with_(seed=random.randrange(LIMITS["seed"][1] - 64))
    session = into or compare_session(base, f"compare · {' '.join(text.split())}")
    options = [TurnRequest(text=text, strategy=name, template=template, samples=samples, params=params, history=False)
               for name in names]
    # Unknown strategy, few-shot without examples, a prompt too long: all refused before any work.
    extracts = [session.prepare(opts).rendered.extracts for opts in options]

    cost_model = next(iter(base.prices.prices), None)
    results: list[CompareResult] = []
    cancelled = False
    for i, opts in enumerate(options):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        yield CompareStrategyStarted(i, opts.strategy)
        turn = None
        for ev in session.turn(opts, cancel=cancel):
            if isinstance(ev, TurnDone):
                turn = ev.turn
            else:
                yield StrategyEvent(i, opts.strategy, ev)
        result = CompareResult.from_turn(turn, cost_model, extracts[i])
        results.append(result)
        yield StrategyFinished(i, result, turn)
        if result.finish_reason == "cancelled":
            cancelled = True
            break
    yield CompareDone(session.id, results, cancelled)


def run_compare(base, text: str, strategies: Sequence[str], **kwargs) -> list[CompareResult]:
    """`compare()` to the end: the result list."""
    results: list[CompareResult] = []
    for ev in compare(base, text, strategies, **kwargs):
        if isinstance(ev, CompareDone):
            results = ev.results
    return results
