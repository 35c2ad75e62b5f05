"""memory-test, embed and probe on the real bundled model and the real sentence encoder (small sizes)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from sandbox.core import config, memory_test, probe
from sandbox.core.store import Store


def test_wilson_interval_is_sane_at_the_edges_and_in_the_middle():
    assert memory_test.wilson(0, 0) == (0.0, 1.0)
    lo, hi = memory_test.wilson(0, 6)
    assert lo == 0.0 and 0.35 < hi < 0.45  # 0/6 still allows ~39%
    lo, hi = memory_test.wilson(3, 6)
    assert lo == pytest.approx(0.1876, abs=1e-3) and hi == pytest.approx(0.8124, abs=1e-3)


def test_the_script_states_facts_then_filler_then_asks_in_order():
    script = memory_test.Plan(facts=2, filler=3).script()
    assert [a for _, a in script] == [None] * 5 + ["bartholomew", "lisbon"]
    assert script[0][0] == "My cat is called Bartholomew." and script[5][0] == "What is my cat called?"


def test_memory_test_runs_a_mode_on_the_real_model(engine):
    registry = config.load()
    results = memory_test.run(engine, registry.get(None), registry, memory_test.Plan(facts=1, filler=0, max_tokens=8),
                              ["retrieval-bm25"])
    d = results["retrieval-bm25"].to_dict()
    assert d["asked"] == 1 and d["recalled"] in (0, 1) and len(d["ci95"]) == 2
    assert 0 < d["reread_share"] <= 1 and d["prompt_tokens"] > 0


def test_scripted_exchanges_carry_the_facts_and_each_question_leaves_the_memory_as_it_was(engine):
    from sandbox.core.session import Session
    from sandbox.core.turn import TurnRequest

    registry = config.load()
    session = Session(engine=engine, spec=registry.get(None), registry=registry, store=None,
                      window=memory_test.MODES["window"])
    plan = memory_test.Plan(facts=2, filler=1, max_tokens=8)
    for text, answer in plan.script()[:3]:
        assert answer is None
        session.add_exchange(text, plan.reply(text))
    assert [p.output for p in session.history] == [memory_test.ACK, memory_test.ACK, plan.reply("Tell me about rain.")]
    before = session.memory_state()
    prompts = []
    for question in ("What is my cat called?", "Which city do I live in?"):
        for ev in session.turn(TurnRequest(text=question, params=session.defaults.with_(max_tokens=8, seed=1))):
            if type(ev).__name__ == "TurnDone":
                prompts.append(ev.turn.rendered_prompt)
        session.restore_memory(before)
    assert len(session.history) == 3 and session.next_idx == 3
    assert "Bartholomew" in prompts[1] and "What is my cat called?" not in prompts[1]  # one answer never leaks into the next


def test_memory_test_refuses_an_unknown_mode_in_one_sentence():
    r = run_cli("memory-test", "--modes", "window,magic")
    assert r.returncode != 0 and "unknown mode magic" in r.stderr and "Traceback" not in r.stderr


def test_probe_skips_lengths_that_cannot_fit_and_resumes_from_the_log(engine):
    registry = config.load()
    spec = registry.get(None)
    settings = probe.Settings(model=spec.name, n_ctx=engine.n_ctx, max_tokens=20, trials=1)
    with Store.open() as store:
        first = probe.run(engine, spec, registry, store, settings, [48, 100_000], [0, 100])
        assert first.skipped == [100_000]
        assert [(c.length, c.depth, c.trials) for c in first.cells] == [(48, 0, 1), (48, 100, 1)]
        logged = store.turns(first.session_id)
        assert len(logged) == 2 and all(probe.QUESTION in t["prompt"] for t in logged)
        again = probe.run(engine, spec, registry, store, settings, [48], [0, 50, 100])
        assert again.session_id == first.session_id
        assert [c.reused for c in again.cells] == [1, 0, 1]  # only the new depth ran
        assert [c.recalled for c in again.cells][::2] == [c.recalled for c in first.cells]
        assert len(store.turns(first.session_id)) == 3
    doc = again.to_dict()
    assert set(doc["cells"][0]) >= {"length", "depth", "trials", "recalled"}


def test_needle_sits_at_the_asked_depth():
    text, number = probe.haystack(lambda s: len(s.split()), 200, 0, 11, 0)
    assert text.startswith(probe.NEEDLE.format(number=number))
    text, number = probe.haystack(lambda s: len(s.split()), 200, 100, 11, 0)
    assert text.endswith(probe.NEEDLE.format(number=number) + "\n\n" + probe.QUESTION)


def test_embed_json_gives_both_matrices_and_says_how_long_texts_were_cut():
    long_text = "word " * 600
    r = run_cli("embed", "--json", "The cat sat on the mat.", "A kitten rested on the rug.", "Stocks fell today.", long_text)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    for side in ("encoder", "local"):
        m = doc[side]["similarity"]
        assert len(m) == 4 and all(len(row) == 4 for row in m) and doc[side]["model"]
        assert all(abs(m[i][i] - 1) < 1e-3 for i in range(4))
    assert doc["encoder"]["nearest"][0] == 1  # the two cat sentences are each other's neighbours
    assert doc["encoder"]["cut"] == [3] and doc["local"]["cut"] == [3]
    assert any("only the first 254 word pieces" in n for n in doc["notes"])


@pytest.mark.parametrize("args, message", [
    ([], "no texts to compare"),
    (["only one"], "one text has nothing to be similar to"),
    ([f"text {i}" for i in range(1000)], "1000 texts is more than the 100"),
])
def test_embed_bad_input_is_one_sentence(args, message):
    r = run_cli("embed", *args)
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr


def test_embed_reads_one_text_a_line_from_stdin():
    r = run_cli("embed", "-", input="a red apple\na green apple\na fast car\n")
    assert r.returncode == 0, r.stderr
    assert "nearest: 1 → 2" in r.stdout and "all-MiniLM-L6-v2" in r.stdout


async def test_embeddings_screen_draws_both_heatmaps(bundled_model_path):
    from textual.app import App
    from textual.widgets import Static

    from sandbox.tui.screens.embeddings import EmbeddingsScreen

    screen = EmbeddingsScreen(bundled_model_path, "smollm2-135m")
    app = App()
    async with app.run_test(size=(140, 40)) as pilot:
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.result is not None and len(screen.result.texts) == 4
        from rich.console import Console

        console = Console(width=120, record=True)
        console.print(screen.query_one("#emb-encoder-map", Static).content)
        enc = console.export_text()
        assert "→ 2" in enc.splitlines()[1]  # text 1's nearest neighbour is the other cat sentence
        assert screen.query_one("#emb-local", object).border_title.startswith("smollm2-135m")
