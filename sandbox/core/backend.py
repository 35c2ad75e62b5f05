"""The engine contract: what `Session`, the commands and the screens need from a model, whichever
engine serves it — the in-process llama.cpp `Engine` (core/engine.py) or a `RemoteEngine` speaking
the OpenAI-compatible HTTP API (core/remote.py).

An engine says what it can do in `capabilities`; a screen or command asks before it offers a
feature and shows what is missing as unavailable, with the engine's reason. Nothing is faked.

This module imports neither llama_cpp nor httpx: `load()` picks the engine for a model spec and
imports only that one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

from sandbox.core.errors import SandboxError

if TYPE_CHECKING:  # pragma: no cover
    from sandbox.core.config import ModelSpec
    from sandbox.core.sampling import SamplingParams

# What an engine may be able to do, in the words a user sees next to a greyed-out feature.
CAPABILITIES: dict[str, str] = {
    "logprobs": "per-token log-probabilities (--logprobs, the heatmap)",
    "grammar": "GBNF-constrained decoding (--grammar, --constrain)",
    "json_schema": "JSON-schema-constrained decoding (--json-schema)",
    "n_samples": "several samples from one request (self-consistency)",
    "seed": "seeded, reproducible sampling",
    "tokenize": "the model's own tokenizer (exact token counts)",
    "raw_prompt": "the exact rendered prompt as input (the prompt shown is the prompt the model saw)",
    "beam": "beam search (--beams)",
    "score": "perplexity of a text (sandbox score)",
    "explorer": "the next-token explorer and heatmap re-decoding (raw logits)",
}
ALL = frozenset(CAPABILITIES)


class Unavailable(SandboxError):
    """A feature the model's engine cannot provide; the message says which and why."""


@dataclass(frozen=True)
class Capabilities:
    """The set an engine offers, and for each missing one the reason (shown to the user)."""

    have: frozenset[str]
    missing: dict[str, str] = field(default_factory=dict)

    @classmethod
    def full(cls) -> "Capabilities":
        return cls(ALL)

    def __contains__(self, name: str) -> bool:
        return name in self.have

    def why_not(self, name: str) -> str:
        return self.missing.get(name, "this engine does not offer it")

    def require(self, name: str, model: str) -> None:
        """Raise `Unavailable` naming the feature, the model and the reason when `name` is missing."""
        if name not in self.have:
            raise Unavailable(f"{CAPABILITIES[name].split(' (')[0]} is not available for model {model!r}: "
                              f"{self.why_not(name)}")

    def to_list(self) -> list[str]:
        return sorted(self.have)


# ---- what a generation returns (the same objects from every engine) ---------------------------------


@dataclass
class TokenLogprob:
    token: int
    text: str
    logprob: float
    top: list[tuple[int, str, float]]  # (token id, text, logprob), most likely first

    def to_dict(self) -> dict:
        return {"token": self.token, "text": self.text, "logprob": round(self.logprob, 5),
                "top": [{"token": t, "text": x, "logprob": round(lp, 5)} for t, x, lp in self.top]}


@dataclass
class SampleStats:
    seed: int
    text: str = ""
    tokens: list[int] = field(default_factory=list)
    finish_reason: str = "stop"
    # With `logprobs=k`: per generated token, its log-probability under the model and the top k
    # alternatives, all from the raw distribution (before penalties, filtering and temperature).
    logprobs: list[TokenLogprob] = field(default_factory=list)


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    ttft_ms: float = 0.0
    total_ms: float = 0.0
    samples: list[SampleStats] = field(default_factory=list)
    # A remote engine: what was sent (endpoint, server model id, messages for a chat endpoint),
    # whether the token counts are the server's own, and the one-sentence error if the request failed.
    request: dict | None = None
    error: str | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(len(s.tokens) for s in self.samples)

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of decoding (prompt evaluation excluded)."""
        decode_s = (self.total_ms - self.ttft_ms) / 1000
        n = self.completion_tokens - len(self.samples)  # first tokens came with the prompt pass
        return round(n / decode_s, 2) if decode_s > 0 and n > 0 else 0.0


@dataclass
class Piece:
    """Streamed text for one sample."""

    sample: int
    text: str


class Generation:
    """Iterate for `Piece`s as they decode; `stats` is complete once iteration ends."""

    def __init__(self, it: Iterator[Piece], stats: GenerationStats):
        self._it = it
        self.stats = stats

    def __iter__(self) -> Iterator[Piece]:
        return self._it

    def run(self) -> GenerationStats:
        for _ in self._it:
            pass
        return self.stats


# ---- the contract -------------------------------------------------------------------------------------


class TokenizerLike(Protocol):
    def tokenize(self, text: str, *, special: bool = True) -> list[int]: ...

    def piece(self, token_id: int, *, special: bool = True) -> bytes: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...


@runtime_checkable
class ModelEngine(Protocol):
    """What every engine provides. Methods behind a capability (`next_token_logits` and
    `beam_search`: "explorer" and "beam"; `score`: "score"; `check_grammar`: "grammar") raise
    `Unavailable` on an engine without it."""

    backend: str  # "llama.cpp" | "remote"
    n_ctx: int
    load_ms: float
    path: Any  # the GGUF file (Path) of an in-process model; None for a served one
    n_threads: int | None
    chat_template_source: str  # where render_chat's template came from, in words
    capabilities: Capabilities
    counts_exact: bool  # False: token counts are an estimate (shown with ≈, logged `exact: false`)
    tokenizer: TokenizerLike

    def describe(self) -> dict: ...  # the model's identity for the log (never a secret)

    def tokenize(self, text: str, *, special: bool = True) -> list[int]: ...

    def count(self, text: str) -> int: ...

    def render_chat(self, messages: list[dict]) -> str: ...

    def generate(self, prompt: str | Sequence[int], params: "SamplingParams", *, seeds: Sequence[int] | None = None,
                 ignore_eos: bool = False, cancel: threading.Event | None = None, logprobs: int = 0,
                 grammar: str | None = None) -> Generation: ...

    def check_grammar(self, grammar: str) -> None: ...

    def json_schema_grammar(self, schema: dict) -> str: ...

    def next_token_logits(self, prompt: str | Sequence[int]): ...

    def score(self, tokens: Sequence[int], cancel: threading.Event | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[float]: ...

    def reset_cache(self) -> None: ...

    # Changes whenever the KV cache does (a served model: never; its server keeps its own).
    cache_epoch: int

    def close(self) -> None: ...


def load(spec: "ModelSpec", *, n_ctx: int | None = None) -> ModelEngine:
    """The engine for `spec`: a connection to its server (`url` in models.toml), else its GGUF
    file loaded in-process."""
    if spec.url:
        from sandbox.core.remote import RemoteEngine

        return RemoteEngine.connect(spec, n_ctx=n_ctx)
    from sandbox.core.engine import Engine

    return Engine.load(spec.local_path(), n_ctx=n_ctx or spec.n_ctx, gpu_layers=spec.gpu_layers, flash_attn=spec.flash_attn)


def backend_of(spec: "ModelSpec") -> str:
    return "remote" if spec.url else "llama.cpp"


def json_schema_grammar(engine: ModelEngine | None, schema: dict) -> str:
    """`schema` as GBNF through `engine` (None: the converter llama.cpp uses, for callers with no
    engine at hand)."""
    if engine is not None:
        return engine.json_schema_grammar(schema)
    from sandbox.core.engine import json_schema_grammar as convert

    return convert(schema)


def check_options(engine: ModelEngine, opts, model: str) -> None:
    """Refuse, before anything is sent, a turn option the engine cannot honour (never faked)."""
    caps = engine.capabilities
    if opts.beams:
        caps.require("beam", model)
    if opts.logprobs:
        caps.require("logprobs", model)
    if opts.grammar is not None:
        caps.require("grammar", model)
    if opts.json_schema is not None:
        caps.require("json_schema", model)


def annotate(turn, stats: GenerationStats, engine: ModelEngine) -> None:
    """A served model's additions to the Turn: what was sent, estimated counts, the error."""
    if stats.request is not None:
        turn.extra["remote"] = dict(stats.request)
    if not engine.counts_exact:
        turn.usage.exact = False
    if stats.error:
        turn.extra["error"] = stats.error
        turn.notes.append(stats.error)


class Borrowed:
    """Another owner's loaded engine, lent out (a re-run in the TUI): everything is the engine's,
    except that closing it is left to its owner."""

    def __init__(self, engine: ModelEngine):
        self._engine = engine

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def close(self) -> None:
        pass
