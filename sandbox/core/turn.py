"""What decides a turn and what came back: `TurnRequest` and `Turn` (docs/ARCHITECTURE.md §2.1).

`Session.turn()` takes a `TurnRequest` and its `TurnDone` event carries a `Turn`. `Turn.to_dict()`
is the turn object the CLI prints and the log stores; it carries the resolved request under
"request" (`TurnRequest.to_dict()`), which is what a re-run reads back. Nothing here imports
llama.cpp: both records are plain data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from sandbox.core.errors import SandboxError
from sandbox.core.memory import WindowSettings
from sandbox.core.sampling import SamplingParams
from sandbox.core.templates import Example


@dataclass(frozen=True)
class Regenerates:
    """The logged turn a regenerate generates again: its id, seed and reply (what is compared)."""

    turn_id: str
    seed: int | None
    output: str

    def to_dict(self) -> dict:
        return {"turn_id": self.turn_id, "seed": self.seed, "output": self.output}


@dataclass(frozen=True)
class TurnRequest:
    """Everything that decides a turn. The logged request is resolved (the seed picked, the memory
    settings in force, the text as redacted), so `from_dict(logged)` runs the same turn again."""

    text: str = ""
    strategy: str = "zero-shot"
    template: str | None = None  # a name from prompts/ or a path to a .toml
    samples: int | None = None  # self-consistency sample count (default from the strategy)
    system: str | None = None  # overrides the template's system prompt
    examples: tuple[Example, ...] | None = None  # an edited example list (None: the template's own)
    cot_trigger: str | None = None  # overrides the template's chain-of-thought trigger
    params: SamplingParams = field(default_factory=SamplingParams)
    ignore_eos: bool = False
    memory: WindowSettings | None = None  # None: the session's settings (the logged request has them)
    guards_off: frozenset[str] = frozenset()  # guard categories switched off for this turn
    logprobs: int = 0  # > 0: log each reply token's log-probability and this many alternatives
    grammar: str | None = None  # GBNF text the reply must follow (the text, not a file name)
    json_schema: dict | None = None  # the reply must be JSON of this schema (the guard checks it too)
    constrain: bool = False  # the grammar/schema came from the template's own output format
    beams: int = 0  # > 0: deterministic beam search of this width instead of sampling
    length_penalty: float = 1.0  # beam score = logprob sum / tokens ** length_penalty
    history: bool = True  # False: the model sees no earlier turns and this one is not remembered
    regenerates: Regenerates | None = None  # the logged turn this one generates again

    def __post_init__(self):
        if self.examples is not None and not isinstance(self.examples, tuple):
            object.__setattr__(self, "examples", tuple(self.examples))
        if not isinstance(self.guards_off, frozenset):
            object.__setattr__(self, "guards_off", frozenset(self.guards_off))

    def replace(self, **changes) -> "TurnRequest":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {
            "text": self.text, "strategy": self.strategy, "template": self.template, "samples": self.samples,
            "system": self.system,
            "examples": [e.to_dict() for e in self.examples] if self.examples is not None else None,
            "cot_trigger": self.cot_trigger, "params": self.params.to_dict(), "ignore_eos": self.ignore_eos,
            "memory": dataclasses.asdict(self.memory) if self.memory is not None else None,
            "guards_off": sorted(self.guards_off), "logprobs": self.logprobs, "grammar": self.grammar,
            "json_schema": self.json_schema, "constrain": self.constrain, "beams": self.beams,
            "length_penalty": self.length_penalty, "history": self.history,
            "regenerates": self.regenerates.to_dict() if self.regenerates is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict, notices: list[str] | None = None) -> "TurnRequest":
        """The request of a logged turn. A field this sandbox does not know (a newer one wrote it)
        is left out and a field the log lacks (an older one wrote it) takes its default; each is
        one sentence in `notices`. A value of the wrong kind is a SandboxError naming the field."""
        if not isinstance(d, dict):
            raise SandboxError(f"the logged request is not an object (got {type(d).__name__})")
        notes = notices if notices is not None else []
        names = [f.name for f in fields(cls)]
        for key in d:
            if key not in names:
                notes.append(f"the logged request has a field this sandbox does not know: {key} = {_short(d[key])} "
                             "(a newer sandbox wrote it); it is left out")
        defaults = cls()
        values: dict[str, Any] = {}
        for name in names:
            if name not in d:
                notes.append(f"the logged request has no {name} field (an older sandbox wrote it); "
                             f"using the default, {_short(_plain(getattr(defaults, name)))}")
                continue
            try:
                values[name] = _read_field(name, d[name], notes)
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                raise SandboxError(f"the logged request's {name} = {_short(d[name])} cannot be read ({e})") from None
        return cls(**values)


def _read_field(name: str, value: Any, notes: list[str]) -> Any:
    if value is None:
        if name in ("params", "text", "strategy", "ignore_eos", "guards_off", "logprobs", "constrain", "beams",
                    "length_penalty", "history"):
            raise ValueError("it must not be null")
        return None
    if name == "params":
        known = {f.name for f in fields(SamplingParams)}
        for key in value:
            if key not in known:
                notes.append(f"the logged request's params has a field this sandbox does not know: {key} "
                             f"= {_short(value[key])}; it is left out")
        return SamplingParams(**{k: v for k, v in value.items() if k in known})
    if name == "examples":
        return tuple(Example(**e) for e in value)
    if name == "memory":
        known = {f.name for f in fields(WindowSettings)}
        for key in value:
            if key not in known:
                notes.append(f"the logged request's memory has a field this sandbox does not know: {key}; it is left out")
        return WindowSettings(**{k: v for k, v in value.items() if k in known})
    if name == "guards_off":
        if isinstance(value, str):
            raise ValueError("it must be a list of categories")
        return frozenset(value)
    if name == "regenerates":
        return Regenerates(turn_id=value["turn_id"], seed=value.get("seed"), output=value.get("output") or "")
    kinds = {"text": str, "strategy": str, "template": str, "system": str, "cot_trigger": str, "grammar": str,
             "json_schema": dict, "ignore_eos": bool, "constrain": bool, "history": bool, "samples": int,
             "logprobs": int, "beams": int, "length_penalty": (int, float)}
    kind = kinds[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {getattr(kind, '__name__', 'a number')}")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def request_differences(before: dict, after: dict) -> list[str]:
    """The request fields two logged requests differ in, dotted for nested ones ("params.temperature")."""
    out = []
    for key in dict.fromkeys([*before, *after]):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key != "json_schema":
            out += [f"{key}.{k}" for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
        else:
            out.append(key)
    return out


def reconstructed_request(turn: dict, remembered: set[int] = frozenset()) -> TurnRequest:
    """The request of a turn logged before requests were stored, rebuilt from its result as
    sandbox did then. It knows the strategy, template, examples, system prompt, CoT trigger,
    params, seed, ignore-EOS, memory settings and guards off; not grammar, JSON schema,
    --constrain, beams, length penalty or logprobs (those turns re-run as plain sampling).
    `remembered`: idxs later turns saw in their window (a turn they saw was part of the chat)."""
    strategy = turn.get("strategy") or "zero-shot"
    samples = None
    if strategy == "self-consistency":
        n = len(turn.get("samples") or [])
        samples = n if n >= 2 else None
    memory = turn.get("memory") or {}
    seen = list(memory.get("kept") or []) + list(memory.get("dropped") or [])
    # A turn that saw earlier turns, or that later turns saw, was part of the conversation;
    # otherwise it was stateless (eval, compare) and must stay so.
    history = turn["history"] if "history" in turn else (bool(seen) or turn["idx"] in remembered or "kept" not in memory)
    settings = memory.get("settings")
    known = {f.name for f in fields(WindowSettings)}
    examples = turn.get("examples")  # logged when the user edited the template's examples
    return TurnRequest(
        text=turn.get("prompt") or "", strategy=strategy, template=turn.get("template"), samples=samples,
        system=turn.get("system"), params=SamplingParams.from_dict(turn.get("params") or {}),
        ignore_eos=bool(turn.get("ignore_eos")), history=history,
        memory=WindowSettings(**{k: v for k, v in settings.items() if k in known}) if isinstance(settings, dict) else None,
        guards_off=frozenset((turn.get("guard") or {}).get("disabled") or ()), cot_trigger=turn.get("cot_trigger"),
        examples=tuple(Example(**e) for e in examples) if examples is not None else None,
    )


# ---- what came back ------------------------------------------------------------------------------------


class _Unset:
    """A key the turn object leaves out (not asked for), as opposed to one that is null."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass
class Sample:
    seed: int | None
    output: str
    answer: str | None
    completion_tokens: int
    finish_reason: str | None = None
    logprob: float | None = None  # beam search: the beam's log-probability
    score: float | None = None  # beam search: logprob / tokens ** length_penalty
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as they were

    def to_dict(self) -> dict:
        d = {"seed": self.seed, "output": self.output, "answer": self.answer,
             "completion_tokens": self.completion_tokens, "finish_reason": self.finish_reason}
        if self.logprob is not None or self.score is not None:
            d.update(logprob=self.logprob, score=self.score)
        return {**d, **self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> "Sample":
        names = {f.name for f in fields(cls)} - {"extra"}
        return cls(seed=d.get("seed"), output=d.get("output") or "", answer=d.get("answer"),
                   completion_tokens=d.get("completion_tokens") or 0, finish_reason=d.get("finish_reason"),
                   logprob=d.get("logprob"), score=d.get("score"),
                   extra={k: v for k, v in d.items() if k not in names})


@dataclass
class Usage:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    exact: bool = True  # False: a served model without a tokenizer endpoint, counts estimated
    cold_start: bool = False  # the turn began from an empty KV cache (a re-run starts it cold too)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if self.exact:
            d.pop("exact")  # the contract's keys; "exact": false only where a count is estimated
        return d


@dataclass
class Timings:
    load_ms: float = 0.0
    ttft_ms: float = 0.0
    total_ms: float = 0.0
    tokens_per_s: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Turn:
    """One finished turn. `to_dict()` is the turn object of docs/ARCHITECTURE.md §6; `from_dict`
    reads one back (from the log or `--json` output), keeping keys it does not know in `extra`."""

    session_id: str
    turn_id: str
    idx: int
    created_at: str
    model: str
    strategy: str
    template: str | None = None
    prompt: str = ""  # the user text as logged (redacted)
    system: str | None = None
    rendered_prompt: str = ""
    output: str = ""
    answer: str | None = None
    samples: list[Sample] = field(default_factory=list)
    votes: dict | None = None
    vote: dict | None = None
    params: dict = field(default_factory=dict)  # the sampling params used (+ decoding, beams for beam search)
    seed: int | None = None
    ignore_eos: bool = False
    history: bool = True
    cot_trigger: str | None = None
    regenerated_from: str | None = None
    same_seed: bool | None = None
    identical_to_original: bool | None = None
    examples: list[dict] | None = None
    usage: Usage = field(default_factory=Usage)
    timings: Timings = field(default_factory=Timings)
    cost: dict = field(default_factory=dict)
    energy: dict | None = None
    memory: dict = field(default_factory=dict)
    guard: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    blocked: bool = False
    finish_reason: str = "stop"
    perplexity: Any = UNSET  # float | None when logprobs were asked for
    logprobs: Any = UNSET  # list of token entries, or None when withheld
    constraint: Any = UNSET  # {"grammar", "json_schema"} for a constrained turn
    request: TurnRequest | None = None  # what decided it (absent in turns logged before it was stored)
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as they were

    @property
    def cancelled(self) -> bool:
        return self.finish_reason == "cancelled"

    @property
    def error(self) -> str | None:
        """A served model's failure, in one sentence (the turn is kept, finish_reason "error")."""
        return self.extra.get("error")

    @property
    def beam_search(self) -> bool:
        return self.params.get("decoding") == "beam"

    def to_dict(self) -> dict:
        d: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("extra",):
                continue
            value = getattr(self, f.name)
            if f.name in ("regenerated_from", "same_seed", "identical_to_original") and self.regenerated_from is None:
                continue
            if value is UNSET:
                continue
            if f.name == "request":
                if value is None:
                    continue
                value = value.to_dict()
            elif f.name == "samples":
                value = [s.to_dict() for s in value]
            elif f.name in ("usage", "timings"):
                value = value.to_dict()
            d[f.name] = value
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Turn":
        names = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {k: v for k, v in d.items() if k in names}
        values["samples"] = [Sample.from_dict(s) for s in d.get("samples") or [] if isinstance(s, dict)]
        usage, timings = d.get("usage") or {}, d.get("timings") or {}
        values["usage"] = Usage(**{k: usage.get(k) or 0 for k in ("prompt_tokens", "cached_tokens", "completion_tokens")},
                                exact=usage.get("exact", True) is not False, cold_start=usage.get("cold_start") is True)
        values["timings"] = Timings(**{k: timings.get(k) or 0 for k in ("load_ms", "ttft_ms", "total_ms", "tokens_per_s")})
        for key in ("params", "cost", "memory", "guard"):
            values[key] = d.get(key) or {}
        values["notes"] = list(d.get("notes") or [])
        if isinstance(d.get("request"), dict):
            values["request"] = TurnRequest.from_dict(d["request"])
        values.setdefault("session_id", "")
        values.setdefault("turn_id", "")
        values.setdefault("idx", 0)
        values.setdefault("created_at", "")
        values.setdefault("model", "")
        values.setdefault("strategy", "zero-shot")
        return cls(**values, extra={k: v for k, v in d.items() if k not in names})
