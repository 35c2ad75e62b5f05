"""Prompting strategies: how one turn's prompt is built from the user's text, a template and its
examples. `render()` is pure: no model, no tokens, no I/O.

- zero-shot:        the (templated) input, nothing else.
- few-shot:         enabled examples pinned as user/assistant pairs before the input.
- cot:              the input with the CoT trigger on a new line; examples that carry worked
                    reasoning (`cot`) are pinned with the trigger too (few-shot CoT).
- self-consistency: cot, sampled N times; the answers are extracted and voted on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sandbox.core.answers import DEFAULT_ANSWER_PATTERN, choices_pattern
from sandbox.core.errors import SandboxError
from sandbox.core.limits import RANGES
from sandbox.core.templates import Example, Template

STRATEGIES = ("zero-shot", "few-shot", "cot", "self-consistency")
COT_STRATEGIES = ("cot", "self-consistency")
DEFAULT_COT_TRIGGER = "Let's think step by step."
DEFAULT_SAMPLES = 5
MIN_SAMPLES, MAX_SAMPLES = int(RANGES["samples"].lo), int(RANGES["samples"].hi)
SELF_CONSISTENCY_TEMPERATURE = 0.7
FEW_SHOT_NEEDS_EXAMPLES = "few-shot needs examples: pick a template with [[examples]] or add some"

__all__ = [
    "STRATEGIES", "Example", "ExampleView", "Rendered", "render", "example_views", "examples_of",
    "ensure_sampling_temperature", "check_strategy", "n_samples",
]


@dataclass(frozen=True)
class Rendered:
    strategy: str
    system: str | None  # the template's system prompt; None = the caller's default
    pinned: list[dict]  # messages right after the system prompt, kept warm in the KV cache
    user: str  # the final user message
    n_samples: int = 1
    answer_pattern: str | None = None  # what extraction uses; None = no extraction
    choices: tuple[str, ...] | None = None
    template: str | None = None  # template name, for the log

    def messages(self, default_system: str | None = None) -> list[dict]:
        """The full chat: system (if any), pinned examples, then the user message."""
        system = self.system if self.system is not None else default_system
        head = [{"role": "system", "content": system}] if system else []
        return [*head, *self.pinned, {"role": "user", "content": self.user}]

    @property
    def extracts(self) -> bool:
        return self.answer_pattern is not None

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy, "system": self.system, "pinned": [dict(m) for m in self.pinned],
            "user": self.user, "n_samples": self.n_samples, "answer_pattern": self.answer_pattern,
            "choices": list(self.choices) if self.choices else None, "template": self.template,
        }


@dataclass(frozen=True)
class ExampleView:
    """How one example of the list shows up for a strategy. `messages` is the rendered pair even
    when the example is not used, so the UI can show its text and token cost either way."""

    index: int
    example: Example
    used: bool
    reason: str | None  # why it is not used: "disabled", "no worked reasoning (cot)", "zero-shot uses no examples"
    messages: list[dict] = field(default_factory=list)


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise SandboxError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return strategy


def n_samples(strategy: str, samples: int | None = None) -> int:
    """1, or N for self-consistency (default 5, 2..32). Other strategies ignore `samples`."""
    if strategy != "self-consistency":
        return 1
    if samples is None:
        return DEFAULT_SAMPLES
    if isinstance(samples, bool) or not isinstance(samples, int) or not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise SandboxError(
            f"self-consistency takes {MIN_SAMPLES} to {MAX_SAMPLES} samples, not {samples!r}; set --samples accordingly"
        )
    return samples


def examples_of(template: Template | None) -> list[Example]:
    """A fresh, editable list of the template's examples (all enabled)."""
    return list(template.examples) if template else []


def _trigger(template: Template | None, cot_trigger: str | None) -> str:
    if cot_trigger is not None:
        return cot_trigger
    if template is not None and template.cot_trigger is not None:
        return template.cot_trigger
    return DEFAULT_COT_TRIGGER


def _user_text(strategy: str, template: Template | None, text: str, trigger: str) -> str:
    body = template.format(text) if template is not None else text
    if strategy in COT_STRATEGIES and trigger:
        return f"{body}\n{trigger}"
    return body


def example_views(
    strategy: str,
    template: Template | None,
    examples: list[Example] | None = None,
    cot_trigger: str | None = None,
) -> list[ExampleView]:
    """Each example (the given list, else the template's) as `strategy` would render it."""
    check_strategy(strategy)
    examples = examples_of(template) if examples is None else list(examples)
    trigger = _trigger(template, cot_trigger)
    cot = strategy in COT_STRATEGIES
    views = []
    for i, ex in enumerate(examples):
        reply = ex.cot if cot and ex.cot else ex.output
        messages = [
            {"role": "user", "content": _user_text(strategy, template, ex.input, trigger)},
            {"role": "assistant", "content": reply},
        ]
        if not ex.enabled:
            reason = "disabled"
        elif strategy == "zero-shot":
            reason = "zero-shot uses no examples"
        elif cot and not ex.cot:
            # A bare answer after "think step by step" would teach the model to skip the reasoning.
            reason = "no worked reasoning (cot)"
        else:
            reason = None
        views.append(ExampleView(index=i, example=ex, used=reason is None, reason=reason, messages=messages))
    return views


def render(
    strategy: str,
    template: Template | None,
    user_input: str,
    examples: list[Example] | None = None,
    cot_trigger: str | None = None,
    samples: int | None = None,
) -> Rendered:
    """The prompt for one turn. `examples` (an edited list from the UI) replaces the template's."""
    check_strategy(strategy)
    count = n_samples(strategy, samples)
    views = example_views(strategy, template, examples, cot_trigger)
    pinned = [m for v in views if v.used for m in v.messages]
    if strategy == "few-shot" and not pinned:
        raise SandboxError(FEW_SHOT_NEEDS_EXAMPLES)

    choices = template.answer_choices if template else None
    pattern = template.answer_pattern if template else None
    if pattern is None and choices:
        pattern = choices_pattern(choices)
    if pattern is None and strategy in COT_STRATEGIES:
        pattern = DEFAULT_ANSWER_PATTERN

    return Rendered(
        strategy=strategy,
        system=template.system if template else None,
        pinned=pinned,
        user=_user_text(strategy, template, user_input, _trigger(template, cot_trigger)),
        n_samples=count,
        answer_pattern=pattern,
        choices=choices,
        template=template.name if template else None,
    )


def ensure_sampling_temperature(params):
    """Self-consistency needs varied samples: temperature 0 becomes 0.7, and the note says so.
    Takes SamplingParams (or a dict with "temperature"); returns (params, note or None)."""
    temperature = params["temperature"] if isinstance(params, dict) else params.temperature
    if temperature and temperature > 0:
        return params, None
    note = (
        f"self-consistency needs varied samples: temperature {temperature} raised to "
        f"{SELF_CONSISTENCY_TEMPERATURE}"
    )
    if isinstance(params, dict):
        return {**params, "temperature": SELF_CONSISTENCY_TEMPERATURE}, note
    return replace(params, temperature=SELF_CONSISTENCY_TEMPERATURE), note
