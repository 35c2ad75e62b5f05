"""The events one turn yields. The TUI and the headless CLI consume the same stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.core.turn import Turn


@dataclass
class TurnStarted:
    turn_id: str
    idx: int
    strategy: str
    rendered_prompt: str
    n_samples: int
    memory: dict = field(default_factory=dict)
    prompt_tokens: int = 0
    cached_tokens: int = 0
    notes: list[str] = field(default_factory=list)  # said before generating (e.g. samples cut to fit the context)


@dataclass
class Token:
    """A piece of streamed text for sample `sample` (0 unless self-consistency)."""

    text: str
    sample: int = 0


@dataclass
class SampleDone:
    idx: int
    seed: int
    output: str
    answer: str | None
    completion_tokens: int
    finish_reason: str


@dataclass
class GuardFindings:
    """Guard results for one stage ("input" or "output"), before any action is taken."""

    stage: str
    verdict: str
    findings: list[dict]


@dataclass
class Blocked:
    stage: str
    reason: str
    findings: list[dict]


@dataclass
class TurnDone:
    """The finished turn (what was logged is `turn.to_dict()`, docs/ARCHITECTURE.md §6)."""

    turn: "Turn"


Event = TurnStarted | Token | SampleDone | GuardFindings | Blocked | TurnDone
