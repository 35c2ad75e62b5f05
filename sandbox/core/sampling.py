"""Sampling parameters: one dataclass, validated once, used by the engine, the log and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from sandbox.core.errors import SandboxError

# (min, max) accepted for each knob; values outside are a user error, not a clamp.
LIMITS = {
    "temperature": (0.0, 5.0),
    "top_p": (0.0, 1.0),
    "top_k": (0, 100_000),
    "min_p": (0.0, 1.0),
    "repeat_penalty": (0.0, 10.0),
    "max_tokens": (1, 1_000_000),
    "seed": (0, 2**31 - 1),
}


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
            lo, hi = LIMITS[f.name]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not (lo <= value <= hi):
                raise SandboxError(f"{f.name.replace('_', '-')} = {value!r} is out of range; use a value from {lo} to {hi}")
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
