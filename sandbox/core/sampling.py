"""Sampling parameters: one dataclass, validated once, used by the engine, the log and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from sandbox.core.errors import SandboxError
from sandbox.core.limits import RANGES

KNOBS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed")
# (min, max) accepted for each knob (core/limits is the one table); outside is a user error, not a clamp.
LIMITS = {k: (RANGES[k].lo, RANGES[k].hi) for k in KNOBS}


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 512
    seed: int | None = None  # None: the session picks a fresh seed and logs it

    def validated(self) -> "SamplingParams":
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "seed" and value is None:
                continue
            problem = RANGES[f.name].problem(value, f.name.replace("_", "-"))
            if problem:
                raise SandboxError(problem)
        return self

    def with_(self, **changes) -> "SamplingParams":
        """A copy with the non-None changes applied (CLI flags left unset change nothing)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SamplingParams":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
