"""Sliding-window conversation memory.

The model sees: the system prompt and pinned messages (few-shot examples, a summary), then the
newest whole turns that fit the budget, then the new prompt. Dropping turns one at a time would
change the prompt's prefix every turn and force llama.cpp to re-read the whole window; instead,
when the window overflows, turns are dropped in a block down to a low-water mark, so the next
several turns only append to a prefix that is still in the KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.core.errors import SandboxError
from sandbox.core.limits import RANGES
from sandbox.core.tokens.gauge import Gauge, context_gauge

MODES = ("tokens", "turns", "retrieval")
RECALL_METHODS = ("embedding", "bm25")


@dataclass(frozen=True)
class WindowSettings:
    mode: str = "tokens"  # "tokens": newest turns that fit the budget; "turns": the last k turns;
    # "retrieval": the token window plus the dropped turns most like the new prompt (core/recall.py)
    last_k: int = 8
    low_water: float = 0.5  # after an overflow, refill to at most this share of the budget
    reserve_output: int | None = None  # tokens kept free for the reply; None = max_tokens
    summary: bool = False  # fold dropped turns into a running summary pinned after the system prompt
    recall: str = "embedding"  # mode "retrieval": how dropped turns are matched to the new prompt (or "bm25")
    recall_k: int = 3  # mode "retrieval": at most this many dropped turns recalled into the prompt

    def problems(self, prefix: str = "memory ") -> list[str]:
        """Every value out of its range (core/limits), each naming its key."""
        out = []
        if not isinstance(self.mode, str) or self.mode not in MODES:
            out.append(f"{prefix}mode {self.mode!r} is unknown; use one of {', '.join(MODES)}")
        for k in ("last_k", "low_water") + (("reserve_output",) if self.reserve_output is not None else ()):
            problem = RANGES[k].problem(getattr(self, k), prefix + k)
            if problem:
                out.append(problem)
        if not isinstance(self.summary, bool):
            out.append(f"{prefix}summary = {self.summary!r} must be true or false")
        if self.recall not in RECALL_METHODS:
            out.append(f"{prefix}recall {self.recall!r} is unknown; use one of {', '.join(RECALL_METHODS)}")
        problem = RANGES["recall_k"].problem(self.recall_k, prefix + "recall_k")
        if problem:
            out.append(problem)
        return out

    def validated(self) -> "WindowSettings":
        problems = self.problems()
        if problems:
            raise SandboxError(problems[0])
        return self


@dataclass(frozen=True)
class Window:
    """Which turns the model sees for one new prompt, and the arithmetic behind it."""

    kept: list[int]
    dropped: list[int]
    budget: int  # tokens available to past turns
    window_tokens: int
    n_ctx: int
    fixed_tokens: int  # system + pinned
    prompt_tokens: int
    reserve_output: int
    evicted_now: list[int] = field(default_factory=list)  # dropped by this selection

    def to_dict(self) -> dict:
        return {
            "n_ctx": self.n_ctx,
            "window_turns": len(self.kept),
            "dropped_turns": len(self.dropped),
            "window_tokens": self.window_tokens,
            "kept": self.kept,
            "dropped": self.dropped,
            "budget": self.budget,
            "fixed_tokens": self.fixed_tokens,
            "prompt_tokens": self.prompt_tokens,
            "reserve_output": self.reserve_output,
        }

    def gauge(self) -> Gauge:
        """The context gauge for this selection: system + pinned, the kept turns, the new prompt
        and the reserved output against n_ctx."""
        return context_gauge(self.n_ctx, self.fixed_tokens, self.window_tokens, self.prompt_tokens, self.reserve_output)


def budget_for(n_ctx: int, fixed_tokens: int, prompt_tokens: int, reserve_output: int) -> int:
    """Tokens left for past turns. Negative means even an empty window cannot fit."""
    return n_ctx - reserve_output - fixed_tokens - prompt_tokens


class SlidingWindow:
    """Keeps the index of the first turn the model still sees; it only moves forward."""

    def __init__(self, settings: WindowSettings | None = None):
        self.settings = (settings or WindowSettings()).validated()
        self.first = 0

    def select(self, turn_tokens: list[int], *, n_ctx: int, fixed_tokens: int, prompt_tokens: int,
               reserve_output: int, overflow: bool = False) -> Window:
        """`turn_tokens[i]` is what past turn i costs in the prompt (user + reply). `overflow`:
        the caller measured the real prompt and it did not fit, so evict even if the sum fits."""
        s = self.settings
        budget = budget_for(n_ctx, fixed_tokens, prompt_tokens, reserve_output)
        if budget < 0:
            over = -budget
            raise SandboxError(
                f"the prompt does not fit: system {fixed_tokens} + prompt {prompt_tokens} + reserved output "
                f"{reserve_output} tokens is {over} over the {n_ctx}-token context; shorten it by {over} tokens, "
                f"lower --max-tokens or raise --n-ctx"
            )
        n = len(turn_tokens)
        first = min(self.first, n)
        before = first
        if s.mode == "turns":
            first = max(first, n - s.last_k)
        if first < n and (overflow or sum(turn_tokens[first:]) > budget):
            # Overflow: drop a block of old turns down to the low-water mark (hysteresis).
            target = int(budget * s.low_water)
            while first < n and sum(turn_tokens[first:]) > target:
                first += 1
        self.first = first
        kept = list(range(first, n))
        return Window(
            kept=kept, dropped=list(range(0, first)), budget=budget, window_tokens=sum(turn_tokens[first:]),
            n_ctx=n_ctx, fixed_tokens=fixed_tokens, prompt_tokens=prompt_tokens, reserve_output=reserve_output,
            evicted_now=list(range(before, first)),
        )
