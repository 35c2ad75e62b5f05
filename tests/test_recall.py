"""Retrieval memory on the real model and the real sentence encoder: dropped turns most like the
new prompt come back into it, labelled, with their scores in the turn's memory object."""

from __future__ import annotations

import json
import sqlite3

import pytest
from rich.console import Console

from conftest import run_cli
from sandbox.core import recall
from sandbox.core.encoder import EncoderUnavailable
from sandbox.core.errors import SandboxError
from sandbox.core.memory import WindowSettings
from sandbox.core.sampling import SamplingParams
from sandbox.core.session import Session
from sandbox.core.turn import TurnRequest

LINES = ["My cat is called Bartholomew.", "Tell me about rain.", "Tell me about trees.", "Tell me about rivers.",
         "Tell me about clouds.", "Tell me about bread.", "What is my cat called?"]


def chat(session, lines, max_tokens=20):
    turns = []
    for i, line in enumerate(lines):
        opts = TurnRequest(text=line, params=SamplingParams(max_tokens=max_tokens, seed=1 + i, temperature=0.0))
        for ev in session.turn(opts):
            pass
        turns.append(ev.turn.to_dict())
    return turns


def test_fts_query_quotes_every_word_so_no_query_syntax_leaks_in():
    assert recall.fts_query('the "cat" AND NEAR( dog*') == '"cat" OR "near" OR "dog"'
    assert recall.fts_query("?? !!") == ""


def test_bm25_ranks_the_turn_that_shares_rare_words_first():
    docs = {0: "User: my cat is called Bartholomew", 1: "User: tell me about rain", 2: "User: tell me about trees"}
    scores = recall.bm25_scores("what is my cat called?", docs)
    assert max(scores, key=scores.get) == 0
    assert 1 not in scores and 2 not in scores
    assert recall.bm25_scores("", docs) == {}


def test_settings_refuse_an_unknown_recall_method_and_a_bad_k():
    with pytest.raises(SandboxError, match="memory recall 'tfidf' is unknown"):
        WindowSettings(mode="retrieval", recall="tfidf").validated()
    with pytest.raises(SandboxError, match="recall_k"):
        WindowSettings(mode="retrieval", recall_k=-1).validated()


@pytest.mark.parametrize("method", ["embedding", "bm25"])
def test_retrieval_recalls_the_dropped_fact_into_the_prompt(method, sandbox_home):
    session = Session.open(n_ctx=256, window=WindowSettings(mode="retrieval", recall=method))
    try:
        turns = chat(session, LINES)
        sid = session.id
    finally:
        session.close()
    last = turns[-1]["memory"]
    assert 0 in last["dropped"]
    assert last["recalled"] and last["recalled"][0]["idx"] == 0, last["recalled"]
    assert last["recall"]["method"] == method and last["recall"]["tokens"] <= last["recall"]["budget"]
    assert recall.LABEL in turns[-1]["rendered_prompt"]
    assert "[turn 0] User: My cat is called Bartholomew." in turns[-1]["rendered_prompt"]
    assert all(t["usage"]["prompt_tokens"] + t["usage"]["completion_tokens"] <= 256 for t in turns)
    assert all(set(m["idx"] for m in t["memory"]["recalled"]) <= set(t["memory"]["dropped"]) for t in turns)
    # What the log keeps is what the turn object said.
    conn = sqlite3.connect(sandbox_home / "sandbox.db")
    memory = json.loads(conn.execute("SELECT memory_json FROM turns WHERE session_id = ? AND idx = 6", [sid]).fetchone()[0])
    assert memory["recalled"] == last["recalled"]
    stored = conn.execute("SELECT count(*) FROM turn_embeddings").fetchone()[0]
    assert stored == (len(set().union(*(t["memory"]["dropped"] for t in turns))) if method == "embedding" else 0)


def test_turn_embeddings_are_stored_once_and_read_back_not_recomputed(sandbox_home):
    from sandbox.core.encoder import shared_encoder
    from sandbox.core.session import PastTurn
    from sandbox.core.store import Store

    session = Session.open(n_ctx=256, window=WindowSettings(mode="retrieval"))
    try:
        chat(session, LINES[:5])
        sid = session.id
    finally:
        session.close()
    store = Store.open()
    try:
        before = store.turn_embeddings(sid, shared_encoder().model_id)
        assert before, "no embeddings were stored"
        enc = shared_encoder()
        enc._cache.clear()
        n = enc.encoded_windows
        fresh = recall.Recaller(store)
        past = [PastTurn(i, "x", "y", 5) for i in sorted(before)]
        got = fresh.recall("cat", past, method="embedding", k=2, budget=500, session_id=sid, count=len)
        assert enc.encoded_windows == n + 1  # only the query was embedded
        assert got.items
    finally:
        store.close()


def test_encoder_unavailable_falls_back_to_bm25_and_says_so(monkeypatch):
    import sandbox.core.encoder as encoder

    def unavailable():
        raise EncoderUnavailable("onnxruntime is missing")

    monkeypatch.setattr(encoder, "shared_encoder", unavailable)
    session = Session.open(n_ctx=256, log=False, window=WindowSettings(mode="retrieval", recall="embedding"))
    try:
        turns = chat(session, LINES)
    finally:
        session.close()
    last = turns[-1]
    assert last["memory"]["recall"]["method"] == "bm25"
    assert any("encoder is unavailable (onnxruntime is missing); recalled by BM25" in n for n in last["notes"])
    assert last["memory"]["recalled"][0]["idx"] == 0


def test_chat_flags_and_a_rerun_reproduce_what_was_recalled():
    r = run_cli("chat", "--json", "--memory", "retrieval", "--recall", "bm25", "--recall-k", "2", "--n-ctx", "256",
                "--max-tokens", "20", "--seed", "1", "--temperature", "0", input="\n".join(LINES) + "\n")
    assert r.returncode == 0, r.stderr
    turns = [json.loads(line) for line in r.stdout.splitlines()]
    assert turns[-1]["memory"]["recalled"][0]["idx"] == 0
    assert turns[-1]["memory"]["settings"]["recall_k"] == 2
    rr = run_cli("replay", turns[0]["session_id"], "--rerun", "--json")
    assert rr.returncode == 0, rr.stderr
    assert json.loads(rr.stdout)["identical"] is True
    bad = run_cli("chat", "--memory", "retrieval", "--recall-k", "99", input="hi\n")
    assert bad.returncode != 0 and "--recall-k: 99 is out of range" in bad.stderr and "Traceback" not in bad.stderr


def test_memory_panel_shows_what_was_recalled_with_scores():
    from sandbox.core.session import PastTurn
    from sandbox.tui.widgets.memory import memory_view

    memory = {"n_ctx": 256, "kept": [2], "dropped": [0, 1], "budget": 100, "window_tokens": 40,
              "settings": {"mode": "retrieval", "recall": "embedding", "recall_k": 3},
              "recalled": [{"idx": 0, "score": 0.6029}], "recall": {"method": "embedding", "budget": 57, "tokens": 30}}
    history = [PastTurn(0, "My cat is called Bartholomew.", "ok", 20), PastTurn(1, "rain", "ok", 20),
               PastTurn(2, "trees", "ok", 20)]
    console = Console(width=80, record=True)
    console.print(memory_view(memory, history))
    text = console.export_text()
    assert "recalled" in text and "#0 (0.60)" in text and "recall (embedding, k=3)" in text
    assert "recalled 0.60 · My cat" in text
