"""`sandbox probe`: where in the context does a fact get lost? A needle-in-a-haystack test: a
"special magic number" sentence placed at depths 0–100% inside filler text of several lengths,
then a question about it; recall by depth x length.

Every trial is a logged turn of one probe session per settings (model, n_ctx, reply length,
seed, trials); a re-run with the same settings finds that session and skips the trials already
in it (a trial is identified by its exact prompt, which the settings fix), so a cancelled probe
resumes where it stopped. Decoding is greedy; the needle's number comes from a fixed seed."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

from sandbox.core.sampling import SamplingParams

QUESTION = "What is the special magic number mentioned in the text above? Reply with the number only."
NEEDLE = "The special magic number is {number}."
FILLER = [
    "The village market opened early, and the baker stacked warm loaves beside the jars of honey.",
    "A gentle wind moved across the fields, bending the tall grass toward the river.",
    "Children walked to school along the old stone path, talking about the coming holidays.",
    "In the library, the clock ticked slowly while readers turned the pages of heavy books.",
    "The fisherman mended his nets on the pier and watched the gulls circle over the harbour.",
    "Clouds gathered over the hills in the afternoon, but the rain never came.",
    "At the edge of the forest, a small cottage kept its lamps lit long into the evening.",
    "The train crossed the valley on a long bridge, its windows flashing in the sun.",
    "A gardener planted rows of beans and carrots, then watered them with a tin can.",
    "The museum's quiet halls held paintings of ships, mountains and forgotten kings.",
]
DEFAULT_DEPTHS = (0, 25, 50, 75, 100)
VERSION = 1  # bump when the prompt construction changes: old logged trials no longer match


@dataclass(frozen=True)
class Settings:
    model: str
    n_ctx: int
    max_tokens: int = 20  # the 135M model restates the question before the number (one token a digit)
    seed: int = 11
    trials: int = 2

    def key(self) -> str:
        raw = json.dumps({**vars(self), "version": VERSION}, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def title(self) -> str:
        return f"probe {self.key()} ({self.model}, n_ctx {self.n_ctx})"


@dataclass
class Cell:
    length: int
    depth: int
    trials: int = 0
    recalled: int = 0
    reused: int = 0  # trials read back from the log instead of run

    def to_dict(self) -> dict:
        return {"length": self.length, "depth": self.depth, "trials": self.trials, "recalled": self.recalled,
                "reused": self.reused}


@dataclass
class ProbeResult:
    settings: Settings
    session_id: str | None
    cells: list[Cell] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # lengths that cannot fit the context

    def to_dict(self) -> dict:
        return {"model": self.settings.model, "n_ctx": self.settings.n_ctx, "session_id": self.session_id,
                "settings": vars(self.settings), "cells": [c.to_dict() for c in self.cells],
                "skipped_lengths": self.skipped}


def number_for(seed: int, length: int, depth: int, trial: int) -> str:
    return str(random.Random(f"{seed}:{length}:{depth}:{trial}").randrange(10_000, 100_000))


def haystack(count, length: int, depth: int, seed: int, trial: int) -> tuple[str, str]:
    """(the user message, the needle's number): filler sentences up to about `length` tokens
    (counted by `count`) with the needle at `depth`% of them."""
    rng = random.Random(f"{seed}:{trial}:{length}")
    sentences, used = [], 0
    while used < length:
        s = FILLER[rng.randrange(len(FILLER))]
        sentences.append(s)
        used += count(s + " ")
    number = number_for(seed, length, depth, trial)
    at = round(len(sentences) * depth / 100)
    sentences.insert(at, NEEDLE.format(number=number))
    return " ".join(sentences) + "\n\n" + QUESTION, number


def default_lengths(n_ctx: int) -> list[int]:
    return [n_ctx // 8, n_ctx // 4, n_ctx // 2, n_ctx - n_ctx // 8]


def fits(engine, length: int, max_tokens: int) -> bool:
    """Room for the filler, the needle, the question, the chat template and the reply."""
    overhead = engine.count(engine.render_chat([{"role": "user", "content": NEEDLE + " " + QUESTION}])) + 16
    return length + overhead + max_tokens <= engine.n_ctx


def _find_session(store, title: str) -> str | None:
    for s in store.sessions(limit=None, search=title):
        if s.get("title") == title:
            return s["session_id"]
    return None


def run(engine, spec, registry, store, settings: Settings, lengths: list[int], depths: list[int],
        progress=None, cancel=None) -> ProbeResult:
    from sandbox.core.session import Session
    from sandbox.core.turn import TurnRequest

    result = ProbeResult(settings, None)
    result.skipped = [n for n in lengths if not fits(engine, n, settings.max_tokens)]
    todo = [n for n in lengths if n not in result.skipped]
    done: dict[str, str] = {}  # prompt -> output, from the log
    session = Session(engine=engine, spec=spec, registry=registry, store=store)
    session.title = settings.title()
    if store is not None:
        sid = _find_session(store, session.title)
        if sid:
            logged = store.turns(sid)
            session.id, session._created = sid, True
            session.next_idx = 1 + max((t["idx"] for t in logged), default=-1)
            done = {t["prompt"]: t["output"] or "" for t in logged
                    if t.get("finish_reason") != "cancelled" and (t.get("params") or {}).get("max_tokens") == settings.max_tokens}
    result.session_id = session.id if store is not None else None
    total = len(todo) * len(depths) * settings.trials
    step = 0
    for length in todo:
        for depth in depths:
            cell = Cell(length, depth)
            result.cells.append(cell)
            for trial in range(settings.trials):
                if cancel is not None and cancel.is_set():
                    return result
                text, number = haystack(engine.count, length, depth, settings.seed, trial)
                output = done.get(text)
                if output is None:
                    params = SamplingParams(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                                            max_tokens=settings.max_tokens, seed=settings.seed + trial)
                    turn = None
                    for ev in session.turn(TurnRequest(text=text, params=params, history=False), cancel=cancel):
                        if type(ev).__name__ == "TurnDone":
                            turn = ev.turn.to_dict()
                    if turn is None or turn["finish_reason"] == "cancelled":
                        return result
                    output = turn["output"] or ""
                else:
                    cell.reused += 1
                cell.trials += 1
                cell.recalled += number in output
                step += 1
                if progress:
                    progress(step, total, cell)
    return result
