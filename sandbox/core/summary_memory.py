"""Optional summary memory: when turns leave the window, the local model folds them into a short
running summary that stays pinned right after the system prompt (off by default).

The summary is written greedily (temperature 0), so a re-run with the same model writes the same
summary. Its prompt is the `memory-summary` template in prompts/ (a user template of that name
replaces it)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sandbox.core import templates
from sandbox.core.sampling import SamplingParams

TEMPLATE = "memory-summary"
MAX_TOKENS = 128
LABEL = "Summary of the earlier conversation (turns no longer in the window):"


@dataclass
class Summary:
    text: str = ""
    turns: tuple[int, ...] = ()  # idx of the turns it covers
    tokens: int = 0
    ms: float = 0.0

    def pinned(self) -> list[dict]:
        """The messages the model sees: a clearly labelled user note and a short acknowledgement."""
        if not self.text:
            return []
        return [{"role": "user", "content": f"{LABEL} {self.text}"}, {"role": "assistant", "content": "Noted."}]

    def to_dict(self) -> dict:
        return {"text": self.text, "turns": list(self.turns), "tokens": self.tokens, "ms": round(self.ms, 1)}


def update(engine, previous: Summary, dropped: list, cancel=None) -> tuple[Summary, str | None]:
    """Fold the `dropped` past turns (PastTurn) into `previous`. Returns the new summary and a note
    for the user when something went wrong (the previous summary is then kept)."""
    tpl = templates.load(TEMPLATE)
    lines = []
    if previous.text:
        lines.append(f"Summary so far: {previous.text}")
    lines.append("Turns to add:")
    for t in dropped:
        lines += [f"User: {t.user}", f"Assistant: {t.output}"]
    # A user's own template may carry worked examples; they are used when the context has room.
    shots = [m for ex in tpl.examples if ex.enabled for m in (
        {"role": "user", "content": tpl.format(ex.input)}, {"role": "assistant", "content": ex.output})]
    system = [{"role": "system", "content": tpl.system}] if tpl.system else []
    ask = [{"role": "user", "content": tpl.format("\n".join(lines))}]
    t0 = time.perf_counter()
    params = SamplingParams(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.1,
                            max_tokens=MAX_TOKENS, seed=0)
    for messages in (system + shots + ask, system + ask):
        prompt = engine.render_chat(messages)
        budget_left = engine.n_ctx - engine.count(prompt)
        if budget_left >= MAX_TOKENS // 2:
            break
    else:
        return previous, "summary memory skipped: the turns to summarise do not fit the context"
    stats = engine.generate(prompt, params.with_(max_tokens=min(MAX_TOKENS, budget_left - 1)), cancel=cancel).run()
    text = " ".join(stats.samples[0].text.split())
    if not text:
        return previous, "summary memory: the model returned nothing; the previous summary was kept"
    covered = tuple(previous.turns) + tuple(t.idx for t in dropped)
    return Summary(text, covered, engine.count(text), (time.perf_counter() - t0) * 1000), None
