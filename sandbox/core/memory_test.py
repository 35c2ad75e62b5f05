"""`sandbox memory-test`: does the model still know a fact stated many turns ago? One scripted chat
per memory mode on the same model: N facts, then filler turns until the window has dropped them,
then a question about each fact. The facts and the filler are scripted exchanges, replies
included, so only the memory can carry a fact (a small model otherwise repeats its first reply
every turn, and the fact rides along in its own words). Each question is asked on its own, from
the same memory, so one answer cannot leak into the next. Recall = share of questions whose
reply contains the answer, with a Wilson 95% interval; `reread_share` = share of prompt tokens
evaluated again rather than served from the KV cache (the price of each mode in prompt processing)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sandbox.core.memory import WindowSettings
from sandbox.core.sampling import SamplingParams

# (statement, question, answer that must appear in the reply)
FACTS = [
    ("My cat is called Bartholomew.", "What is my cat called?", "bartholomew"),
    ("I live in the city of Lisbon.", "Which city do I live in?", "lisbon"),
    ("My favourite colour is turquoise.", "What is my favourite colour?", "turquoise"),
    ("My sister's name is Priya.", "What is my sister's name?", "priya"),
    ("I drive a yellow Volvo.", "What make of car do I drive?", "volvo"),
    ("My lucky number is 4821.", "What is my lucky number?", "4821"),
    ("My teacher is called Mr Okonkwo.", "What is my teacher called?", "okonkwo"),
    ("I play the oboe.", "Which instrument do I play?", "oboe"),
]
ACK = "Noted, I will remember that."
FILLER = ["Tell me about rain.", "Tell me about trees.", "Tell me about rivers.", "Tell me about clouds.",
          "Tell me about bread.", "Tell me about stars.", "Tell me about sand.", "Tell me about wind.",
          "Tell me about snow.", "Tell me about grass.", "Tell me about stones.", "Tell me about the moon."]
# A reply to each filler turn: long enough that a few of them push the facts out of a small window.
FILLER_REPLY = ("{topic} is part of everyday life. People have written about it for centuries, in poems, "
                "in science books and in conversation, and there is always more to learn about it.")
MODES = {
    "window": WindowSettings(mode="tokens"),
    "summary": WindowSettings(mode="tokens", summary=True),
    "retrieval-embedding": WindowSettings(mode="retrieval", recall="embedding"),
    "retrieval-bm25": WindowSettings(mode="retrieval", recall="bm25"),
}


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (sensible at 0/n and n/n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class ModeResult:
    mode: str
    recalled: int = 0
    asked: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    dropped_at_question: list[int] = field(default_factory=list)  # facts out of the window when asked
    answers: list[dict] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.recalled / self.asked if self.asked else 0.0

    @property
    def reread_share(self) -> float:
        return (self.prompt_tokens - self.cached_tokens) / self.prompt_tokens if self.prompt_tokens else 0.0

    def to_dict(self) -> dict:
        lo, hi = wilson(self.recalled, self.asked)
        return {"recall": round(self.recall, 4), "ci95": [round(lo, 4), round(hi, 4)],
                "reread_share": round(self.reread_share, 4), "recalled": self.recalled, "asked": self.asked,
                "prompt_tokens": self.prompt_tokens, "cached_tokens": self.cached_tokens,
                "facts_out_of_window": len(self.dropped_at_question), "seconds": round(self.seconds, 1),
                "answers": self.answers}


@dataclass(frozen=True)
class Plan:
    facts: int = 6
    filler: int = 8
    n_ctx: int = 384
    max_tokens: int = 24
    seed: int = 7

    def script(self) -> list[tuple[str, str | None]]:
        """(user text, expected answer or None) for every turn, in order."""
        facts = FACTS[: self.facts]
        out: list[tuple[str, str | None]] = [(s, None) for s, _, _ in facts]
        out += [(FILLER[i % len(FILLER)], None) for i in range(self.filler)]
        out += [(q, a) for _, q, a in facts]
        return out

    @staticmethod
    def reply(text: str) -> str:
        """The scripted reply to a statement or a filler turn."""
        if text in FILLER:
            return FILLER_REPLY.format(topic=text.removeprefix("Tell me about ").rstrip(".").capitalize())
        return ACK


def run(engine, spec, registry, plan: Plan, modes: list[str], progress=None) -> dict[str, ModeResult]:
    """Each mode in its own fresh (unlogged) session on `engine`, greedy decoding, fixed seeds."""
    from sandbox.core.session import Session
    from sandbox.core.turn import TurnRequest

    results: dict[str, ModeResult] = {}
    script = plan.script()
    for mode in modes:
        engine.reset_cache()  # every mode starts cold, so re-read shares compare
        session = Session(engine=engine, spec=spec, registry=registry, store=None, window=MODES[mode])
        r = ModeResult(mode)
        t0 = time.perf_counter()
        for i, (text, answer) in enumerate(script):
            params = SamplingParams(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.1,
                                    max_tokens=plan.max_tokens, seed=plan.seed + i)
            if answer is None:
                session.add_exchange(text, plan.reply(text), params)
                continue
            opts = TurnRequest(text=text, params=params)
            turn = None
            before = session.memory_state()
            for ev in session.turn(opts):
                if type(ev).__name__ == "TurnDone":
                    turn = ev.turn.to_dict()
            session.restore_memory(before)  # the next question sees the same memory, not this answer
            r.prompt_tokens += turn["usage"]["prompt_tokens"]
            r.cached_tokens += turn["usage"]["cached_tokens"]
            if answer is not None:
                fact_idx = r.asked  # fact k was stated at turn k; questions come in the same order
                hit = answer in (turn["output"] or "").lower()
                r.asked += 1
                r.recalled += hit
                if fact_idx in turn["memory"].get("dropped", []):
                    r.dropped_at_question.append(fact_idx)
                r.answers.append({"question": text, "expected": answer, "hit": hit, "output": turn["output"][:200],
                                  "in_window": fact_idx in turn["memory"].get("kept", []),
                                  "recalled": [x["idx"] for x in turn["memory"].get("recalled", [])]})
            if progress:
                progress(mode, i + 1, len(script))
        r.seconds = time.perf_counter() - t0
        results[mode] = r
    return results
