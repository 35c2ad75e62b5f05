"""One decoding step made visible: what each stage of our sampler chain does to the next-token
distribution, and the perplexity arithmetic for scored text. Pure numpy (no llama_cpp): the
explorer reshapes its bars with this on every knob change without touching the model.

The stages mirror `Engine._sampler`, which mirrors llama.cpp's samplers in the order chained there:

    raw -> penalties -> top_k -> top_p -> min_p -> temperature -> (dist: sample from what is left)

- penalties: each token among the last `PENALTY_LAST_N` generated ones has its logit divided by
  `repeat_penalty` when positive, multiplied when not (llama.cpp's fix for negative logits);
- top_k: keep the k highest logits (k <= 0: off);
- top_p: softmax over the candidates left, sorted; keep the smallest prefix whose cumulative
  probability reaches p, at least one token (p >= 1: off);
- min_p: keep the tokens with p >= min_p * p_max, i.e. logit >= max logit + ln(min_p) (min_p <= 0: off);
- temperature: divide the logits by T; the token is then drawn from the softmax of what is left.
  At T <= 0 the engine's chain is penalties -> greedy: the filters are not applied and the most
  likely token (after penalties) is taken.

Every stage's probabilities are a softmax over the candidates that stage kept (what llama.cpp
computes there), so the stages before `temperature` are at T = 1.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from sandbox.core.sampling import SamplingParams

STAGES = ("raw", "penalties", "top_k", "top_p", "min_p", "temperature")
PENALTY_LAST_N = 64  # the engine's window (engine.PENALTY_LAST_N); kept here to stay free of llama_cpp


def softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    if x.size == 0:
        return x
    e = np.exp(x - x.max())
    return e / e.sum()


@dataclass(eq=False)
class Stage:
    """The candidates one stage of the chain left, with their logits at that point."""

    name: str
    ids: np.ndarray  # token ids, in no particular order
    logits: np.ndarray  # float64, aligned with ids
    note: str = ""  # "off" when the knob disables this filter, "greedy" at T <= 0

    @property
    def n(self) -> int:
        return int(self.ids.size)

    @cached_property
    def probs(self) -> np.ndarray:
        return softmax(self.logits)

    @cached_property
    def _order(self) -> np.ndarray:
        return np.argsort(-self.probs, kind="stable")

    def top(self, n: int) -> list[tuple[int, float]]:
        """The n most likely candidates as (token id, probability), most likely first."""
        n = min(n, self.n)
        if n <= 0:
            return []
        if n < self.n // 4:  # a partition is much cheaper than sorting the whole vocabulary
            part = np.argpartition(-self.probs, n - 1)[:n]
            idx = part[np.argsort(-self.probs[part], kind="stable")]
        else:
            idx = self._order[:n]
        return [(int(self.ids[i]), float(self.probs[i])) for i in idx]

    @cached_property
    def entropy(self) -> float:
        """Shannon entropy in nats."""
        p = self.probs[self.probs > 0]
        return float(-(p * np.log(p)).sum())

    def mass_count(self, mass: float = 0.95) -> int:
        """How many of the most likely candidates together hold `mass` of the probability."""
        if self.n == 0:
            return 0
        cum = np.cumsum(self.probs[self._order])
        return int(min(np.searchsorted(cum, mass - 1e-12) + 1, self.n))

    @cached_property
    def _index(self) -> dict[int, int]:
        return {int(t): i for i, t in enumerate(self.ids)}

    def prob(self, token: int) -> float:
        """The probability of `token` at this stage (0 if an earlier filter removed it)."""
        i = self._index.get(int(token))
        return 0.0 if i is None else float(self.probs[i])

    def __contains__(self, token: int) -> bool:
        return int(token) in self._index


@dataclass(eq=False)
class Distribution:
    """The stages of one step, in chain order (`STAGES`); `final` is what the token is drawn from."""

    stages: list[Stage]
    params: SamplingParams
    penalized: dict[int, int] = field(default_factory=dict)  # token -> times seen in the penalty window

    def __getitem__(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def raw(self) -> Stage:
        return self.stages[0]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    @property
    def greedy(self) -> bool:
        return self.params.temperature <= 0

    def kept(self) -> dict[str, int]:
        """Candidates left after each stage."""
        return {s.name: s.n for s in self.stages}

    def cut_by(self, token: int) -> str | None:
        """The first stage that removed `token`, or None if it survives to the end."""
        for s in self.stages:
            if token not in s:
                return s.name
        return None

    def greedy_token(self) -> int:
        return self.final.top(1)[0][0]

    def sample(self, rng: np.random.Generator) -> int:
        """A token drawn from the final distribution (the explorer's "sample"; the engine's own draw
        uses llama.cpp's RNG, so the same seed does not give the same token here)."""
        i = rng.choice(self.final.n, p=self.final.probs)
        return int(self.final.ids[i])


def distribution(logits: np.ndarray, params: SamplingParams, recent: Sequence[int] = ()) -> Distribution:
    """The chain of `Engine._sampler` applied to one step's raw `logits`. `recent` are the tokens
    generated so far in this reply (the penalty sampler only sees accepted tokens, not the prompt)."""
    raw_logits = np.asarray(logits, dtype=np.float64)
    ids = np.arange(raw_logits.size)
    stages = [Stage("raw", ids, raw_logits)]

    # penalties
    counts = Counter(int(t) for t in list(recent)[-PENALTY_LAST_N:]) if PENALTY_LAST_N else Counter()
    pen = params.repeat_penalty
    if counts and pen != 1.0:
        x = raw_logits.copy()
        toks = np.fromiter(counts.keys(), dtype=np.int64)
        toks = toks[(toks >= 0) & (toks < x.size)]
        v = x[toks]
        x[toks] = np.where(v <= 0, v * pen, v / pen)
        stages.append(Stage("penalties", ids, x))
    else:
        stages.append(Stage("penalties", ids, raw_logits, note="off"))
    cur_ids, cur = stages[-1].ids, stages[-1].logits

    if params.temperature <= 0:  # the engine's chain is penalties -> greedy
        for name in ("top_k", "top_p", "min_p"):
            stages.append(Stage(name, cur_ids, cur, note="off"))
        best = int(np.argmax(cur))  # first of equal maxima, as llama.cpp's greedy sampler
        stages.append(Stage("temperature", cur_ids[best:best + 1], cur[best:best + 1], note="greedy"))
        return Distribution(stages, params, dict(counts))

    # top_k
    k = int(params.top_k)
    if 0 < k < cur.size:
        keep = np.argpartition(-cur, k - 1)[:k]
        keep = keep[np.argsort(-cur[keep], kind="stable")]
        cur_ids, cur = cur_ids[keep], cur[keep]
        stages.append(Stage("top_k", cur_ids, cur))
    else:
        stages.append(Stage("top_k", cur_ids, cur, note="off" if k <= 0 else ""))

    # top_p: on the softmax of the candidates left, most likely first
    p = float(params.top_p)
    if p < 1.0:
        order = np.argsort(-cur, kind="stable")
        probs = softmax(cur[order])
        cum = np.cumsum(probs)
        reached = np.nonzero(cum >= p)[0]
        last = int(reached[0]) + 1 if reached.size else cur.size
        keep = order[:max(last, 1)]
        cur_ids, cur = cur_ids[keep], cur[keep]
        stages.append(Stage("top_p", cur_ids, cur))
    else:
        stages.append(Stage("top_p", cur_ids, cur, note="off"))

    # min_p: p_i >= min_p * p_max  <=>  logit_i >= max logit + ln(min_p)
    mp = float(params.min_p)
    if mp > 0.0 and cur.size:
        keep = cur >= cur.max() + math.log(mp)
        cur_ids, cur = cur_ids[keep], cur[keep]
        stages.append(Stage("min_p", cur_ids, cur))
    else:
        stages.append(Stage("min_p", cur_ids, cur, note="off"))

    stages.append(Stage("temperature", cur_ids, cur / float(params.temperature)))
    return Distribution(stages, params, dict(counts))


# ---- perplexity and cross-entropy ---------------------------------------------------------------


def perplexity(logprobs: Sequence[float]) -> float | None:
    """exp(mean negative log-likelihood); None for no tokens."""
    lps = [float(x) for x in logprobs]
    if not lps:
        return None
    return math.exp(-sum(lps) / len(lps))


def score_summary(token_logprobs: Sequence[float], tokens_text: Sequence[str],
                  token_ids: Sequence[int] | None = None, n_least: int = 5) -> dict:
    """`token_logprobs[i]` is the log-probability (nats) of token i+1 given tokens 0..i, as
    `Engine.score` returns; `tokens_text` (and `token_ids`) cover every token, the first included.
    nll is the mean negative log-likelihood over all tokens after the first; perplexity = exp(nll)."""
    lps = [float(x) for x in token_logprobs]
    n = len(lps) + 1
    texts = list(tokens_text)
    if len(texts) != n:
        raise ValueError(f"{len(texts)} token texts for {len(lps)} log-probabilities; expected {n}")
    if not lps:
        raise ValueError("scoring needs at least two tokens")
    nll = -sum(lps) / len(lps)
    worst = sorted(range(len(lps)), key=lambda i: lps[i])[:n_least]
    least = [{"token": int(token_ids[i + 1]) if token_ids is not None else None, "text": texts[i + 1],
              "logprob": round(lps[i], 4), "position": i + 1} for i in worst]
    return {"tokens": n, "nll": round(nll, 6), "perplexity": round(math.exp(nll), 6), "least_likely": least}


# ---- one position of a logged reply -------------------------------------------------------------


def reply_position(engine, turn, index: int) -> Distribution:
    """The distribution reply token `index` of `turn` (generated with logprobs) was drawn from:
    prompt + the reply tokens before it, re-decoded on `engine` (the KV prefix is reused), through
    the turn's own sampling parameters. A grammar, if the turn had one, is not part of this view."""
    reply = [int(x["token"]) for x in turn.logprobs or []]
    if not 0 <= index < len(reply):
        raise IndexError(index)
    prompt = engine.tokenize(turn.rendered_prompt)
    logits = engine.next_token_logits(prompt + reply[:index])
    return distribution(logits, SamplingParams.from_dict(turn.params), recent=reply[:index])


def describe(dist: Distribution, tokens: Sequence[int]) -> list[dict]:
    """Per token: its probability raw, after the filters (before temperature) and as finally sampled,
    and the stage that removed it (None if it survived)."""
    return [{"token": int(t), "raw": dist.raw.prob(t), "filtered": dist["min_p"].prob(t), "final": dist.final.prob(t),
             "cut_by": dist.cut_by(t)} for t in tokens]
