"""Core behind the TUI's live panels: the window's gauge, token pieces, memory settings, the
empty-input window and example costs (the real model where the tokenizer matters)."""

from __future__ import annotations

import pytest

from sandbox.core.errors import SandboxError
from sandbox.core.memory import SlidingWindow, WindowSettings
from sandbox.core.templates import Example
from sandbox.core.tokens import encoding
from sandbox.core.tokens.pieces import TokenPiece, piece_of, pieces


def test_a_windows_gauge_is_its_parts_against_n_ctx():
    win = SlidingWindow().select([100, 100], n_ctx=1000, fixed_tokens=100, prompt_tokens=50, reserve_output=250)
    g = win.gauge()
    assert (g.n_ctx, g.system, g.window, g.prompt, g.reserved) == (1000, 100, 200, 50, 250)
    assert g.left == 400 and g.level == "ok"
    full = SlidingWindow().select([600], n_ctx=1000, fixed_tokens=100, prompt_tokens=50, reserve_output=250)
    assert full.window_tokens == 600 and full.gauge().level == "full" and full.gauge().left == 0


def test_pieces_show_each_tokens_text_and_bytes_of_partial_characters():
    assert piece_of(7, b" the") == TokenPiece(7, " the")
    assert piece_of(8, b"\xe4\xbd") == TokenPiece(8, "‹e4 bd›", partial=True)
    enc = encoding("cl100k_base")
    shown, total = pieces(enc, "Unfamiliarization")
    assert total == len(shown) >= 3
    assert "".join(p.text for p in shown) == "Unfamiliarization"
    assert [p.id for p in shown] == enc.tokenize("Unfamiliarization")
    first, total = pieces(enc, "one two three four", limit=2)
    assert len(first) == 2 and total == 4



@pytest.fixture
def session(engine):
    from sandbox.core import config
    from sandbox.core.session import Session

    registry = config.load()
    return Session(engine=engine, spec=registry.get(None), registry=registry, store=None)


def opts(**kw):
    from sandbox.core.sampling import SamplingParams
    from sandbox.core.turn import TurnRequest

    return TurnRequest(params=SamplingParams(max_tokens=64, seed=1), **kw)


@pytest.mark.model
def test_local_pieces_join_back_to_the_text(engine):
    text = "Unfamiliarization, naïve café 你好 🙂\n  indented"
    shown, total = pieces(engine.tokenizer, text)
    assert total == len(engine.tokenizer.tokenize(text)) == len(shown)
    whole = b"".join(engine.tokenizer.piece(p.id) for p in shown)
    assert whole.decode("utf-8") == text
    assert any(p.partial for p in shown) or "你" in "".join(p.text for p in shown)


@pytest.mark.model
def test_window_settings_apply_validated_and_choose_the_window_afresh(session):
    from sandbox.core.session import PastTurn

    session.history = [PastTurn(i, f"question {i}", f"answer {i}", 10) for i in range(4)]
    session.window.first = 3  # an earlier eviction
    with pytest.raises(SandboxError, match="last_k"):
        session.set_window_settings(WindowSettings(mode="turns", last_k=0))
    assert session.window.first == 3, "a refused setting changes nothing"
    session.set_window_settings(WindowSettings(mode="turns", last_k=2))
    prep = session.prepare(opts(text="next"))
    assert [session.history[i].idx for i in prep.window.kept] == [2, 3]
    memory = session.memory_of(prep)
    assert memory["kept"] == [2, 3] and memory["dropped"] == [0, 1]
    assert memory["settings"] == {"mode": "turns", "last_k": 2, "low_water": 0.5, "reserve_output": None,
                                  "summary": False, "recall": "embedding", "recall_k": 3}
    same = session.window
    session.set_window_settings(WindowSettings(mode="turns", last_k=2))
    assert session.window is same, "the same settings keep the window (and its cache-friendly start)"
    session.set_window_settings(WindowSettings(mode="tokens", reserve_output=100))
    prep = session.prepare(opts(text="next"))
    assert prep.window.kept == [0, 1, 2, 3] and prep.window.reserve_output == 100


@pytest.mark.model
def test_an_empty_input_still_has_a_window_and_a_gauge(session):
    from sandbox.core.session import PastTurn

    with pytest.raises(SandboxError, match="empty"):
        session.prepare(opts(text="  "))
    session.history = [PastTurn(0, "hi", "hello", 12)]
    prep = session.prepare_empty(opts(system="You are terse."))
    g = prep.window.gauge()
    assert prep.window.kept == [0] and g.window == 12 and g.system > 0 and g.reserved == 64
    assert g.prompt < 5, "nothing typed: only the chat template's own tokens"


@pytest.mark.model
def test_examples_cost_what_a_past_turn_with_their_text_costs(session):
    from sandbox.core.strategies import example_views

    examples = [Example("Sam has 2 pens and buys 3 more.", "5"),
                Example("A much longer question about many, many things at once?", "no", enabled=False)]
    views = example_views("few-shot", None, examples)
    costs = session.example_tokens(views)
    assert costs[0] == session._turn_tokens(examples[0].input, examples[0].output)
    assert costs[1] > costs[0], "disabled examples are priced too, so the user sees what enabling costs"
