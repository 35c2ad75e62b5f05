"""The accepted range of every number a person can set: a command-line flag, a models.toml key,
a config.toml key. One table and one message, so the CLI and the files agree; values outside
are a user error (exit 2), never a clamp and never a value handed on to llama.cpp unchecked."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    integer: bool = False
    use: str | None = None  # how to say the range, when "an integer from lo to hi" is not the clearest

    @property
    def wanted(self) -> str:
        if self.use:
            return self.use
        return f"{'an integer' if self.integer else 'a number'} from {self.lo} to {self.hi}"

    def why(self, value: object) -> str | None:
        """None if `value` is accepted, else what is wrong with it and what to use."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (self.integer and not isinstance(value, int)):
            return f"is not {'an integer' if self.integer else 'a number'}; use {self.wanted}"
        if isinstance(value, float) and not math.isfinite(value) or not self.lo <= value <= self.hi:
            return f"is out of range; use {self.wanted}"
        return None

    def problem(self, value: object, label: str) -> str | None:
        """None if `value` is accepted, else one sentence naming `label` (a file key or a flag)."""
        why = self.why(value)
        return f"{label} = {value!r} {why}" if why else None


# The most sequences one llama.cpp context decodes together (self-consistency samples, beams).
MAX_PARALLEL = 32

RANGES: dict[str, Range] = {
    # sampling: models.toml [models.X.sampling], run/chat/replay/eval flags, the TUI's fields
    "temperature": Range(0.0, 5.0),
    "top_p": Range(0.0, 1.0),
    "top_k": Range(0, 100_000, True),
    "min_p": Range(0.0, 1.0),
    "repeat_penalty": Range(0.0, 10.0),
    "max_tokens": Range(1, 1_000_000, True),
    "seed": Range(0, 2**31 - 1, True),
    # the model: models.toml [models.X], --n-ctx. llama.cpp aborts on a context smaller than the
    # number of sequences it is created for (MAX_PARALLEL), so the floor stays well above it.
    "n_ctx": Range(64, 1_048_576, True),
    "gpu_layers": Range(-1, 100_000, True, use="-1 (all layers), 0 (CPU) or a layer count"),
    # a turn
    "samples": Range(2, MAX_PARALLEL, True),
    "logprobs": Range(0, 20, True),
    "beams": Range(0, (MAX_PARALLEL - 1) // 2, True, use=f"0 (sampling) or a beam width from 1 to {(MAX_PARALLEL - 1) // 2}"),
    "length_penalty": Range(0.0, 10.0),
    # memory: config.toml [memory], run/chat flags, the TUI's memory fields
    "last_k": Range(1, 10_000, True),
    "recall_k": Range(0, 50, True),
    "low_water": Range(0.1, 1.0),
    "reserve_output": Range(1, 1_048_576, True),
    # config.toml [energy]
    "watts": Range(0.0, 100_000.0),
    "usd_per_kwh": Range(0.0, 1_000.0),
    # other commands
    "least": Range(0, 100_000, True),
    "limit": Range(1, 1_000_000_000, True),
    "bench_tokens": Range(2, 4096, True),
    "bench_repeats": Range(1, 20, True),
    "bench_samples": Range(2, MAX_PARALLEL, True),
    "bench_turns": Range(1, 20, True),
    "repeat": Range(1, 100, True),
    "concurrency": Range(1, 64, True),
}


def problem(name: str, value: object, label: str | None = None) -> str | None:
    return RANGES[name].problem(value, label or name)


def flag(name: str):
    """An argparse `type=` for the flag whose range is RANGES[name]: the same check and message
    as the config files, before anything is loaded."""
    import argparse

    r = RANGES[name]

    def parse(text: str):
        try:
            value = int(text) if r.integer else float(text)
        except ValueError:
            value = text
        why = r.why(value)
        if why:
            raise argparse.ArgumentTypeError(f"{text} {why}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def sample_room(n_ctx: int, prompt_tokens: int, n_samples: int) -> int:
    """Tokens each of `n_samples` sequences may generate after a `prompt_tokens` prompt in one
    shared `n_ctx` cache (the engine stops each sample there)."""
    return max(0, (n_ctx - prompt_tokens) // max(1, n_samples))
