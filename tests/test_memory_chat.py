"""Long chats on the real model: the window keeps them inside a small context and the cache warm."""

from __future__ import annotations

import pytest

from sandbox.core.errors import SandboxError
from sandbox.core.memory import WindowSettings
from sandbox.core.sampling import SamplingParams
from sandbox.core.session import Session
from sandbox.core.turn import TurnRequest


def chat(session, lines, max_tokens=12, seed=1):
    turns = []
    for i, line in enumerate(lines):
        request = TurnRequest(text=line, params=SamplingParams(max_tokens=max_tokens, seed=seed + i))
        for ev in session.turn(request):
            pass
        turns.append(ev.turn.to_dict())
    return turns


def test_sixty_turns_at_n_ctx_512_never_overflow_and_reuse_the_cache():
    session = Session.open(n_ctx=512, log=False)
    try:
        turns = chat(session, [f"Tell me one short fact about the number {i}." for i in range(60)])
    finally:
        session.close()
    assert len(turns) == 60
    assert all(t["usage"]["prompt_tokens"] + t["usage"]["completion_tokens"] <= 512 for t in turns)
    assert turns[-1]["memory"]["dropped_turns"] > 0  # the window did slide
    assert all(set(t["memory"]["kept"]).isdisjoint(t["memory"]["dropped"]) for t in turns)
    reused = sum(1 for t in turns[1:] if t["usage"]["cached_tokens"] > 0)
    assert reused >= 0.9 * 59, reused
    prompt = sum(t["usage"]["prompt_tokens"] for t in turns)
    cached = sum(t["usage"]["cached_tokens"] for t in turns)
    assert (prompt - cached) / prompt < 0.35  # evicting in blocks keeps most of the prefix cached


def test_summary_memory_folds_dropped_turns_and_pins_them():
    session = Session.open(n_ctx=384, log=False, window=WindowSettings(summary=True))
    try:
        things = ["sky", "sea", "car", "door", "cup", "kite", "lamp", "pen", "shoe", "boat", "hat", "bike", "fish", "leaf",
                  "book", "vase", "road", "bell"]
        turns = chat(session, [f"Remember fact number {i}: the {w} is blue." for i, w in enumerate(things)], max_tokens=24)
    finally:
        session.close()
    with_summary = [t for t in turns if t["memory"].get("summary")]
    assert with_summary, "no turn was summarised"
    first = with_summary[0]
    assert any("summary memory" in n for n in first["notes"])
    assert "Summary of the earlier conversation" in first["rendered_prompt"]
    assert set(first["memory"]["summary"]["turns"]) == set(first["memory"]["dropped"])
    assert first["memory"]["summary"]["tokens"] > 0


def test_a_prompt_too_large_for_an_empty_window_is_refused_before_generation():
    session = Session.open(n_ctx=256, log=False)
    try:
        with pytest.raises(SandboxError, match="over the 256-token context"):
            for _ in session.turn(TurnRequest(text="word " * 400, params=SamplingParams(max_tokens=16, seed=1))):
                pass
        # and the chat keeps working
        ok = chat(session, ["Hi"], max_tokens=4)
        assert ok[0]["output"] is not None
    finally:
        session.close()
